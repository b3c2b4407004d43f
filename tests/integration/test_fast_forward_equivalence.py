"""The fast path of a simulation (idle monitor minutes fast-forwarded) gives exactly what running every minute
gives: a quarter of the real Nifty 50 data (the bundled sample) simulated both ways, compared row by row."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.broker.paper import PaperBroker
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_broker
from swingtrader.simulate import SimulationSpec, report
from swingtrader.store import Store

START, END = date(2024, 1, 1), date(2024, 3, 31)
# every table a simulation writes; each row in full (ids, timestamps, details), in insertion order
TABLES = ("task_runs", "orders", "order_events", "fills", "positions", "trades", "signals", "session_events",
          "paper_orders", "paper_fills", "paper_account", "paper_holdings", "analysis_runs", "recommendations")


def _simulate(tmp: Path, calendar: TradingCalendar, bars, *, fast: bool) -> tuple[dict, Path, Counter]:
    settings = load_settings(None, data_dir=tmp, sim_fast_forward=fast)
    db = tmp / ("fast.sqlite" if fast else "slow.sqlite")
    store = Store.open(f"sqlite:///{db}")
    clock = SimClock(datetime.combine(START, time(8, 0), tzinfo=IST))
    exchange = paper_broker(settings, store, clock, bars, calendar)
    calls: Counter = Counter()
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=exchange,
                            hooks=ServiceHooks(on_call=lambda op, _outcome: calls.update([op])))
    assert (service.fast_forward is not None) is fast
    try:
        service.scheduler.run(start_day=START, until=datetime.combine(END + timedelta(days=1), time(0, 0), tzinfo=IST))
        service.ledger.close()
        out = report(store, SimulationSpec(START, END, "bundled", settings.initial_capital), calendar)
    finally:
        store.dispose()
    return out, db, calls


def _rows(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ff")
    calendar = TradingCalendar.load(cache_dir=tmp / "cache")
    bars = open_bar_source("bundled", cache_dir=tmp / "bars")
    return (_simulate(tmp, calendar, bars, fast=False), _simulate(tmp, calendar, bars, fast=True))


def test_the_fast_path_gives_the_same_orders_fills_trades_pnl_and_ledger(both):
    (slow, slow_db, _), (fast, fast_db, _) = both
    assert slow["trades"] and slow["orders"]["filled"] > 0 and slow["orders"]["modified"] > 0, slow["orders"]
    for key in ("task_runs", "orders", "open_orders", "open_positions", "trades", "pnl", "final_equity", "logins"):
        assert fast[key] == slow[key], key
    slow_rows, fast_rows = _rows(slow_db), _rows(fast_db)
    assert slow_rows["orders"] and slow_rows["paper_fills"] and slow_rows["trades"]
    for table in TABLES:
        assert fast_rows[table] == slow_rows[table], table


def test_the_fast_path_skips_most_monitor_minutes(both):
    (slow, _, slow_calls), (_, _, fast_calls) = both
    minutes = slow["task_runs"]["monitor_sell_orders"]["succeeded"]
    assert slow_calls["orders"] >= minutes  # every minute reads the order book
    assert fast_calls["orders"] < minutes / 3
    assert fast_calls["modify_order"] == slow_calls["modify_order"] > 0


def test_the_fast_path_is_for_simulations_only(tmp_path):
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source("bundled", cache_dir=tmp_path / "bars")
    store = Store.open(f"sqlite:///{tmp_path / 'w.sqlite'}")
    try:
        settings = load_settings(None, data_dir=tmp_path)
        clock = SimClock(datetime.combine(START, time(8, 0), tzinfo=IST))
        exchange = paper_broker(settings, store, clock, bars, calendar, initial_cash=Decimal(100_000))
        assert isinstance(exchange, PaperBroker)
        parts = {"clock": clock, "calendar": calendar, "store": store, "bars": bars, "broker": exchange}
        assert build_service(settings, clock_mode=ClockMode.WALL, **parts).fast_forward is None
        assert build_service(settings, clock_mode=ClockMode.VIRTUAL, **parts).fast_forward is not None
    finally:
        store.dispose()
