"""A simulation writes per session day (`Store.unit`, the scheduler's `day_unit`): every table ends exactly as
when each unit of work commits on its own, and a unit commits whole, or not at all."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time
from pathlib import Path

import pytest

from swingtrader.clock import IST
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.simulate import SimulationSpec, run_simulation
from swingtrader.store import Store
from swingtrader.store.ledger import Ledger, RunStatus

START, END = date(2024, 1, 1), date(2024, 2, 29)
DAY = date(2024, 1, 2)
AT = datetime.combine(DAY, time(9, 15), tzinfo=IST)
# every table a simulation writes; each row in full (ids, timestamps, details), in insertion order
TABLES = ("task_runs", "orders", "order_events", "fills", "positions", "trades", "signals", "session_events",
          "paper_orders", "paper_fills", "paper_account", "paper_holdings", "analysis_runs", "recommendations")


def _rows(db: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("per-day")
    calendar = TradingCalendar.load(cache_dir=tmp / "cache")
    bars = open_bar_source("bundled", cache_dir=tmp / "bars")
    settings = load_settings(None, data_dir=tmp)
    out = {}
    for per_day in (False, True):
        db = tmp / f"{per_day}.sqlite"
        report = run_simulation(SimulationSpec(START, END, "bundled", settings.initial_capital), settings, bars=bars,
                                calendar=calendar, db=db, per_day_writes=per_day)
        out[per_day] = (report, db)
    return out


def test_per_day_writes_leave_every_table_as_per_write_does(both):
    (per_write, write_db), (per_day, day_db) = both[False], both[True]
    assert per_write["trades"] and per_write["orders"]["modified"] > 0 and per_write["orders"]["filled"] > 0
    for key in ("task_runs", "orders", "open_orders", "open_positions", "trades", "pnl", "final_equity", "logins"):
        assert per_day[key] == per_write[key], key
    write_rows, day_rows = _rows(write_db), _rows(day_db)
    assert write_rows["orders"] and write_rows["paper_orders"] and write_rows["paper_fills"]
    for table in TABLES:
        assert day_rows[table] == write_rows[table], table


def _store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")


def test_a_unit_is_seen_by_its_own_thread_and_committed_whole_at_its_end(tmp_path):
    store, other = _store(tmp_path), _store(tmp_path)
    try:
        with store.unit():
            claim = Ledger(store).claim("analysis", DAY, "16:00", AT, AT)
            Ledger(store).finish(claim, RunStatus.SUCCEEDED, AT)
            assert Ledger(store).statuses(DAY) == {("analysis", "16:00"): RunStatus.SUCCEEDED}
            assert Ledger(other).statuses(DAY) == {}  # another connection: nothing until the unit commits
        assert Ledger(other).statuses(DAY) == {("analysis", "16:00"): RunStatus.SUCCEEDED}
    finally:
        store.dispose()
        other.dispose()


def test_a_unit_that_fails_leaves_nothing_and_a_failed_write_inside_one_only_itself(tmp_path):
    store = _store(tmp_path)
    try:
        with pytest.raises(RuntimeError), store.unit():
            Ledger(store).claim("analysis", DAY, "16:00", AT, AT)
            raise RuntimeError("the day fails")
        assert Ledger(store).statuses(DAY) == {}
        with store.unit():
            Ledger(store).claim("analysis", DAY, "16:00", AT, AT)
            with pytest.raises(RuntimeError), store.begin() as conn:
                conn.exec_driver_sql("DELETE FROM task_runs")
                raise RuntimeError("one unit of work fails")
        assert Ledger(store).statuses(DAY) == {("analysis", "16:00"): RunStatus.RUNNING}
    finally:
        store.dispose()
