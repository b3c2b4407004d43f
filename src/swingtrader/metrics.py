"""Prometheus metrics read from the store at scrape time, so every counter equals the ledger exactly.

`build_registry(store, broker_calls)` returns a registry with:
- `swingtrader_task_runs_total{task,outcome}`: ledger rows with a final status (succeeded|failed|missed|skipped);
  `swingtrader_task_runs_in_progress{task}` counts rows still running;
- `swingtrader_task_duration_seconds{task}`: histogram of finished runs (started_at to finished_at);
- `swingtrader_task_last_success_timestamp_seconds{task}`;
- `swingtrader_logins_total` and `swingtrader_session_events_total{event}` from session_events;
- `swingtrader_broker_calls_total{operation,outcome}` from the in-process `BrokerCallCounter`;
- `swingtrader_orders{status}`, `swingtrader_open_positions`, `swingtrader_equity_rupees` (service_state
  "equity"), `swingtrader_paused`, `swingtrader_heartbeat_timestamp_seconds`, `swingtrader_store_up`;
- `process_*` (memory, CPU, open files) from prometheus-client's process collector.
A store that cannot be read gives `swingtrader_store_up 0` and the in-process metrics, not an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from swingtrader.store import Store
from swingtrader.store import tables as t

log = logging.getLogger(__name__)

FINAL_OUTCOMES = ("succeeded", "failed", "missed", "skipped")
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)
_LOGIN_EVENTS = ("login", "relogin")


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


def build_registry(store: Store, broker_calls: BrokerCallCounter | None = None) -> CollectorRegistry:
    """A fresh registry (no global state) with the store collector and the process collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, broker_calls or BrokerCallCounter()))
    ProcessCollector(registry=registry)
    return registry


class StoreCollector(Collector):
    """Reads the store on every `collect()`; short read transactions, nothing cached."""

    def __init__(self, store: Store, broker_calls: BrokerCallCounter) -> None:
        self._store = store
        self._broker_calls = broker_calls

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
                families = list(_store_metrics(conn))
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the store: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _store_metrics(conn: Connection) -> Iterator[Metric]:
    tr = t.task_runs
    runs = CounterMetricFamily(
        "swingtrader_task_runs", "Task runs in the ledger by final outcome", labels=["task", "outcome"]
    )
    running = GaugeMetricFamily("swingtrader_task_runs_in_progress", "Task runs now running", labels=["task"])
    for task, status, n in conn.execute(
        select(tr.c.task, tr.c.status, func.count()).group_by(tr.c.task, tr.c.status).order_by(tr.c.task)
    ).all():
        if status in FINAL_OUTCOMES:
            runs.add_metric([task, status], n)
        elif status == "running":
            running.add_metric([task], n)
    yield runs
    yield running
    yield _durations(conn)
    last = GaugeMetricFamily(
        "swingtrader_task_last_success_timestamp_seconds", "Finish time of the last successful run",
        labels=["task"],
    )
    for task, at in conn.execute(
        select(tr.c.task, func.max(tr.c.finished_at)).where(tr.c.status == "succeeded").group_by(tr.c.task)
    ).all():
        if at is not None:
            last.add_metric([task], at.timestamp())
    yield last
    yield from _session_metrics(conn)
    orders = GaugeMetricFamily("swingtrader_orders", "Orders by local status", labels=["status"])
    for status, n in conn.execute(select(t.orders.c.status, func.count()).group_by(t.orders.c.status)).all():
        orders.add_metric([status], n)
    yield orders
    yield GaugeMetricFamily(
        "swingtrader_open_positions", "Open strategy positions",
        value=conn.execute(select(func.count()).where(func.lower(t.positions.c.status) == "open")).scalar_one(),
    )
    yield from _state_metrics(conn)


def _durations(conn: Connection) -> Metric:
    """Histogram of run durations. SQLite computes it in SQL (a year is ~100k rows); other databases
    fetch the two timestamps and compute in Python."""
    tr = t.task_runs
    hist = HistogramMetricFamily(
        "swingtrader_task_duration_seconds", "Duration of finished task runs", labels=["task"]
    )
    done = (tr.c.started_at.is_not(None), tr.c.finished_at.is_not(None))
    per_task: dict[str, tuple[list[int], float, int]] = {}
    if conn.dialect.name == "sqlite":
        seconds = (func.julianday(tr.c.finished_at) - func.julianday(tr.c.started_at)) * 86400.0
        cols = [func.sum(case((seconds <= b, 1), else_=0)) for b in DURATION_BUCKETS]
        for row in conn.execute(
            select(tr.c.task, func.count(), func.coalesce(func.sum(seconds), 0.0), *cols).where(*done)
            .group_by(tr.c.task)
        ).all():
            per_task[row[0]] = (list(row[3:]), float(row[2]), row[1])
    else:
        for task, started, finished in conn.execute(select(tr.c.task, tr.c.started_at, tr.c.finished_at).where(*done)):
            d = (finished - started).total_seconds()
            buckets, total, n = per_task.get(task, ([0] * len(DURATION_BUCKETS), 0.0, 0))
            per_task[task] = ([c + (d <= b) for c, b in zip(buckets, DURATION_BUCKETS, strict=True)], total + d, n + 1)
    for task, (buckets, total, n) in sorted(per_task.items()):
        pairs = [(str(b), c) for b, c in zip(DURATION_BUCKETS, buckets, strict=True)] + [("+Inf", n)]
        hist.add_metric([task], pairs, total)
    return hist


def _session_metrics(conn: Connection) -> Iterator[Metric]:
    se = t.session_events
    events = CounterMetricFamily("swingtrader_session_events", "Broker session events", labels=["event"])
    logins = 0
    for event, n in conn.execute(select(se.c.event, func.count()).group_by(se.c.event).order_by(se.c.event)).all():
        events.add_metric([event], n)
        logins += n if event in _LOGIN_EVENTS else 0
    yield CounterMetricFamily("swingtrader_logins", "Broker logins (first and re-logins)", value=logins)
    yield events


def _state_metrics(conn: Connection) -> Iterator[Metric]:
    state: dict[str, Any] = dict(conn.execute(select(t.service_state.c.key, t.service_state.c.value)).all())
    yield GaugeMetricFamily("swingtrader_paused", "1 while new orders are paused", value=int(bool(state.get("paused"))))
    equity = _number(state.get("equity"))
    if equity is not None:
        yield GaugeMetricFamily("swingtrader_equity_rupees", "Account equity as last recorded", value=equity)
    heartbeat = state.get("heartbeat")
    if isinstance(heartbeat, str):
        try:
            at = datetime.fromisoformat(heartbeat)
        except ValueError:
            return
        if at.tzinfo is None:
            return
        yield GaugeMetricFamily(
            "swingtrader_heartbeat_timestamp_seconds", "Last scheduler loop heartbeat", value=at.timestamp()
        )


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(Decimal(str(value)))
    except InvalidOperation:
        return None
