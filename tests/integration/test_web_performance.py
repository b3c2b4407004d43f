"""The trades page's performance panel over a real HTTP server: a simulated store shows its `simulate` report's
figures exactly; a live store shows drawdown, CAGR and Sharpe of its daily equity and says the benchmark needs
a simulation."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import statistics
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from swingtrader.cli import main
from swingtrader.clock import SimClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.state import ServiceState
from swingtrader.web import create_app, start_web_in_thread
from swingtrader.web.format import money
from tests.integration.test_web_pages import DAYS, NOW, at, fill_store


def served(store: Store) -> Iterator[httpx.Client]:
    handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(NOW)), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            yield client
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> tuple[dict, Path]:
    tmp = tmp_path_factory.mktemp("simperf")
    config = tmp / "config.env"
    config.write_text(f"SWINGTRADER_DATA_DIR={tmp / 'var'}\n")
    db, buf = tmp / "sim.sqlite", io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["simulate", "--config", str(config), "--start", "2024-01-01", "--end", "2024-02-29",
                     "--data", "bundled", "--db", str(db), "--json"]) == 0
    return json.loads(buf.getvalue()), db


def test_the_trades_page_shows_the_simulate_report(simulated) -> None:
    report, db = simulated
    dd = report["max_drawdown"]
    assert dd["trough_date"] is not None and report["trades"]  # a run with a fall and trades to show
    store = Store.open(sqlite_url(db))
    try:
        for client in served(store):
            api = client.get("/api/trades").json()["performance"]
            html = client.get("/trades").text
    finally:
        store.dispose()
    assert api["source"] == "simulation"
    assert api["max_drawdown"] == dd
    assert (api["cagr"], api["sharpe"], api["exposure"]) == (report["cagr"], report["sharpe"], report["exposure"])
    assert api["benchmark"] == {"symbols": len(report["benchmark"]["symbols"]),
                                "final_value": report["benchmark"]["final_value"]}
    assert api["curve"] == [[d, v, report["benchmark"]["series"][d]] for d, v in report["equity_curve"].items()]
    assert api["curve"][-1][1] == report["final_equity"]
    panel = html[html.index('id="performance"'):]
    for needle in (f'id="max-drawdown">{money(Decimal(dd["value"]))}<', f'{100 * dd["fraction"]:.2f}%',
                   f'{dd["peak_date"]} .. {dd["trough_date"]}', f'id="cagr">{100 * report["cagr"]:.2f}%<',
                   f'id="sharpe">{report["sharpe"]:.2f}<',
                   f'id="exposure">{100 * report["exposure"]["sessions_with_position"]:.1f}%<',
                   f'id="benchmark">{money(Decimal(report["benchmark"]["final_value"]))}<',
                   'class="benchmark"', 'class="line"'):
        assert needle in panel, needle
    assert "need a simulation" not in html


def test_a_simulation_store_leads_with_its_verdict_and_is_labelled_on_every_page(simulated, tmp_path) -> None:
    report, db = simulated
    h = report["headline"]
    assert next(iter(report)) == "headline"  # `simulate --json` leads with it
    assert Decimal(h["final_equity"]) == Decimal(h["capital"]) + Decimal(h["realised_pnl"]) + Decimal(
        h["unrealised_pnl"]) == Decimal(report["final_equity"])
    assert h["total_return"] == pytest.approx(float(Decimal(report["final_equity"]) / 1_000_000 - 1), abs=1e-6)
    bench = float(Decimal(report["benchmark"]["final_value"]) / 1_000_000 - 1)
    assert h["benchmark_return"] == pytest.approx(bench, abs=1e-6)
    assert sum(g["trades"] for g in h["by_exit_reason"]) == len(report["trades"]) == sum(
        g["trades"] for g in h["by_symbol"])
    store = Store.open(sqlite_url(db))
    other_log = tmp_path / "logs"
    other_log.mkdir()
    (other_log / "swingtrader.log").write_text("2024-01-01 another process's line\n")
    try:
        settings = type("S", (), {"web_password": None, "kill_switch": False, "effective_log_dir": other_log})()
        handle = start_web_in_thread(create_app(store, settings=settings, read_only=True, clock=SimClock(NOW)),
                                     "127.0.0.1", 0)
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            pages = {p: client.get(p).text for p in ("/", "/orders", "/positions", "/trades", "/analysis", "/tasks",
                                                     "/logs")}
            logs = client.get("/api/logs").json()
        handle.stop()
    finally:
        store.dispose()
    for path, html in pages.items():
        assert ">simulation 2024-01-01..2024-02-29<" in html, path
        assert "read-only<" not in html, path
    assert "Broker session" not in pages["/"] and "Scheduler heartbeat" not in pages["/"]
    assert "another process" not in pages["/logs"]
    assert logs["note"] == "this simulation's store has no log of its own"
    # `simulate --db` wrote its own log where `dashboard --db` looks for it
    from swingtrader.commands.simulate import sim_log_dir
    from swingtrader.web.logtail import newest_log

    own = newest_log(sim_log_dir(db.parent / "var" / "logs", db))
    assert own is not None and own.is_file()
    trades = pages["/trades"]
    assert f'id="verdict">{h["verdict"]}<' in trades
    assert f'id="total-return">{100 * h["total_return"]:+.2f}%<' in trades
    assert f'id="benchmark-return">{100 * h["benchmark_return"]:+.2f}%<' in trades
    assert f'id="final-equity">{money(Decimal(h["final_equity"]))}<' in trades
    assert 'id="by-exit-reason"' in trades and 'id="by-symbol"' in trades
    assert trades.index('id="headline"') < trades.index('id="performance"')


def test_a_live_store_shows_its_own_daily_equity_figures(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "live.sqlite"))
    try:
        fill_store(store)
        with store.begin() as conn:  # a loss on the third day: equity falls from the second day's peak
            pid = conn.execute(t.positions.select().where(t.positions.c.symbol == "INFY")).first().id
            conn.execute(t.trades.insert().values(
                position_id=pid, symbol="SBIN", entry_date=date(2024, 3, 1), entry_price=Decimal("760.00"),
                quantity=100, exit_date=DAYS[2], exit_price=Decimal("731.00"), exit_reason="stop",
                gross_pnl=Decimal("-2900.00"), charges=Decimal("100.00"), net_pnl=Decimal("-3000.00"),
                closed_at=at(DAYS[2], 11, 0)))
        for client in served(store):
            data = client.get("/api/trades").json()
            html = client.get("/trades").text
    finally:
        store.dispose()
    perf = data["performance"]
    assert perf["source"] == "store" and perf["benchmark"] is None and perf["exposure"] is None
    assert "need a simulation" in html and 'class="benchmark"' not in html
    # independently: the equity now less the realised P&L after each session, over the ledger's three sessions
    equity = [Decimal(v) for _, v, _ in perf["curve"]]
    assert [d for d, _, _ in perf["curve"]] == [d.isoformat() for d in DAYS]
    assert equity[1] - equity[0] == Decimal("1133.85") and equity[2] - equity[1] == Decimal("-3000.00")
    capital = equity[0] - Decimal("1234.56")
    assert perf["max_drawdown"] == {"value": "3000.00", "fraction": round(float(Decimal(3000) / equity[1]), 6),
                                    "peak_date": DAYS[1].isoformat(), "trough_date": DAYS[2].isoformat()}
    values = [float(capital), *map(float, equity)]
    returns = [b / a - 1 for a, b in itertools.pairwise(values)]
    assert perf["cagr"] == round(float(equity[-1] / capital) ** (252 / 3) - 1, 6)
    assert perf["sharpe"] == pytest.approx(statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252),
                                           abs=1e-4)
    assert 'id="max-drawdown">3,000.00<' in html and f'id="sharpe">{perf["sharpe"]:.2f}<' in html


def test_an_unreadable_recorded_performance_reads_as_absent(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "odd.sqlite"))
    try:
        fill_store(store)
        with store.begin() as conn:  # a hand edit
            conn.execute(t.service_state.insert().values(key="performance", value={"max_drawdown": "lots"},
                                                         updated_at=NOW))
        assert ServiceState(store).performance() is None
        for client in served(store):
            assert client.get("/api/trades").json()["performance"]["source"] == "store"
    finally:
        store.dispose()
