"""`Store`: one engine, migrations applied on open, short transactions per unit of work.

Storage faults are typed: a write lock held by another process past the retry budget raises `StoreBusy`; a full
disk raises `StoreFull` and marks the store `degraded` (no new orders) until a later write succeeds with space
to spare.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_T = TypeVar("_T")


class StoreError(Exception):
    """The store cannot be opened or migrated (corrupt file, unreachable server, written by a newer
    swingtrader), or a write failed. Names the location. Commands print it as `error: ...` and exit 2."""


class StoreBusy(StoreError):
    """Another process held the store's write lock past the retry budget: the unit of work did not happen.
    The heartbeat skips a beat; a task fails and runs again at its next slot."""


class StoreFull(StoreError):
    """The disk under the store is full: the write did not happen and the store is `degraded` (the order
    manager places no new orders) until a write succeeds again with free space; the service alerts."""


_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


class Store:
    """The service's database. SQLite (WAL) by default, any SQLAlchemy URL otherwise.

    `open()` checks the file is a database (and its pages, `PRAGMA quick_check`), refuses one written by a
    newer swingtrader and applies Alembic migrations up to head. `begin()` takes SQLite's write lock up front,
    waiting `busy_timeout_s` per attempt and retrying with backoff for at most `retry_budget_s` in all.
    """

    def __init__(self, url: str, *, busy_timeout_s: float = 5.0, retry_budget_s: float = 60.0,
                 min_free_bytes: int = 8 << 20) -> None:
        self.url = url
        self.busy_timeout_s = busy_timeout_s
        self.retry_budget_s = retry_budget_s
        self.min_free_bytes = min_free_bytes
        self.engine: Engine = _make_engine(url, busy_timeout_s)
        self._degraded: str | None = None
        self.fence: Callable[[Connection], None] | None = None  # the instance lease's check (store/lease.py)
        self.fence_dbapi: Callable[[Any], None] | None = None  # the same, on a raw DB-API connection
        self._unit: Connection | None = None  # the open `unit()` transaction, used by `_unit_thread` only
        self._unit_thread: int | None = None
        self._unit_end: list[Callable[[], None]] = []  # `at_unit_end` writers

    @property
    def degraded(self) -> str | None:
        """Why writes are failing for lack of space (no new orders while set), or None when healthy."""
        return self._degraded

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, migrate_in_child: bool = False) -> Store:
        """Open the store and bring its schema to head; `migrate_in_child` runs Alembic in a short-lived child
        process (`python -m swingtrader.store`), so a long-running caller never loads it."""
        store = cls(url)
        store._check_readable()
        store.check_integrity()
        revision = store._revision()
        if revision is not None and revision not in _revisions():
            raise StoreError(f"the store at {store.location} was written by a newer swingtrader (revision "
                             f"{revision}); upgrade swingtrader to use it")
        if migrate and revision != _head_revision():
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
                try:
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the store's directory {Path(path).parent}: "
                                     f"{exc.strerror}") from None
                if Path(path).exists() and Path(path).stat().st_size > 0:
                    with open(path, "rb") as fh:
                        if fh.read(16) != b"SQLite format 3\x00":
                            raise StoreError(f"{path} is not a SQLite database (corrupt or wrong file)")
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except (DatabaseError, OperationalError) as exc:
            raise StoreError(f"cannot open the store at {self.location}: {exc.orig}") from None

    def check_integrity(self) -> None:
        """Raise `StoreError` if SQLite's `PRAGMA quick_check` finds a damaged page (other databases: no-op)."""
        if self.engine.dialect.name != "sqlite":
            return
        try:
            with self.engine.connect() as conn:
                problems = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check").fetchmany(3)]
        except DBAPIError as exc:
            raise StoreError(f"the store at {self.location} is corrupt: {exc.orig}") from None
        if problems != ["ok"]:
            lines = [line for p in problems for line in str(p).splitlines() if line and not line.startswith("***")]
            raise StoreError(f"the store at {self.location} is corrupt ({lines[0] if lines else problems[0]}, ...); "
                             "restore it from a backup or move it away to start afresh")

    def migrate(self) -> None:
        """Apply every Alembic revision up to head (idempotent). `open` calls it only for a store that is not
        at head, recognised without importing Alembic, which keeps the service's start-up light."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection"] = None
        try:
            with self.begin() as conn:  # on SQLite an explicit BEGIN: the DDL commits with the revision or not at all
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

    @property
    def in_unit(self) -> bool:
        """True on the thread whose `unit()` is open: its writes commit together when the unit ends."""
        return self._unit is not None and self._unit_thread == threading.get_ident()

    @contextmanager
    def unit(self) -> Iterator[None]:
        """One transaction around many units of work (a simulated session day): until it ends, `begin()` on this
        thread is a savepoint inside it (rolled back alone on error) and `connect()` reads through it, so the
        thread sees its own writes. Committed when the body returns; rolled back whole when it raises or the
        process dies. Other threads keep their own transactions, waiting for the write lock it holds. Nested
        calls join the open unit."""
        if self.in_unit:
            yield
            return
        conn = self._retry(self._open_write)
        try:
            if self.fence is not None:
                self.fence(conn)
            self._unit, self._unit_thread = conn, threading.get_ident()
            yield
            for write in self._unit_end:
                write()
            self._unit, self._unit_thread = None, None
            conn.commit()
        except DBAPIError as exc:
            typed = self.typed(exc)
            if typed is exc:
                raise
            raise typed from exc
        finally:
            self._unit, self._unit_thread = None, None
            conn.close()  # rolls back what was not committed
        self._wrote()

    def at_unit_end(self, write: Callable[[], None]) -> None:
        """Call `write` inside every `unit()` just before it commits: for a writer that keeps changes in memory
        while a unit is open (`in_unit`) and writes each changed row once, at the unit's end."""
        self._unit_end.append(write)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on error. On SQLite the write lock is taken
        first (`BEGIN IMMEDIATE`), retried within the budget (`StoreBusy` past it); a full disk raises
        `StoreFull`. The body runs once: it is never retried. Its first statement is the lease's fence when one
        is installed (`store/lease.py`). Inside this thread's `unit()` it is a savepoint of the unit instead."""
        if self.in_unit:
            assert self._unit is not None
            with _savepoint(self._unit):
                yield self._unit
            return
        conn = self._retry(self._open_write)
        try:
            if self.fence is not None:
                self.fence(conn)
            yield conn
            conn.commit()
        except DBAPIError as exc:
            typed = self.typed(exc)
            if typed is exc:
                raise
            raise typed from exc
        finally:
            conn.close()  # rolls back what was not committed
        self._wrote()

    def _open_write(self) -> Connection:
        """A connection inside a begun transaction (holding SQLite's write lock)."""
        conn = self.engine.connect()
        try:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite emits no BEGIN of its own before this
            else:
                conn.begin()
        except BaseException:
            conn.close()
            raise
        return conn

    def retrying(self, write: Callable[[], _T]) -> _T:
        """Run `write` (a whole unit of work on a connection of its own, e.g. the ledger's raw batch insert),
        again while the store is locked, with backoff, within `retry_budget_s` and 12 attempts; `StoreBusy` past
        that, `StoreFull` for a full disk. `write` must roll back when it fails, so that running it again is safe."""
        result = self._retry(write)
        self._wrote()
        return result

    def _retry(self, attempt: Callable[[], _T]) -> _T:
        started = time.monotonic()
        for n in range(12):
            try:
                result = attempt()
            except (DBAPIError, sqlite3.Error) as exc:
                typed = self.typed(exc)
                pause = min(2.0, 0.05 * 2**n)
                if typed is exc:
                    raise
                if not isinstance(typed, StoreBusy) or time.monotonic() - started + pause > self.retry_budget_s:
                    raise typed from exc
                log.warning("store %s is locked by another process; retrying in %.2f s", self.location, pause)
                time.sleep(pause)
            else:
                return result
        raise StoreBusy(f"the store at {self.location} stayed locked by another process")

    def typed(self, exc: Exception) -> Exception:
        """`StoreBusy` / `StoreFull` for a lock or full disk (marking the store degraded); else `exc` itself."""
        orig = getattr(exc, "orig", exc)
        code = getattr(orig, "sqlite_errorcode", None)
        if code is None:
            return exc
        if code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return StoreBusy(f"the store at {self.location} is locked by another process: {orig}")
        if code & 0xFF == _SQLITE_FULL:
            reason = f"the disk under the store at {self.location} is full: {orig}"
            if self._degraded is None:
                log.error("%s: no new orders until space returns", reason)
            self._degraded = reason
            return StoreFull(reason)
        return exc

    def _wrote(self) -> None:
        """After a committed write: leave the degraded state once the disk has `min_free_bytes` again."""
        if self._degraded is None:
            return
        path = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        if path and path != ":memory:" and shutil.disk_usage(Path(path).parent).free < self.min_free_bytes:
            return
        log.warning("the store at %s is writable again: orders resume", self.location)
        self._degraded = None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads, closed on exit; inside this thread's `unit()`, the unit's own (left open).
        Its reads are one snapshot (from the first read on), so figures read together are from one moment: on
        SQLite a deferred `BEGIN` (pysqlite would run each read on its own), on PostgreSQL `REPEATABLE READ`."""
        if self.in_unit:
            assert self._unit is not None
            yield self._unit
            return
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN")
            else:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _savepoint(conn: Connection) -> Iterator[None]:
    """A SQLite savepoint on the driver's connection: released on success, rolled back to on error. Straight on
    the driver, as SQLAlchemy's `begin_nested` costs more than the write it guards (thousands a simulated day)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("SAVEPOINT unit_write")
    try:
        yield
    except BaseException:
        raw.execute("ROLLBACK TO unit_write")
        raw.execute("RELEASE unit_write")
        raise
    raw.execute("RELEASE unit_write")


