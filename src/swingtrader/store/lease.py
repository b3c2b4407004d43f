"""The instance lease: one owner per store, a single `instance_lease` row.

Contract:
- `acquire` takes the row in one transaction: absent -> inserted; expired -> taken over with a new token;
  live -> `LeaseHeld` naming the holder. Expiry is judged on one clock, never by comparing two hosts' wall
  clocks: on PostgreSQL every time in the row is the server's `now()`; on SQLite a row that looks expired by
  this host's wall clock is only taken over once this host's monotonic clock has seen its heartbeat stand
  still for a whole expiry (a wall clock ahead, or one that jumped, can refuse but never take over).
- Every write transaction of the owner runs `fence(conn)` first (`Store.begin` calls it; the ledger's bulk
  path calls `fence_dbapi`): one `UPDATE ... WHERE token = <ours>` that renews the expiry. It is the first
  statement, so on SQLite it takes the write lock as BEGIN IMMEDIATE would, and on PostgreSQL it locks the
  row, so a take-over waits for the transaction or the transaction sees the new token. Zero rows (another
  process demonstrably holds the lease), or no renewal even tried for a whole expiry (a process frozen by
  SIGSTOP wakes up), raises `LeaseLost` and the transaction rolls back: a process that lost its lease writes
  nothing. Our own expiry is judged on this host's monotonic clock, so a wall-clock jump changes nothing.
- `keep_renewed` renews on a thread of its own, whatever the rest of the process is doing (a task stuck in
  broker calls and retries cannot starve it). A renewal that fails on a store fault (locked, disk full) is
  tried again on the next beat and the lease is kept: the fence, not our expiry, decides when the store
  answers again.
- Take-over is a compare-and-swap on the row as read (token and expiry), so two takers cannot both win and
  an owner that renewed in between keeps its lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from swingtrader.clock import IST, Clock
from swingtrader.store import tables as t
from swingtrader.store.db import Store
from swingtrader.store.types import UtcDateTime

log = logging.getLogger(__name__)

_L = t.instance_lease
_UTC = UtcDateTime()
_FENCE_DBAPI = {
    "qmark": "UPDATE instance_lease SET heartbeat_at = ?, expires_at = ? WHERE id = 1 AND token = ?",
    "pyformat": "UPDATE instance_lease SET heartbeat_at = %s, expires_at = %s WHERE id = 1 AND token = %s",
    "format": "UPDATE instance_lease SET heartbeat_at = %s, expires_at = %s WHERE id = 1 AND token = %s",
}


@dataclass(frozen=True)
class LeaseInfo:
    """The lease row as stored."""

    token: str
    host: str
    pid: int
    mode: str
    control_url: str | None
    started_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def describe(self, now: datetime) -> str:
        age = max(0, int((now - self.heartbeat_at).total_seconds()))
        return (f"held by pid {self.pid} on host {self.host} since {self.started_at.astimezone(IST):%H:%M:%S} IST, "
                f"heartbeat {age} s ago")

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


class LeaseHeld(Exception):
    """Another process holds a live lease on this store."""

    def __init__(self, holder: LeaseInfo, now: datetime) -> None:
        super().__init__(f"the store is in use: {holder.describe(now)}")
        self.holder = holder


class LeaseLost(Exception):
    """This process no longer holds the lease (expired or taken over): it must stop writing."""


def current(store: Store) -> LeaseInfo | None:
    """The lease row, live or not; None if no process ever took it (or the last one released it)."""
    with store.connect() as conn:
        row = conn.execute(select(_L).where(_L.c.id == 1)).first()
    return None if row is None else _info(row)


class Lease:
    """This process's claim on a store. `acquire`, then `install` the fence; `release` on a clean stop."""

    def __init__(self, store: Store, clock: Clock, *, mode: str, expiry: timedelta, control_url: str | None = None,
                 host: str | None = None, pid: int | None = None,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
                 ) -> None:
        self._store, self._clock, self._monotonic, self._sleep = store, clock, monotonic, sleep
        self.mode, self.expiry, self.control_url = mode, expiry, control_url
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.token = uuid.uuid4().hex
        self._expires: datetime | None = None  # the expiry last written; None while not held
        self._tried = 0.0  # monotonic time of the last renewal attempt (every fence is one)
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        return self._expires is not None

    def acquire(self) -> LeaseInfo | None:
        """Take the lease; returns the previous holder when an expired lease was taken over.
        Raises `LeaseHeld` while another process's lease is live."""
        for _ in range(5):  # a lost compare-and-swap re-reads the row
            with self._store.connect() as conn:
                row = conn.execute(select(_L).where(_L.c.id == 1)).first()
                now = self._store_now(conn)
            held = None if row is None else _info(row)
            if held is not None and held.token != self.token and not self._expired(held, now):
                raise LeaseHeld(held, now)
            try:
                with self._store.engine.begin() as conn:
                    now = self._store_now(conn)
                    values = {"token": self.token, "host": self.host, "pid": self.pid, "mode": self.mode,
                              "control_url": self.control_url, "started_at": now, "heartbeat_at": now,
                              "expires_at": now + self.expiry}
                    if held is None:
                        conn.execute(_L.insert().values(id=1, **values))
                    elif conn.execute(_L.update().where(_L.c.id == 1, _L.c.token == held.token,
                                                        _L.c.heartbeat_at == held.heartbeat_at,
                                                        _L.c.expires_at == held.expires_at)
                                      .values(**values)).rowcount != 1:
                        continue
            except IntegrityError:  # another process inserted the row first
                continue
            with self._lock:
                self._expires, self._tried = now + self.expiry, self._monotonic()
            if held is not None and held.token != self.token:
                log.warning("took over the store's lease from pid %s on host %s (heartbeat %s)", held.pid, held.host,
                            held.heartbeat_at.astimezone(IST).strftime("%H:%M:%S IST"))
                return held
            return None
        held = current(self._store)
        raise LeaseHeld(held, self._clock.now()) if held else LeaseLost("could not take the lease")

    def _expired(self, held: LeaseInfo, now: datetime) -> bool:
        """Whether `held` may be taken over; raises `LeaseHeld` if its heartbeat moves while we watch it."""
        if held.live(now):
            return False
        if self._store.engine.dialect.name != "sqlite":
            return True  # written and judged on the server's clock
        wait = self.expiry.total_seconds()
        log.info("the store's lease (pid %s on host %s) looks expired; watching its heartbeat for %.1f s before "
                 "taking it over", held.pid, held.host, wait)
        started, poll = self._monotonic(), min(max(wait / 10, 0.05), 1.0)
        while self._monotonic() - started < wait:
            self._sleep(poll)
            seen = current(self._store)
            if seen is None:
                return True
            if (seen.token, seen.heartbeat_at, seen.expires_at) != (held.token, held.heartbeat_at, held.expires_at):
                raise LeaseHeld(seen, self._clock.now())  # its holder is alive: it renewed while we watched
        return True

    def _store_now(self, conn: Connection) -> datetime:
        """The time to write and judge the row by: the server's `now()` on PostgreSQL, this host's clock on
        SQLite (one machine's file)."""
        if conn.dialect.name == "postgresql":
            value: datetime = conn.exec_driver_sql("SELECT now()").scalar_one()
            return value
        return self._clock.now()

    def install(self) -> None:
        """Fence every write transaction of the store (`Store.begin`) with this lease."""
        self._store.fence, self._store.fence_dbapi = self.fence, self.fence_dbapi

    def fence(self, conn: Connection) -> None:
        """The fencing check, first statement of a write transaction; renews the lease. Raises `LeaseLost`."""
        self._due()
        now = self._store_now(conn)
        expires = now + self.expiry
        n = conn.execute(_L.update().where(_L.c.id == 1, _L.c.token == self.token)
                         .values(heartbeat_at=now, expires_at=expires)).rowcount
        self._confirm(n, expires)

    def fence_dbapi(self, dbapi_conn: Any) -> None:
        """`fence` on a DB-API connection (the ledger's bulk path), in its open transaction."""
        self._due()
        style = self._store.engine.dialect.paramstyle
        cur = dbapi_conn.cursor()
        try:
            if self._store.engine.dialect.name == "postgresql":
                cur.execute("SELECT now()")
                now = cur.fetchone()[0]
            else:
                now = self._clock.now()
            expires = now + self.expiry
            cur.execute(_FENCE_DBAPI[style], (_UTC.process_bind_param(now, None),
                                              _UTC.process_bind_param(expires, None), self.token))
            n = cur.rowcount
        finally:
            cur.close()
        self._confirm(n, expires)

    def publish(self, control_url: str | None) -> None:
        """Record where this owner takes requests (`control_server.py`). Raises `LeaseLost`."""
        self.control_url = control_url
        with self._store.engine.begin() as conn:
            self.fence(conn)
            conn.execute(_L.update().where(_L.c.id == 1, _L.c.token == self.token).values(control_url=control_url))

    def renew(self) -> None:
        """Renew the lease in its own transaction, one attempt. Raises `LeaseLost`, or `StoreBusy`/`StoreFull`
        (`store/db.py`) for a locked store or a full disk."""
        try:
            with self._store.engine.begin() as conn:
                self.fence(conn)
        except DBAPIError as exc:
            typed = self._store.typed(exc)
            if typed is exc:
                raise
            raise typed from exc

    def keep_renewed(self, every: float, on_lost: Callable[[LeaseLost], None] | None = None) -> Callable[[], None]:
        """Renew the lease every `every` seconds on a daemon thread, independent of what the owner is doing.
        A store fault (locked, full, unreachable) is logged once and tried again on the next beat; the lease is
        kept. The thread ends when the lease is lost (`on_lost` hears why; the owner's next write raises
        `LeaseLost` anyway) or when the returned function is called; that function waits for it."""
        stop = threading.Event()

        def loop() -> None:
            failing = False
            while not stop.wait(every):
                try:
                    self.renew()
                except LeaseLost as exc:
                    log.error("lease not renewed: %s", exc)
                    if on_lost is not None:
                        on_lost(exc)
                    return
                except Exception as exc:  # a store fault: weather, the next beat tries again
                    self._attempted()
                    if not failing:
                        log.error("lease not renewed, trying again every %.1f s (the store failed: %s)", every,
                                  str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                    failing = True
                else:
                    if failing:
                        log.warning("lease renewed again: the store answers")
                    failing = False

        thread = threading.Thread(target=loop, name="lease-renewal", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join()

        return halt

    def release(self) -> None:
        """Give the lease up (clean stop). A lease already lost is left to its new holder."""
        if self._store.fence == self.fence:
            self._store.fence = self._store.fence_dbapi = None
        with self._lock:
            self._expires = None
        with self._store.engine.begin() as conn:
            conn.execute(_L.delete().where(_L.c.id == 1, _L.c.token == self.token))

    def release_quietly(self) -> None:
        """Give the lease up while a thread of this process may still write (a task abandoned at stop): the
        fence stays installed, so its writes raise `LeaseLost`. A store fault is logged, not raised (the lease
        then expires by itself)."""
        with self._lock:
            self._expires = None
        try:
            with self._store.engine.begin() as conn:
                conn.execute(_L.delete().where(_L.c.id == 1, _L.c.token == self.token))
        except Exception as exc:  # a locked or full store at shutdown
            log.error("the store's lease was not released (it expires by itself): %s", str(exc).splitlines()[0])

    def _attempted(self) -> None:
        """Count a renewal that failed before its fence ran (the store unreachable) as an attempt."""
        with self._lock:
            if self._expires is not None:
                self._tried = self._monotonic()

    def _due(self) -> None:
        """A renewal attempt. `LeaseLost` if not held, or if no attempt was made for a whole expiry (by this
        host's monotonic clock): the process was frozen and another may have taken over."""
        tried = self._monotonic()
        with self._lock:
            if self._expires is None or tried - self._tried >= self.expiry.total_seconds():
                self._expires = None
                raise LeaseLost("this process's lease expired (was it frozen?); it writes nothing more")
            self._tried = tried

    def _confirm(self, rows: int, expires: datetime) -> None:
        with self._lock:
            if rows != 1:
                self._expires = None
                raise LeaseLost("another process took the store's lease over; this one writes nothing more")
            self._expires = expires


def _info(row: Any) -> LeaseInfo:
    return LeaseInfo(token=row.token, host=row.host, pid=row.pid, mode=row.mode, control_url=row.control_url,
                     started_at=row.started_at, heartbeat_at=row.heartbeat_at, expires_at=row.expires_at)
