"""Prometheus metrics read from the store at scrape time, so every counter equals the ledger exactly.

`build_registry(store, broker_calls, clock)` returns a registry with:
- `swingtrader_task_runs_total{task,outcome}`: ledger rows with a final status (succeeded|failed|missed|skipped);
  `swingtrader_task_runs_in_progress{task}` counts rows still running;
- `swingtrader_task_duration_seconds{task}`: histogram of finished runs (started_at to finished_at);
- `swingtrader_task_last_success_timestamp_seconds{task}`;
- `swingtrader_logins_total` and `swingtrader_session_events_total{event}` from session_events;
- `swingtrader_broker_calls_total{operation,outcome}` from the in-process `BrokerCallCounter`;
- from the read model (`account_view`): `swingtrader_orders{status}`, `swingtrader_open_orders`,
  `swingtrader_open_positions`, `swingtrader_realised_pnl_rupees`, `swingtrader_equity_rupees`,
  `swingtrader_paused`, `swingtrader_heartbeat_timestamp_seconds`; and `swingtrader_store_up`;
- `swingtrader_calendar_sessions_left` once the running service published the calendar's reach;
- `process_*` (memory, CPU, open files) from prometheus-client's process collector.
A store that cannot be read gives `swingtrader_store_up 0` and the in-process metrics, not an error.

A year of ledger is ~100k rows, so the ledger's aggregates are cached for all but its newest rows and the
cache is checked on every scrape against a fingerprint of the cached rows (row count, total attempts,
finished count), which any claim, re-run or finish changes: the figures stay exact at a fraction of the cost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Connection, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from swingtrader.account_view import AccountView, account_in
from swingtrader.clock import Clock, LiveClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.state import ServiceState

log = logging.getLogger(__name__)

FINAL_OUTCOMES = ("succeeded", "failed", "missed", "skipped")
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
LIVE_ROWS = 5000  # the newest ledger rows, aggregated on every scrape


class BrokerCallCounter:
    """Counts broker calls by operation and outcome in this process (thread-safe). The service calls
    `record("place_order", "ok")`, `record("orders", "SessionExpired")`, ... around each broker call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def record(self, operation: str, outcome: str) -> None:
        with self._lock:
            key = (operation, outcome)
            self._counts[key] = self._counts.get(key, 0) + 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


def build_registry(store: Store, broker_calls: BrokerCallCounter | None = None, clock: Clock | None = None
                   ) -> CollectorRegistry:
    """A fresh registry (no global state) with the store collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, broker_calls or BrokerCallCounter(), clock or LiveClock()))
    ProcessCollector(registry=registry)
    return registry


class StoreCollector(Collector):
    """Reads the store on every `collect()` in one short read transaction."""

    def __init__(self, store: Store, broker_calls: BrokerCallCounter, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._broker_calls = broker_calls
        self._ledger = _LedgerCache()

    def describe(self) -> list[Metric]:
        return []  # the metric set depends on the store's contents; never read it at registration

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "swingtrader_broker_calls", "Broker calls by operation and outcome", labels=["operation", "outcome"]
        )
        for (operation, outcome), n in sorted(self._broker_calls.snapshot().items()):
            calls.add_metric([operation, outcome], n)
        yield calls
        up = GaugeMetricFamily("swingtrader_store_up", "1 if the store could be read for this scrape")
        try:
            with self._store.connect() as conn:
                account = account_in(conn, self._store, self._clock.now())
                families = [*_ledger_metrics(self._ledger.read(conn)), *_account_metrics(account),
                            *_calendar_metrics(ServiceState(self._store).calendar(conn))]
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the store: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _calendar_metrics(reach: dict[str, str] | None) -> Iterator[Metric]:
    """`swingtrader_calendar_sessions_left`: sessions the exchange calendar's data still covers (0 when idle at
    its end); absent until the running service published it."""
    if reach and reach.get("sessions_left", "").isdigit():
        yield GaugeMetricFamily("swingtrader_calendar_sessions_left",
                                "Trading sessions left before the exchange calendar's holiday data ends",
                                value=int(reach["sessions_left"]))


@dataclass
class _TaskAgg:
    """One task's ledger figures over some rows (additive, so cached and live parts merge)."""

    statuses: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    seconds: float = 0.0
    finished: int = 0
    last_success: datetime | None = None

    def merged(self, other: _TaskAgg) -> _TaskAgg:
        statuses = dict(self.statuses)
        for status, n in other.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
        lasts = [x for x in (self.last_success, other.last_success) if x is not None]
        return _TaskAgg(statuses, [a + b for a, b in zip(self.buckets, other.buckets, strict=True)],
                        self.seconds + other.seconds, self.finished + other.finished, max(lasts, default=None))


