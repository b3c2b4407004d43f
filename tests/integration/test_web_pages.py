"""The dashboard's pages and JSON API over a store filled with three realistic trading days, through a real
HTTP server on 127.0.0.1. `fill_store` is shared with the other dashboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, func, select

from swingtrader.clock import IST, SimClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.state import ServiceState
from swingtrader.web import create_app, start_web_in_thread

DAYS = (date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6))
NOW = datetime(2024, 3, 6, 12, 30, tzinfo=IST)  # mid-session on the third day
CASH = Decimal("912753.17")


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), IST)


def _slots(day: date, until: datetime) -> list[tuple[str, str, datetime]]:
    slots = [("premarket_retry", "09:00", at(day, 9, 0)), ("place_sell_orders", "09:15", at(day, 9, 15))]
    slots += [("monitor_sell_orders", f"{m // 60:02d}:{m % 60:02d}", at(day, m // 60, m % 60))
              for m in range(9 * 60 + 16, 15 * 60 + 31)]
    slots += [("position_monitor", f"{h:02d}:15", at(day, h, 15)) for h in range(10, 16)]
    slots += [("analysis", "16:00", at(day, 16, 0)), ("place_buy_orders", "16:05", at(day, 16, 5)),
              ("eod_cleanup", "16:30", at(day, 16, 30))]
    return [s for s in slots if s[2] <= until]


def _outcome(task: str, day: date, slot: str) -> tuple[str, str | None]:
    if (task, day, slot) == ("monitor_sell_orders", DAYS[2], "10:02"):
        return "failed", "BrokerUnavailable: order book read timed out after 10 s"
    if (task, day) == ("eod_cleanup", DAYS[0]):
        return "failed", "HoldingMismatch: TCS held 12 at the broker, 0 in the store"
    if (task, day) == ("premarket_retry", DAYS[1]):
        return "skipped", "no failed buys to retry"
    return "succeeded", None


def fill_store(store: Store, now: datetime = NOW) -> None:
    """Three trading days as the service would record them, up to `now`."""
    with store.begin() as conn:
        _ledger(conn, now)
        _trading(conn)
        _analysis(conn)
        for day in DAYS:
            conn.execute(t.session_events.insert().values(at=at(day, 8, 55), broker="paper", event="login",
                                                          detail="expires 2024-03-07T00:00:00+05:30"))
        conn.execute(t.session_events.insert().values(at=at(DAYS[2], 11, 0), broker="paper", event="expired",
                                                      detail="session expired; logging in again"))
        conn.execute(t.session_events.insert().values(at=at(DAYS[2], 11, 0, 1), broker="paper", event="login",
                                                      detail="expires 2024-03-07T00:00:00+05:30"))
        state = ServiceState(store)
        state.set_mode("paper", now, conn)
        state.set_paused(False, now, conn)
        state.set_heartbeat(now - timedelta(seconds=20), conn)
        state.set_next_slot("position_monitor", at(DAYS[2], 13, 15), now, conn)
        # the broker's account at the close of the day before: RELIANCE then closed at 2890.10
        state.record_account(CASH, {"RELIANCE": Decimal("2890.10")}, at(DAYS[1], 18, 0), conn)


def _ledger(conn: Connection, now: datetime) -> None:
    rows = []
    for day in DAYS:
        for task, slot, scheduled in _slots(day, now):
            status, error = _outcome(task, day, slot)
            started = scheduled + timedelta(seconds=1)
            seconds = {"analysis": 42.5, "monitor_sell_orders": 0.35}.get(task, 2.25)
            rows.append({
                "task": task, "trading_date": day, "slot": slot, "status": status, "scheduled_at": scheduled,
                "started_at": None if status == "skipped" else started,
                "finished_at": started + timedelta(seconds=0 if status == "skipped" else seconds),
                "attempts": 0 if status == "skipped" else 1, "error": error,
                "detail": {"orders": 1} if task == "place_sell_orders" else None,
            })
    conn.execute(t.task_runs.insert(), rows)


def _order(conn: Connection, **values: Any) -> int:
    base = {"broker_order_id": None, "purpose": "entry", "order_type": "LIMIT", "amo": False, "filled_quantity": 0,
            "average_price": None, "reason": None}
    values = base | values
    values.setdefault("updated_at", values["created_at"])
    return conn.execute(t.orders.insert().values(**values)).inserted_primary_key[0]


def _trading(conn: Connection) -> None:
    _order(conn, tag="ST240304PBB1A1B2C3", trading_date=DAYS[0], task="place_buy_orders", symbol="RELIANCE",
           side="BUY", quantity=35, price=Decimal("2850.00"), amo=True, status="filled", filled_quantity=35,
           average_price=Decimal("2845.50"), created_at=at(DAYS[0], 16, 5))
    _order(conn, tag="ST240305PSS1A1B2C3", trading_date=DAYS[1], task="place_sell_orders", purpose="exit",
           symbol="RELIANCE", side="SELL", quantity=35, price=Decimal("2931.05"), status="open",
           created_at=at(DAYS[1], 9, 15))
    _order(conn, tag="ST240305PBB1D4E5F6", trading_date=DAYS[1], task="place_buy_orders", symbol="TCS", side="BUY",
           quantity=24, price=Decimal("4100.00"), amo=True, status="rejected", reason="RMS: insufficient funds",
           created_at=at(DAYS[1], 16, 5))
    conn.execute(t.positions.insert().values(
        symbol="RELIANCE", status="open", quantity=35, average_price=Decimal("2845.50"), cost=Decimal("99592.50"),
        buy_charges=Decimal("112.40"), entry_date=DAYS[0], last_buy_date=DAYS[0], add_levels=[30],
        opened_at=at(DAYS[1], 9, 15)))
    closed = conn.execute(t.positions.insert().values(
        symbol="INFY", status="closed", quantity=0, average_price=Decimal("1610.00"), cost=Decimal("0"),
        buy_charges=Decimal("95.10"), entry_date=date(2024, 2, 26), last_buy_date=date(2024, 2, 26), add_levels=[30],
        opened_at=at(date(2024, 2, 27), 9, 15), closed_at=at(DAYS[0], 11, 42))).inserted_primary_key[0]
    for exit_day, symbol, net, gross in (
        (DAYS[0], "INFY", Decimal("1234.56"), Decimal("1462.06")),
        (DAYS[1], "HDFCBANK", Decimal("-876.40"), Decimal("-650.00")),
        (DAYS[1], "ITC", Decimal("2010.25"), Decimal("2230.75")),
    ):
        conn.execute(t.trades.insert().values(
            position_id=closed, symbol=symbol, entry_date=date(2024, 2, 26), entry_price=Decimal("1610.00"),
            quantity=62, exit_date=exit_day, exit_price=Decimal("1633.58"), exit_reason="target",
            gross_pnl=gross, charges=gross - net, net_pnl=net, closed_at=at(exit_day, 11, 42)))
    conn.execute(t.signals.insert().values(
        at=at(DAYS[2], 12, 15), trading_date=DAYS[2], symbol="RELIANCE", kind="below_target",
        detail={"ltp": "2901.35", "ema9_now": "2931.05", "rsi10_now": "41.2"}))


def _analysis(conn: Connection) -> None:
    conn.execute(t.analysis_runs.insert().values(
        as_of=DAYS[1], symbols_analysed=50, warnings=["BAJAJ-AUTO: no volume data; liquidity checks skipped"],
        rejected={"rsi_not_oversold": ["HDFCBANK", "ICICIBANK"], "below_ema200": ["WIPRO"],
                  "insufficient_history": ["NEWCO"]},
        created_at=at(DAYS[1], 16, 0, 40)))
    for rank, (symbol, close, rsi) in enumerate((("SBIN", "745.20", "24.81"), ("TATASTEEL", "151.35", "27.40")), 1):
        conn.execute(t.recommendations.insert().values(
            as_of=DAYS[1], symbol=symbol, rank=rank, level="30", close=Decimal(close), rsi10=Decimal(rsi),
            ema9=Decimal(close) * Decimal("1.02"), ema200=Decimal(close) * Decimal("0.9"),
            avg_volume_50=Decimal("15500000"), volume_ratio=Decimal("1.34"), score=Decimal("0.612"),
            detail={"backtest_trades": 4, "backtest_win_rate": 0.75}))


@dataclass
class Served:
    url: str
    store: Store
    client: httpx.Client


@pytest.fixture
def filled_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(sqlite_url(tmp_path / "dash.sqlite"))
    fill_store(store)
    yield store
    store.dispose()


@pytest.fixture
def served(filled_store: Store, tmp_path: Path) -> Iterator[Served]:
    log_file = tmp_path / "swingtrader.log"
    log_file.write_text("".join(f"2024-03-06T12:{i:02d}:00.000+05:30 INFO swingtrader.schedule tick {i}\n"
                                for i in range(300)) + "2024-03-06T12:29:59.000+05:30 ERROR swingtrader.x boom\n")
    app = create_app(filled_store, read_only=True, log_file=log_file, clock=SimClock(NOW))
    handle = start_web_in_thread(app, "127.0.0.1", 0)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield Served(handle.url, filled_store, client)
    handle.stop()


def test_every_page_renders_what_the_store_holds(served: Served) -> None:
    expected = {
        "/": ["monitor_sell_orders", "09:16–12:30", "BrokerUnavailable", "position_monitor",
              'logins today: <b id="logins-today">2</b>', "this dashboard is read-only"],
        "/orders": ["RELIANCE", "RMS: insufficient funds", "ST240305PSS1A1B2C3", "2,931.05"],
        "/positions": ["RELIANCE", "2,845.50", "2,931.05", "2,901.35", "+1,954.75", "monitor reading, 2024-03-06",
                       "active sell"],
        "/trades": ["+1,234.56", "-876.40", "+2,368.41", "<svg class=\"equity gain\""],
        "/analysis": ["SBIN", "24.81", "rsi_not_oversold", "HDFCBANK, ICICIBANK", "no volume data",
                      "backtest win rate 0.75"],
        "/tasks?status=failed": ["HoldingMismatch", "BrokerUnavailable", "2 rows"],
        "/tasks": ["page 1 of", "older &rarr;"],
        "/logs": ["tick 299", "l-err", "boom"],
    }
    for path, needles in expected.items():
        r = served.client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        for needle in needles:
            assert needle in r.text, f"{needle!r} missing from {path}"


def test_the_api_returns_exact_figures(served: Served) -> None:
    with served.store.connect() as conn:
        nets = conn.execute(select(t.trades.c.net_pnl)).scalars().all()
        ledger_total = conn.execute(select(func.count()).select_from(t.task_runs)).scalar_one()
        monitor_today = conn.execute(select(func.count()).where(
            t.task_runs.c.task == "monitor_sell_orders", t.task_runs.c.trading_date == DAYS[2])).scalar_one()
    trades = served.client.get("/api/trades").json()
    assert trades["net"] == str(sum(nets, Decimal(0))) == "2368.41"
    assert [p[1] for p in trades["equity_curve"]] == ["1234.56", "2368.41"]
    pos = served.client.get("/api/positions").json()["positions"][0]
    assert pos["target"] == "2931.05" and pos["last_price"] == "2901.35"
    assert Decimal(pos["unrealised"]) == (Decimal("2901.35") - Decimal("2845.50")) * 35
    overview = served.client.get("/api/overview").json()
    assert overview["mode"] == "read-only" and overview["plan_day"] == "2024-03-06"
    monitor = next(r for r in overview["plan"] if r["task"] == "monitor_sell_orders")
    assert monitor["runs"] == monitor_today and monitor["counts"] == {"succeeded": monitor_today - 1, "failed": 1}
    assert monitor["status"] == "failed"
    assert overview["next_slot"] == {"task": "position_monitor", "at": "2024-03-06T13:15:00+05:30", "seconds": 2700.0}
    assert overview["session"]["logins_today"] == 2 and overview["session"]["logged_in"] is True
    tasks = served.client.get("/api/tasks", params={"page": 3}).json()
    assert tasks["total"] == ledger_total and tasks["page"] == 3 and len(tasks["runs"]) == 50
    failed = served.client.get("/api/tasks", params={"status": "failed"}).json()
    assert {r["task"] for r in failed["runs"]} == {"monitor_sell_orders", "eod_cleanup"}
    analysis = served.client.get("/api/analysis").json()
    assert analysis["rejected"][0] == {"reason": "rsi_not_oversold", "symbols": ["HDFCBANK", "ICICIBANK"], "count": 2}
    assert analysis["rejected_count"] == 4
    assert len(served.client.get("/api/logs").json()["lines"]) == 200
    assert served.client.get("/api/tasks", params={"page": "0"}).status_code == 400


def test_a_broken_store_answers_503_and_the_server_keeps_serving(tmp_path: Path) -> None:
    broken = Store(sqlite_url(tmp_path / "missing-dir" / "nothing.sqlite"))
    handle = start_web_in_thread(create_app(broken, read_only=True), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            assert client.get("/api/overview").status_code == 503
            assert client.get("/").status_code == 503
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["failing"] == ["store"]
            assert client.get("/healthz").status_code == 200
            assert handle.alive
    finally:
        handle.stop()
