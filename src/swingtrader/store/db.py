"""`Store`: one engine, migrations applied on open, short transactions per unit of work."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import DatabaseError, OperationalError

from swingtrader.store import tables as t

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(Exception):
    """The store cannot be opened or migrated (corrupt file, unreachable server). Names the location."""


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


class Store:
    """The service's database. SQLite (WAL) by default, any SQLAlchemy URL otherwise.

    `open()` checks the file is a database and applies Alembic migrations up to head.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self.fence: Callable[[Connection], None] | None = None  # the instance lease's check (store/lease.py)
        self.fence_dbapi: Callable[[Any], None] | None = None  # the same, on a raw DB-API connection

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, migrate_in_child: bool = False) -> Store:
        """Open the store and bring its schema to head; `migrate_in_child` runs Alembic in a short-lived child
        process (`python -m swingtrader.store`), so a long-running caller never loads it."""
        store = cls(url)
        store._check_readable()
        if migrate and store._revision() != _head_revision():
            if migrate_in_child:
                store._migrate_in_child()
            else:
                store.migrate()
        return store

    def _migrate_in_child(self) -> None:
        env = dict(os.environ, SWINGTRADER_STORE_URL=self.url)  # not argv: a URL may carry a password
        proc = subprocess.run([sys.executable, "-m", "swingtrader.store"], env=env, capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            raise StoreError(lines[-1] if lines else f"cannot migrate the store at {self.location}")

    @property
    def location(self) -> str:
        """Where the data lives, without credentials (safe to print)."""
        return self.engine.url.render_as_string(hide_password=True)

    def _check_readable(self) -> None:
        if self.engine.dialect.name == "sqlite":
            path = self.engine.url.database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if Path(path).exists() and Path(path).stat().st_size > 0:
                    with open(path, "rb") as fh:
                        if fh.read(16) != b"SQLite format 3\x00":
                            raise StoreError(f"{path} is not a SQLite database (corrupt or wrong file)")
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except (DatabaseError, OperationalError) as exc:
            raise StoreError(f"cannot open the store at {self.location}: {exc.orig}") from None

    def migrate(self) -> None:
        """Apply every Alembic revision up to head (idempotent). `open` calls it only for a store that is not
        at head, recognised without importing Alembic, which keeps the service's start-up light."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = None
        try:
            with self.engine.begin() as conn:
                _migration_lock(conn)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except (DatabaseError, OperationalError) as exc:
            raise StoreError(f"cannot migrate the store at {self.location}: {exc.orig}") from None

    def _revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except (DatabaseError, OperationalError):
            return None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on error. Its first statement is the lease's
        fence when one is installed (`store/lease.py`)."""
        with self.engine.begin() as conn:
            if self.fence is not None:
                self.fence(conn)
            yield conn

    def connect(self) -> Connection:
        return self.engine.connect()

    # small key/value state shared by the service parts (pause flag, sim virtual time, heartbeat)
    def get_state(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.service_state.c.value).where(t.service_state.c.key == key)).first()
        return default if row is None else row[0]

    def set_state(self, key: str, value: Any, now: datetime, conn: Connection | None = None) -> None:
        if conn is None:
            with self.begin() as own:
                self.set_state(key, value, now, own)
            return
        updated = conn.execute(
            t.service_state.update().where(t.service_state.c.key == key).values(value=value, updated_at=now)
        )
        if updated.rowcount == 0:
            conn.execute(t.service_state.insert().values(key=key, value=value, updated_at=now))

    def dispose(self) -> None:
        self.engine.dispose()


def _migration_lock(conn: Connection) -> None:
    """Serialise processes that migrate one store at once (two `run`s started together): the engine's own
    write lock (SQLite BEGIN IMMEDIATE) or a transaction-scoped advisory lock (PostgreSQL). The second one then
    finds the schema at head and does nothing."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(582901)")


def _head_revision() -> str:
    """The newest revision in `migrations/versions` (the one no other revision names as `down_revision`)."""
    revisions: dict[str, str | None] = {}
    for f in (_MIGRATIONS / "versions").glob("*.py"):
        text = f.read_text()
        rev = re.search(r"^revision = ['\"](\w+)['\"]", text, re.M)
        down = re.search(r"^down_revision = ['\"](\w+)['\"]", text, re.M)
        if rev:
            revisions[rev.group(1)] = down.group(1) if down else None
    heads = set(revisions) - {d for d in revisions.values() if d}
    if len(heads) != 1:
        raise StoreError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