def _revisions() -> set[str]:
    """Every revision this code knows (in `migrations/versions`)."""
    return set(_revision_graph())


def _migration_lock(conn: Connection) -> None:
    """Serialise processes that migrate one store at once (two `run`s started together): on SQLite `begin()`
    already holds the write lock (BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock. The
    second one then finds the schema at head and does nothing."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(582901)")


def _head_revision() -> str:
    """The newest revision in `migrations/versions` (the one no other revision names as `down_revision`)."""
    revisions = _revision_graph()
    heads = set(revisions) - {d for d in revisions.values() if d}
    if len(heads) != 1:
        raise StoreError(f"migrations must have exactly one head, found {sorted(heads)}")
    return heads.pop()


def _revision_graph() -> dict[str, str | None]:
    """{revision: down_revision} of the files in `migrations/versions`."""
    revisions: dict[str, str | None] = {}
    for f in (_MIGRATIONS / "versions").glob("*.py"):
        text = f.read_text()
        rev = re.search(r"^revision = ['\"](\w+)['\"]", text, re.M)
        down = re.search(r"^down_revision = ['\"](\w+)['\"]", text, re.M)
        if rev:
            revisions[rev.group(1)] = down.group(1) if down else None
    return revisions


def _make_engine(url: str, busy_timeout_s: float) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def inserted_id(result: Any) -> int:
    """The primary key of the row an INSERT just wrote (`result` is its `CursorResult`)."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no primary key")
    return int(key[0])
