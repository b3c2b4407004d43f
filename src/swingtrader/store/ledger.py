"""The task ledger: each `(task, trading_date, slot)` is claimed once and its outcome recorded.

States and transitions (one place):
    (absent) -> running -> succeeded | failed
    (absent) -> missed | skipped                 (decided without running)
    running  -> running                          (a run interrupted by a crash is re-claimed and re-run)
    failed | missed | skipped -> running         (only by an explicit manual re-run)
A succeeded slot is never claimed again.

Intraday slots (the per-minute and hourly monitors, about 380 a day) are written once, after they ran
(`record_run`, buffered): claim and outcome together. A crash before the row is written leaves no row, so the
slot is run again on restart, exactly what a left-over `running` row would cause; these tasks start by
reconciling with the broker and only ever move a target down, so a re-run is safe and changes nothing that
was already done. Daily tasks are claimed first, so a running one is visible.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from swingtrader.store import tables as t
from swingtrader.store.db import Store, inserted_id
from swingtrader.store.types import UtcDateTime

# The hot path (hundreds of thousands of rows in a simulated year): a plain statement, typed by the columns.
BATCH = 240  # buffered intraday rows (see `Ledger.record_run`)
_INSERT_RUN = text(
    "INSERT INTO task_runs (task, trading_date, slot, status, scheduled_at, started_at, finished_at, attempts,"
    " error, detail) VALUES (:task, :day, :slot, :status, :scheduled_at, :started_at, :finished_at, 1,"
    " :error, :detail)"
).bindparams(
    bindparam("day", type_=t.task_runs.c.trading_date.type),
    bindparam("scheduled_at", type_=t.task_runs.c.scheduled_at.type),
    bindparam("started_at", type_=t.task_runs.c.started_at.type),
    bindparam("finished_at", type_=t.task_runs.c.finished_at.type),
    bindparam("detail", type_=t.task_runs.c.detail.type),
)

_INSERT_RUN_SQLITE = (
    "INSERT OR IGNORE INTO task_runs (task, trading_date, slot, status, scheduled_at, started_at, finished_at,"
    " attempts, error, detail) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
)


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MISSED = "missed"
    SKIPPED = "skipped"


FINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.MISSED, RunStatus.SKIPPED})
RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.MISSED, RunStatus.SKIPPED})


class SlotTaken(Exception):
    """The slot already has a final outcome that does not allow another run."""

    def __init__(self, task: str, trading_date: date, slot: str, status: str) -> None:
        super().__init__(f"{task} {trading_date} {slot} is already {status}")
        self.status = status


@dataclass(frozen=True)
class Claim:
    run_id: int
    task: str
    trading_date: date
    slot: str
    resumed: bool


class Ledger:
    """Claims and outcomes of task runs, persisted in the store."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._raw: Any = None  # DB-API connection of the SQLite path, opened on first use
        self._pending: list[dict[str, Any]] = []  # intraday rows not written yet
        self._lock = threading.RLock()  # the scheduler and a dashboard-triggered run may both write

    def claim(
        self, task: str, trading_date: date, slot: str, scheduled_at: datetime, now: datetime, *, manual: bool = False
    ) -> Claim:
        """Claim a slot before running it. Raises `SlotTaken` if it has a final outcome
        (a manual re-run may take a failed, missed or skipped slot)."""
        self.flush()
        with self._store.begin() as conn:
            row = self._row(conn, task, trading_date, slot)
            if row is None:
                res = conn.execute(
                    t.task_runs.insert().values(
                        task=task,
                        trading_date=trading_date,
                        slot=slot,
                        status=RunStatus.RUNNING,
                        scheduled_at=scheduled_at,
                        started_at=now,
                        attempts=1,
                    )
                )
                return Claim(inserted_id(res), task, trading_date, slot, resumed=False)
            status = RunStatus(row.status)
            if status is RunStatus.SUCCEEDED or (status in RETRYABLE and not manual):
                raise SlotTaken(task, trading_date, slot, status)
            conn.execute(
                t.task_runs.update()
                .where(t.task_runs.c.id == row.id)
                .values(
                    status=RunStatus.RUNNING,
                    started_at=now,
                    finished_at=None,
                    error=None,
                    attempts=row.attempts + 1,
                )
            )
            return Claim(row.id, task, trading_date, slot, resumed=status is RunStatus.RUNNING)

    def finish(
        self, claim: Claim, status: RunStatus, now: datetime, *, error: str | None = None, detail: Any = None
    ) -> None:
        self.flush()
        if status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED):
            raise ValueError(f"a claimed run ends succeeded, failed or skipped, not {status}")
        with self._store.begin() as conn:
            conn.execute(
                t.task_runs.update()
                .where(t.task_runs.c.id == claim.run_id)
                .values(status=status, finished_at=now, error=error, detail=detail)
            )

    def record_run(
        self, task: str, trading_date: date, slot: str, status: RunStatus, scheduled_at: datetime,
        started_at: datetime, finished_at: datetime, *, error: str | None = None, detail: Any = None,
    ) -> None:
        """Record a finished intraday slot (see the module docstring); a slot that already has a row keeps it.

        Rows are buffered and written together by `flush`, which every other ledger call, a full buffer
        (`BATCH` rows), and the scheduler before it waits on a live clock all trigger. A crash loses at most
        the buffered rows, whose slots then run again, which these tasks allow. (A simulated year writes
        about 92,000 such rows; one transaction each would be most of its time.)"""
        with self._lock:
            self._pending.append({
                "task": task, "day": trading_date, "slot": slot, "status": status.value,
                "scheduled_at": scheduled_at, "started_at": started_at, "finished_at": finished_at, "error": error,
                "detail": detail,
            })
            if len(self._pending) >= BATCH:
                self.flush()

    def flush(self) -> None:
        """Write the buffered intraday rows in one transaction."""
        with self._lock:
            self._write(self._pending)
            self._pending = []

    def discard(self) -> None:
        """Drop the buffered rows unwritten: the store's unit their slots' writes belonged to was rolled back
        (`Store.unit`), so those slots run again."""
        with self._lock:
            self._pending = []

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self._store.engine.dialect.name != "sqlite":
            for params in rows:
                try:
                    with self._store.begin() as conn:
                        conn.execute(_INSERT_RUN, params)
                except IntegrityError:
                    pass
            return
        utc = UtcDateTime()  # the column type's own conversion, as the SQL layer applies it
        values = [
            (r["task"], r["day"].isoformat(), r["slot"], r["status"], utc.process_bind_param(r["scheduled_at"], None),
             utc.process_bind_param(r["started_at"], None), utc.process_bind_param(r["finished_at"], None),
             r["error"], None if r["detail"] is None else json.dumps(r["detail"]))
            for r in rows
        ]
        if self._store.in_unit:  # inside the store's unit, whose connection holds the write lock
            with self._store.begin() as conn:
                conn.exec_driver_sql(_INSERT_RUN_SQLITE, values)
            return
        if self._raw is None:
            self._raw = self._store.engine.raw_connection()
        raw = self._raw

        def write() -> None:
            cursor = raw.cursor()
            try:
                if self._store.fence_dbapi is not None:  # the instance lease, in this transaction (store/lease.py)
                    self._store.fence_dbapi(raw)
                cursor.executemany(_INSERT_RUN_SQLITE, values)
                raw.commit()
            except BaseException:
                raw.rollback()
                raise
            finally:
                cursor.close()

        self._store.retrying(write)

    def close(self) -> None:
        """Write what is buffered and give back the connection the SQLite path holds."""
        self.flush()
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def record_unrun(
        self, task: str, trading_date: date, slot: str, status: RunStatus, scheduled_at: datetime, now: datetime,
        reason: str,
    ) -> bool:
        """Record a slot as missed or skipped without running it. False if the slot already has a row."""
        self.flush()
        if status not in (RunStatus.MISSED, RunStatus.SKIPPED):
            raise ValueError("only missed or skipped can be recorded without running")
        with self._store.begin() as conn:
            if self._row(conn, task, trading_date, slot) is not None:
                return False
            conn.execute(
                t.task_runs.insert().values(
                    task=task, trading_date=trading_date, slot=slot, status=status, scheduled_at=scheduled_at,
                    finished_at=now, attempts=0, error=reason,
                )
            )
            return True

    def record_unrun_many(self, rows: list[tuple[str, date, str, RunStatus, datetime, str]], now: datetime) -> None:
        """Bulk form of `record_unrun` for coalesced monitor slots (rows that exist are left alone)."""
        self.flush()
        if not rows:
            return
        with self._store.begin() as conn:
            for task, day, slot, status, scheduled_at, reason in rows:
                if self._row(conn, task, day, slot) is None:
                    conn.execute(
                        t.task_runs.insert().values(
                            task=task, trading_date=day, slot=slot, status=status, scheduled_at=scheduled_at,
                            finished_at=now, attempts=0, error=reason,
                        )
                    )

    def statuses(self, trading_date: date) -> dict[tuple[str, str], RunStatus]:
        """`{(task, slot): status}` for one trading date."""
        self.flush()
        with self._store.connect() as conn:
            rows = conn.execute(
                select(t.task_runs.c.task, t.task_runs.c.slot, t.task_runs.c.status).where(
                    t.task_runs.c.trading_date == trading_date
                )
            ).all()
        return {(r.task, r.slot): RunStatus(r.status) for r in rows}

    def last_scheduled_at(self) -> datetime | None:
        """The latest scheduled time of any slot with a row (where a resumed simulation picks up)."""
        self.flush()
        with self._store.connect() as conn:
            return conn.execute(select(func.max(t.task_runs.c.scheduled_at))).scalar()

    def counts(self) -> dict[str, dict[str, int]]:
        """`{task: {status: n}}` over the whole ledger."""
        self.flush()
        with self._store.connect() as conn:
            rows = conn.execute(
                select(t.task_runs.c.task, t.task_runs.c.status, func.count()).group_by(
                    t.task_runs.c.task, t.task_runs.c.status
                )
            ).all()
        out: dict[str, dict[str, int]] = {}
        for task, status, n in rows:
            out.setdefault(task, {})[status] = n
        return out

    @staticmethod
    def _row(conn: Connection, task: str, trading_date: date, slot: str) -> Row[Any] | None:
        return conn.execute(
            select(t.task_runs).where(
                t.task_runs.c.task == task, t.task_runs.c.trading_date == trading_date, t.task_runs.c.slot == slot
            )
        ).first()