class _LedgerCache:
    """Aggregates of ledger rows with `id <= upto`, valid while their fingerprint is unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._upto = 0
        self._fingerprint: tuple[Any, ...] | None = None
        self._base: dict[str, _TaskAgg] = {}

    def read(self, conn: Connection) -> dict[str, _TaskAgg]:
        tr = t.task_runs
        top = conn.execute(select(func.max(tr.c.id))).scalar() or 0
        with self._lock:
            upto = self._upto if 0 <= top - self._upto <= 2 * LIVE_ROWS else max(0, top - LIVE_ROWS)
            fingerprint = tuple(conn.execute(
                select(func.count(), func.sum(tr.c.attempts), func.count(tr.c.finished_at)).where(tr.c.id <= upto)
            ).one())
            if (upto, fingerprint) != (self._upto, self._fingerprint):
                self._base = _aggregate(conn, tr.c.id <= upto)
                self._upto, self._fingerprint = upto, fingerprint
            base = self._base
        live = _aggregate(conn, tr.c.id > upto)
        return {task: base.get(task, _TaskAgg()).merged(live.get(task, _TaskAgg()))
                for task in sorted(base.keys() | live.keys())}


def _aggregate(conn: Connection, where: ColumnElement[bool]) -> dict[str, _TaskAgg]:
    tr = t.task_runs
    out: dict[str, _TaskAgg] = {}
    # grouped by status first: grouping by task first makes SQLite walk the whole (task, ...) index
    for status, task, n in conn.execute(
        select(tr.c.status, tr.c.task, func.count()).where(where).group_by(tr.c.status, tr.c.task)
    ).all():
        out.setdefault(task, _TaskAgg()).statuses[status] = n
    for _, task, at in conn.execute(
        select(tr.c.status, tr.c.task, func.max(tr.c.finished_at)).where(where, tr.c.status == "succeeded")
        .group_by(tr.c.status, tr.c.task)
    ).all():
        out.setdefault(task, _TaskAgg()).last_success = at
    done = (where, tr.c.started_at.is_not(None), tr.c.finished_at.is_not(None))
    if conn.dialect.name == "sqlite":  # in SQL: fetching the rows would cost far more
        runs = select(tr.c.task, ((func.julianday(tr.c.finished_at) - func.julianday(tr.c.started_at)) * 86400.0)
                      .label("s")).where(*done).subquery()
        cols = [func.sum(case((runs.c.s <= b, 1), else_=0)) for b in DURATION_BUCKETS]
        for task, n, total, *buckets in conn.execute(
            select(runs.c.task, func.count(), func.coalesce(func.sum(runs.c.s), 0.0), *cols).group_by(runs.c.task)
        ).all():
            agg = out.setdefault(task, _TaskAgg())
            agg.finished, agg.seconds, agg.buckets = n, float(total), list(buckets)
    else:
        for task, started, finished in conn.execute(select(tr.c.task, tr.c.started_at, tr.c.finished_at).where(*done)):
            d = (finished - started).total_seconds()
            agg = out.setdefault(task, _TaskAgg())
            agg.finished, agg.seconds = agg.finished + 1, agg.seconds + d
            agg.buckets = [c + (d <= b) for c, b in zip(agg.buckets, DURATION_BUCKETS, strict=True)]
    return out


def _ledger_metrics(ledger: dict[str, _TaskAgg]) -> Iterator[Metric]:
    runs = CounterMetricFamily(
        "swingtrader_task_runs", "Task runs in the ledger by final outcome", labels=["task", "outcome"]
    )
    running = GaugeMetricFamily("swingtrader_task_runs_in_progress", "Task runs now running", labels=["task"])
    hist = HistogramMetricFamily("swingtrader_task_duration_seconds", "Duration of finished task runs",
                                 labels=["task"])
    last = GaugeMetricFamily("swingtrader_task_last_success_timestamp_seconds",
                             "Finish time of the last successful run", labels=["task"])
    for task, agg in ledger.items():
        for status, n in sorted(agg.statuses.items()):
            if status in FINAL_OUTCOMES:
                runs.add_metric([task, status], n)
        running.add_metric([task], agg.statuses.get("running", 0))
        if agg.finished:
            pairs = [(str(b), c) for b, c in zip(DURATION_BUCKETS, agg.buckets, strict=True)]
            hist.add_metric([task], [*pairs, ("+Inf", agg.finished)], agg.seconds)
        if agg.last_success is not None:
            last.add_metric([task], agg.last_success.timestamp())
    yield from (runs, running, hist, last)


def _account_metrics(account: AccountView) -> Iterator[Metric]:
    events = CounterMetricFamily("swingtrader_session_events", "Broker session events", labels=["event"])
    for event, n in sorted(account.session_events.items()):
        events.add_metric([event], n)
    yield CounterMetricFamily("swingtrader_logins", "Broker logins (first and re-logins)", value=account.logins)
    yield events
    orders = GaugeMetricFamily("swingtrader_orders", "Orders by local status", labels=["status"])
    for status, n in sorted(account.orders_by_status.items()):
        orders.add_metric([status], n)
    yield orders
    yield GaugeMetricFamily("swingtrader_open_orders", "Orders that may be working at the broker",
                            value=account.open_orders)
    yield GaugeMetricFamily("swingtrader_open_positions", "Open strategy positions", value=len(account.positions))
    yield GaugeMetricFamily("swingtrader_realised_pnl_rupees", "Realised net P&L of closed trades",
                            value=float(account.realised_pnl))
    yield GaugeMetricFamily("swingtrader_paused", "1 while new orders are paused", value=int(account.paused))
    if account.equity is not None:
        yield GaugeMetricFamily("swingtrader_equity_rupees", "Cash plus open positions at their latest price",
                                value=float(account.equity))
    if account.heartbeat is not None:
        yield GaugeMetricFamily("swingtrader_heartbeat_timestamp_seconds", "Last scheduler loop heartbeat",
                                value=account.heartbeat.timestamp())
