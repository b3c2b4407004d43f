"""/metrics parses with the Prometheus text parser and its counters equal the ledger; /healthz and /readyz."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from swingtrader import metrics
from swingtrader.clock import SimClock
from swingtrader.metrics import FINAL_OUTCOMES, BrokerCallCounter
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.ledger import Ledger, RunStatus
from swingtrader.web import create_app, start_web_in_thread
from tests.integration.test_web_actions import RecordingControl
from tests.integration.test_web_pages import DAYS, NOW, at, fill_store

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(store: Store, **app_args: Any) -> Samples:
    handle = start_web_in_thread(create_app(store, read_only=True, **app_args), "127.0.0.1", 0)
    try:
        return scrape_url(handle.url)
    finally:
        handle.stop()


def scrape_url(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def assert_counters_match_the_ledger(store: Store, samples: Samples) -> None:
    tr = t.task_runs
    with store.connect() as conn:
        ledger = conn.execute(select(tr.c.task, tr.c.status, func.count()).group_by(tr.c.task, tr.c.status)).all()
        finished = dict(conn.execute(select(tr.c.task, func.count()).where(
            tr.c.started_at.is_not(None), tr.c.finished_at.is_not(None)).group_by(tr.c.task)).all())
        last_ok = dict(conn.execute(select(tr.c.task, func.max(tr.c.finished_at)).where(
            tr.c.status == "succeeded").group_by(tr.c.task)).all())
        logins = conn.execute(select(func.count()).where(t.session_events.c.event == "login")).scalar_one()
        orders = dict(conn.execute(select(t.orders.c.status, func.count()).group_by(t.orders.c.status)).all())
    runs = {k: v for k, v in samples.items() if k[0] == "swingtrader_task_runs_total"}
    expected = {("swingtrader_task_runs_total", (("outcome", status), ("task", task))): float(n)
                for task, status, n in ledger if status in FINAL_OUTCOMES}
    assert runs == expected and runs
    for task, n in finished.items():
        assert samples[("swingtrader_task_duration_seconds_count", (("task", task),))] == n
        assert samples[("swingtrader_task_duration_seconds_bucket", (("le", "+Inf"), ("task", task)))] == n
    for task, finished_at in last_ok.items():
        key = ("swingtrader_task_last_success_timestamp_seconds", (("task", task),))
        assert samples[key] == pytest.approx(finished_at.timestamp(), abs=1e-3)
    assert samples[("swingtrader_logins_total", ())] == logins
    for status, n in orders.items():
        assert samples[("swingtrader_orders", (("status", status),))] == n


def test_metrics_equal_the_ledger(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "m.sqlite"))
    fill_store(store)
    calls = BrokerCallCounter()
    for outcome in ("ok", "ok", "SessionExpired"):
        calls.record("orders", outcome)
    samples = scrape(store, broker_calls=calls)
    assert_counters_match_the_ledger(store, samples)
    monitor = (("task", "monitor_sell_orders"),)
    assert samples[("swingtrader_task_duration_seconds_sum", monitor)] == pytest.approx(
        0.35 * samples[("swingtrader_task_duration_seconds_count", monitor)], rel=1e-3)
    assert samples[("swingtrader_task_duration_seconds_bucket", (("le", "0.1"), *monitor))] == 0
    assert samples[("swingtrader_task_duration_seconds_bucket", (("le", "0.5"), *monitor))] == samples[
        ("swingtrader_task_duration_seconds_count", monitor)]
    assert samples[("swingtrader_broker_calls_total", (("operation", "orders"), ("outcome", "ok")))] == 2
    assert samples[("swingtrader_broker_calls_total", (("operation", "orders"), ("outcome", "SessionExpired")))] == 1
    assert samples[("swingtrader_open_positions", ())] == 1
    assert samples[("swingtrader_equity_rupees", ())] == pytest.approx(912753.17 + 35 * 2901.35)  # at the reading
    assert samples[("swingtrader_paused", ())] == 0 and samples[("swingtrader_store_up", ())] == 1
    assert samples[("process_resident_memory_bytes", ())] > 0
    store.dispose()


def test_counters_stay_exact_as_the_ledger_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "LIVE_ROWS", 100)  # most rows come from the cached aggregates
    store = Store.open(sqlite_url(tmp_path / "c.sqlite"))
    fill_store(store)
    ledger = Ledger(store)
    handle = start_web_in_thread(create_app(store, read_only=True), "127.0.0.1", 0)
    try:
        assert_counters_match_the_ledger(store, scrape_url(handle.url))
        old = ledger.claim("eod_cleanup", DAYS[0], "16:30", at(DAYS[0], 16, 30), NOW, manual=True)  # a re-run
        samples = scrape_url(handle.url)
        assert_counters_match_the_ledger(store, samples)
        assert samples[("swingtrader_task_runs_in_progress", (("task", "eod_cleanup"),))] == 1
        ledger.finish(old, RunStatus.SUCCEEDED, NOW + timedelta(seconds=3))
        samples = scrape_url(handle.url)
        assert_counters_match_the_ledger(store, samples)
        assert ("swingtrader_task_runs_total", (("outcome", "failed"), ("task", "eod_cleanup"))) not in samples
        for minute in range(31, 40):
            claim = ledger.claim("monitor_sell_orders", DAYS[2], f"12:{minute}", at(DAYS[2], 12, minute), NOW)
            ledger.finish(claim, RunStatus.FAILED, NOW, error="BrokerUnavailable")
        assert_counters_match_the_ledger(store, scrape_url(handle.url))
    finally:
        handle.stop()
        store.dispose()


def test_metrics_after_a_simulated_week(nifty_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "week.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "swingtrader", "simulate", "--start", "2024-03-04", "--end", "2024-03-08",
         "--data", str(nifty_dir), "--db", str(db), "--json"], capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    store = Store.open(sqlite_url(db))
    samples = scrape(store)
    assert_counters_match_the_ledger(store, samples)
    report = json.loads(done.stdout)
    for task, outcomes in report["task_runs"].items():  # the simulation's own report agrees too
        for outcome, n in outcomes.items():
            assert samples.get(("swingtrader_task_runs_total", (("outcome", outcome), ("task", task))), 0) == n
    assert samples[("swingtrader_logins_total", ())] == report["logins"]
    store.dispose()


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[Any]:
    store = Store.open(sqlite_url(tmp_path / "r.sqlite"))
    fill_store(store)  # heartbeat 20 s before NOW

    def readyz(control: Any, now: Any = NOW) -> httpx.Response:
        handle = start_web_in_thread(create_app(store, control=control, clock=SimClock(now)), "127.0.0.1", 0)
        try:
            return httpx.get(f"{handle.url}/readyz", timeout=10)
        finally:
            handle.stop()

    yield readyz
    store.dispose()


class LoggedOut(RecordingControl):
    def session_state(self) -> dict[str, Any]:
        return {"logged_in": False, "expires_at": None, "logins_today": 3}


def test_readiness_names_the_failing_check(probe: Any) -> None:
    ok = probe(RecordingControl())
    assert ok.status_code == 200 and ok.json()["ready"] is True
    stale = probe(RecordingControl(), NOW + timedelta(minutes=10))
    assert stale.status_code == 503 and stale.json()["failing"] == ["heartbeat"]
    assert "last tick 620 s ago" in stale.json()["checks"]["heartbeat"]["detail"]
    logged_out = probe(LoggedOut())
    assert logged_out.status_code == 503 and logged_out.json()["failing"] == ["session"]
    read_only = probe(None, NOW + timedelta(days=30))  # the read-only dashboard only needs its store
    assert read_only.status_code == 200 and list(read_only.json()["checks"]) == ["store"]
