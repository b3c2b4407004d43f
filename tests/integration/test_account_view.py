"""One read model: `status --json`, `/api/overview`, `/metrics` and `simulate --json` give the same open-order
count, position count, realised P&L and equity for one store: a quarter simulated on the bundled Nifty 50
sample, so the store holds trades, open positions and an open order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from swingtrader.account_view import read_account
from swingtrader.clock import SimClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.web import create_app, start_web_in_thread
from tests.integration.test_web_pages import CASH, DAYS, NOW, at, fill_store


def _cli(*args: str, cwd: Path, **env: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "swingtrader", *args, "--json"], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=dict(os.environ, SWINGTRADER_DATA_DIR=str(cwd / "var"), **env))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _served(store: Store, now: datetime) -> tuple[dict[str, Any], dict[str, float]]:
    """/api/overview and /metrics over a real HTTP server."""
    handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(now)), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=handle.url, timeout=30) as client:
            overview = client.get("/api/overview").json()
            text = client.get("/metrics").text
    finally:
        handle.stop()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
    return overview, samples


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    work = tmp_path_factory.mktemp("one-store")
    db = work / "sim.sqlite"
    report = _cli("simulate", "--start", "2024-01-01", "--end", "2024-03-31", "--data", "bundled", "--db", str(db),
                  cwd=work)
    return db, report


def test_every_reader_gives_the_same_figures_for_one_store(simulated: tuple[Path, dict[str, Any]]) -> None:
    db, report = simulated
    status = _cli("status", cwd=db.parent, SWINGTRADER_DATABASE_URL=sqlite_url(db))
    store = Store.open(sqlite_url(db), migrate=False)
    try:
        with store.connect() as conn:
            last_run = conn.execute(select(func.max(t.task_runs.c.finished_at))).scalar()
        overview, metrics = _served(store, last_run)
    finally:
        store.dispose()
    assert report["trades"] and report["open_positions"] > 0 and report["open_orders"] > 0  # a store with content
    open_orders = {report["open_orders"], status["open_orders"], overview["open_orders"],
                   metrics["swingtrader_open_orders"]}
    positions = {report["open_positions"], len(status["open_positions"]), overview["open_positions"],
                 metrics["swingtrader_open_positions"]}
    realised = {Decimal(report["pnl"]["net"]), Decimal(status["realised_pnl"]), Decimal(overview["realised_total"]),
                Decimal(str(metrics["swingtrader_realised_pnl_rupees"]))}
    equity = {Decimal(report["final_equity"]), Decimal(status["equity"]), Decimal(overview["equity"]),
              Decimal(str(metrics["swingtrader_equity_rupees"])).quantize(Decimal("0.01"))}
    print(f"one store: open orders {open_orders}, positions {positions}, realised {realised}, equity {equity}")
    assert len(open_orders) == len(positions) == len(realised) == len(equity) == 1
    # realised P&L is the sum of the trades; equity is cash plus the positions at their latest (closing) price
    assert realised == {sum((Decimal(tr["net_pnl"]) for tr in report["trades"]), Decimal(0))}
    assert equity == {(Decimal(status["cash"]) + sum(
        (p["quantity"] * Decimal(p["price"]) for p in status["open_positions"]), Decimal(0))).quantize(Decimal("0.01"))}


def test_orders_sending_or_unknown_count_as_open(tmp_path: Path) -> None:
    """Either may be working at the broker: `status`, the overview and /metrics all count them."""
    db = tmp_path / "dash.sqlite"
    store = Store.open(sqlite_url(db))
    fill_store(store)  # one order open (the RELIANCE sell)
    with store.begin() as conn:
        for tag, status in (("ST240306PBB1AAAAAA", "sending"), ("ST240306PBB1BBBBBB", "unknown")):
            conn.execute(t.orders.insert().values(
                tag=tag, trading_date=DAYS[2], task="place_buy_orders", purpose="entry", symbol="SBIN", side="BUY",
                quantity=10, order_type="LIMIT", price=Decimal("745.20"), amo=True, status=status,
                filled_quantity=0, created_at=NOW, updated_at=NOW))
    try:
        overview, metrics = _served(store, NOW)
    finally:
        store.dispose()
    status = _cli("status", cwd=tmp_path, SWINGTRADER_DATABASE_URL=sqlite_url(db))
    assert status["open_orders"] == overview["open_orders"] == metrics["swingtrader_open_orders"] == 3


def test_live_cash_is_the_last_reconciliation_moved_by_later_fills(tmp_path: Path) -> None:
    """Without a paper exchange in the store, cash is the broker's at the last reconciliation plus the value
    of fills recorded after it; a position is valued at its newest price (a reading beats an older close)."""
    store = Store.open(sqlite_url(tmp_path / "live.sqlite"))
    fill_store(store)
    try:
        before = read_account(store, NOW)
        assert before.cash == CASH
        assert before.equity == CASH + 35 * Decimal("2901.35")  # the 2024-03-06 reading, not the 03-05 close mark
        with store.begin() as conn:
            order = conn.execute(select(t.orders.c.id).where(t.orders.c.side == "SELL")).scalar_one()
            conn.execute(t.fills.insert().values(order_id=order, symbol="RELIANCE", side="SELL", quantity=10,
                                                 price=Decimal("2931.05"), at=at(DAYS[2], 12, 40)))
        after = read_account(store, at(DAYS[2], 12, 45))
        assert after.cash == CASH + 10 * Decimal("2931.05")
        assert [p.price.source for p in after.positions if p.price] == ["sell fill"]
    finally:
        store.dispose()
