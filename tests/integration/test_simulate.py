"""A simulated half year on the real Nifty 50 data, through the `simulate` command."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import date

import pytest

from swingtrader.market.calendar import TradingCalendar

START, END = "2024-01-01", "2024-06-30"


def simulate(*args, env=None):
    cmd = [sys.executable, "-m", "swingtrader", "simulate", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def half_year(nifty_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("sim") / "half.sqlite"
    proc = simulate("--start", START, "--end", END, "--data", str(nifty_dir), "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), db


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    cal = TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))
    return cal.sessions(date.fromisoformat(START), date.fromisoformat(END))


def test_each_daily_task_runs_once_per_regular_session(half_year, sessions):
    report, db = half_year
    regular = [s for s in sessions if s.kind == "regular"]
    assert report["trading_days"] == len(sessions)
    for task in ("premarket_retry", "place_sell_orders", "analysis", "place_buy_orders", "eod_cleanup"):
        assert report["task_runs"][task] == {"succeeded": len(regular), "failed": 0, "missed": 0, "skipped": 0}
    assert report["task_runs"]["position_monitor"]["succeeded"] == 6 * len(regular)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT task, trading_date, slot, COUNT(*) FROM task_runs GROUP BY 1, 2, 3").fetchall()
        assert all(n == 1 for *_, n in rows)
        days = {d for (d,) in conn.execute("SELECT DISTINCT trading_date FROM task_runs")}
    assert days == {s.date.isoformat() for s in sessions}  # nothing on holidays or weekends


def test_the_monitor_runs_every_minute_of_each_session(half_year, sessions):
    report, _ = half_year
    minutes = sum(int((end - start).total_seconds() // 60) for s in sessions for start, end in s.windows)
    assert report["task_runs"]["monitor_sell_orders"] == {
        "succeeded": minutes, "failed": 0, "missed": 0, "skipped": 0}


def test_one_login_per_trading_day_and_no_duplicate_tags(half_year):
    report, db = half_year
    assert report["duplicate_client_tags"] == 0
    assert 0 < report["logins"] <= report["trading_days"]
    with sqlite3.connect(db) as conn:
        per_day = Counter(
            r[0][:10] for r in conn.execute("SELECT at FROM session_events WHERE event = 'login'")
        )
    assert max(per_day.values()) == 1


def test_trades_exit_at_the_actual_fill_prices(half_year):
    report, db = half_year
    assert report["orders"]["filled"] > 0 and report["trades"], "the strategy should trade in half a year"
    with sqlite3.connect(db) as conn:
        fills = {(sym, at[:10], price) for sym, at, price in conn.execute(
            "SELECT symbol, at, price FROM paper_fills WHERE side = 'SELL'")}
    for trade in report["trades"]:
        assert any(s == trade["symbol"] and p == trade["exit_price"] for s, _, p in fills), trade
    net = sum(float(t["net_pnl"]) for t in report["trades"])
    assert abs(net - float(report["pnl"]["net"])) < 0.01
