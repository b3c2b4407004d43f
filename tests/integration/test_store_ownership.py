"""A store belongs to a mode, and manual runs are guarded: each refusal exits non-zero with a message and
changes nothing in the store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.control import LiveControl
from swingtrader.manual_runs import ManualRunRefused, check
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.runtime import assemble
from swingtrader.schedule import Slot
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.identity import account_id, ensure
from swingtrader.store.ledger import RunStatus

MON, TUE = date(2024, 7, 1), date(2024, 7, 2)


def _cli(*args: str, tmp_path: Path, db: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"))
    if db is not None:
        env["SWINGTRADER_DATABASE_URL"] = f"sqlite:///{db}"
    return subprocess.run([sys.executable, "-m", "swingtrader", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)


def _contents(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {name: conn.execute(f"SELECT * FROM {name}").fetchall() for name in tables}


@pytest.fixture
def live_store(tmp_path) -> Path:
    db = tmp_path / "live.sqlite"
    store = Store.open(f"sqlite:///{db}")
    ensure(store, "live", account_id("UCC123"), datetime(2024, 7, 1, 9, tzinfo=IST))
    store.dispose()
    return db


def test_run_task_on_a_live_store_needs_live(tmp_path, live_store):
    before = _contents(live_store)
    proc = _cli("run-task", "eod_cleanup", "--date", str(MON), tmp_path=tmp_path, db=live_store)
    assert proc.returncode == 2
    assert "is a live store; pass --live" in proc.stderr
    assert _contents(live_store) == before


def test_simulate_db_on_a_live_store_is_refused(tmp_path, live_store):
    before = _contents(live_store)
    proc = _cli("simulate", "--start", "2024-07-01", "--end", "2024-07-05", "--data", "synthetic", "--db",
                str(live_store), tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "is a live store; this command is for simulation" in proc.stderr
    assert _contents(live_store) == before


def test_run_task_live_on_a_paper_store_is_refused(tmp_path):
    db = tmp_path / "paper.sqlite"
    store = Store.open(f"sqlite:///{db}")
    ensure(store, "paper", None, datetime(2024, 7, 1, 9, tzinfo=IST))
    store.dispose()
    before = _contents(db)
    proc = _cli("run-task", "eod_cleanup", "--date", str(MON), "--live", tmp_path=tmp_path, db=db)
    assert proc.returncode == 2 and "is a paper store" in proc.stderr
    assert _contents(db) == before


def test_status_with_no_store_says_so_and_creates_nothing(tmp_path):
    proc = _cli("status", tmp_path=tmp_path)
    assert proc.returncode == 1
    assert "no store at" in proc.stderr
    assert not (tmp_path / "var" / "swingtrader.sqlite").exists()


def test_stale_date_for_an_order_placing_task_is_refused(tmp_path):
    db = tmp_path / "paper.sqlite"
    Store.open(f"sqlite:///{db}").dispose()
    before = _contents(db)
    proc = _cli("run-task", "place_buy_orders", "--date", str(MON), "--force", tmp_path=tmp_path, db=db)
    assert proc.returncode == 1 and "more than one session old" in proc.stderr
    assert _contents(db) == before


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


@pytest.mark.parametrize(("task", "hh", "mm", "refused"), [
    ("analysis", 10, 0, "analysis needs the close"),
    ("analysis", 16, 0, None),
    ("place_buy_orders", 10, 0, "outside the AMO window"),
    ("place_buy_orders", 16, 5, None),
    ("premarket_retry", 9, 20, "the session opened at 09:15"),
    ("premarket_retry", 9, 0, None),
])
def test_manual_runs_outside_their_window_are_refused(calendar, task, hh, mm, refused):
    if refused is None:
        assert check(task, MON, _at(MON, hh, mm), calendar, force=False).manual_slot is False
        return
    with pytest.raises(ManualRunRefused, match=refused):
        check(task, MON, _at(MON, hh, mm), calendar, force=False)
    assert check(task, MON, _at(MON, hh, mm), calendar, force=True).manual_slot is True  # its own slot


def test_a_date_more_than_one_session_old_is_refused_even_forced(calendar):
    assert check("place_buy_orders", MON, _at(TUE, 8, 0), calendar, force=False).manual_slot is False  # 1 old
    with pytest.raises(ManualRunRefused, match="more than one session old"):
        check("place_buy_orders", MON, _at(date(2024, 7, 3), 16, 5), calendar, force=True)


def _service(tmp_path: Path, calendar, now: datetime):
    data = tmp_path / "bars"
    data.mkdir()
    rows = ["date,open,high,low,close,volume"]
    rows += [f"2024-06-{d:02d},100,101,99,100,500000" for d in (24, 25, 26, 27, 28)]
    rows.append("2024-07-01,100,101,99,100,500000")
    (data / "AAA.csv").write_text("\n".join(rows) + "\n")
    settings = load_settings(None, data_dir=tmp_path / "var", data=str(data))
    store = Store.open(settings.effective_database_url)
    return assemble(settings, SimClock(now), store=store, calendar=calendar, bars=open_bar_source(str(data)))


def _recommend(store: Store, day: date) -> None:
    with store.begin() as conn:
        conn.execute(t.recommendations.insert().values(
            as_of=day, symbol="AAA", rank=1, level="entry", close=Decimal(100), rsi10=Decimal(20), ema9=Decimal(101),
            ema200=Decimal(90), avg_volume_50=Decimal(500000), volume_ratio=Decimal(1), score=Decimal(1)))


def test_a_task_whose_every_order_was_refused_is_recorded_failed_with_the_reasons(tmp_path, calendar):
    service = _service(tmp_path, calendar, _at(MON, 10, 0))  # market hours: the AMO buys are refused
    _recommend(service.store, MON)
    service.broker.login()
    slot = Slot("place_buy_orders", MON, "manual-1000", _at(MON, 10, 0), _at(MON, 10, 0), None, True,
                _at(MON, 15, 30))
    assert service.scheduler.execute(slot, manual=True) is RunStatus.FAILED
    with service.store.connect() as conn:
        run = conn.execute(t.task_runs.select()).one()
    assert run.status == "failed" and "every order was refused: AAA amo_in_market_hours" in run.error


def test_the_dashboard_run_button_refuses_outside_the_window(tmp_path, calendar):
    service = _service(tmp_path, calendar, _at(MON, 10, 0))
    with pytest.raises(ValueError, match="analysis needs the close"):
        LiveControl(service, "paper").run_task_now("analysis")
    with service.store.connect() as conn:
        assert conn.execute(t.task_runs.select()).all() == []


def test_dashboard_with_no_store_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "nothing.sqlite"
    proc = _cli("dashboard", "--db", str(missing), "--port", "0", tmp_path=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    assert not missing.exists()
