"""Dashboard costs over a store holding a year of history (generated: ~97k ledger rows, orders, trades,
analysis runs), measured in one run:

1. time per request for the overview page and /api/overview (and the other pages), against a trivial route
   (/healthz) of the same app and server as the baseline: the difference is what the page itself costs;
2. resident memory the web part adds to a process that already holds the store (import of
   `swingtrader.web`, `create_app`, the server thread, one request), measured in a fresh subprocess.

Run: `.venv/bin/python bench/bench_dashboard.py [--requests N]`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import Connection

from swingtrader.clock import IST, SimClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.state import ServiceState

SYMBOLS = ["RELIANCE", "TCS", "INFY", "HDFCBANK", "ICICIBANK", "SBIN", "ITC", "LT", "AXISBANK", "WIPRO",
           "TATASTEEL", "MARUTI", "SUNPHARMA", "TITAN", "ONGC", "NTPC", "HCLTECH", "BAJFINANCE", "KOTAKBANK", "M&M"]
REASONS = ["rsi_not_oversold", "below_ema200", "low_volume", "volume_ratio", "insufficient_history"]
PAGES = ["/healthz", "/", "/api/overview", "/tasks", "/trades", "/analysis", "/positions", "/orders", "/metrics"]

_MEMORY_PROBE = """
import json, sys
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
from swingtrader.store import Store
from swingtrader.store.db import sqlite_url
from swingtrader.store.state import ServiceState
store = Store.open(sqlite_url(sys.argv[1]))
ServiceState(store).heartbeat()
before = rss()
import httpx
from sqlalchemy import Connection
after_httpx = rss()
from swingtrader.web import create_app, start_web_in_thread
handle = start_web_in_thread(create_app(store, read_only=True), "127.0.0.1", 0)
httpx.get(handle.url + "/", timeout=30).raise_for_status()
httpx.get(handle.url + "/metrics", timeout=30).raise_for_status()
print(json.dumps({"store_mib": before, "web_mib": rss() - after_httpx}))
handle.stop()
"""


def trading_days(year: int) -> list[date]:
    day, out = date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def at(day: date, minutes: int, seconds: float = 0.0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=IST) + timedelta(minutes=minutes, seconds=seconds)


def fill_year(store: Store, days: list[date], rng: random.Random) -> int:
    """A year of what the service records; returns the number of ledger rows."""
    daily = [("premarket_retry", 540), ("place_sell_orders", 555)]
    daily += [("monitor_sell_orders", m) for m in range(556, 931)]
    daily += [("position_monitor", h * 60 + 15) for h in range(10, 16)]
    daily += [("analysis", 960), ("place_buy_orders", 965), ("eod_cleanup", 990)]
    n_runs = 0
    with store.begin() as conn:
        for day in days:
            runs = []
            for task, minute in daily:
                failed = rng.random() < 0.002
                seconds = 40 + rng.random() * 10 if task == "analysis" else rng.random() * 2
                start = at(day, minute, 0.5)
                runs.append({
                    "task": task, "trading_date": day, "slot": f"{minute // 60:02d}:{minute % 60:02d}",
                    "status": "failed" if failed else "succeeded", "scheduled_at": at(day, minute),
                    "started_at": start, "finished_at": start + timedelta(seconds=seconds), "attempts": 1,
                    "error": "BrokerUnavailable: timed out" if failed else None, "detail": None,
                })
            conn.execute(t.task_runs.insert(), runs)
            n_runs += len(runs)
            _trading_day(conn, day, rng)
        conn.execute(t.positions.insert().values(
            symbol="RELIANCE", status="open", quantity=35, average_price=Decimal("2845.50"), cost=Decimal("99592.50"),
            buy_charges=Decimal("112.40"), entry_date=days[-3], last_buy_date=days[-3], add_levels=[30],
            opened_at=at(days[-2], 555)))
    now = at(days[-1], 750)
    state = ServiceState(store)
    state.set_mode("paper", now)
    state.set_paused(False, now)
    state.set_heartbeat(now)
    state.set_next_slot("position_monitor", at(days[-1], 795), now)
    state.record_account(Decimal("983412.55"), {"RELIANCE": Decimal("2851.00")}, at(days[-2], 1080))
    return n_runs


def _trading_day(conn: Connection, day: date, rng: random.Random) -> None:
    conn.execute(t.session_events.insert().values(at=at(day, 535), broker="paper", event="login", detail="ok"))
    rejected = {s: rng.choice(REASONS) for s in SYMBOLS}
    picks = rng.sample(SYMBOLS, rng.randint(0, 2))
    for s in picks:
        rejected.pop(s)
    conn.execute(t.analysis_runs.insert().values(as_of=day, symbols_analysed=len(SYMBOLS), rejected=rejected,
                                                 warnings=[], created_at=at(day, 960, 45)))
    for rank, symbol in enumerate(picks, 1):
        close = Decimal(rng.randint(200, 4000))
        conn.execute(t.recommendations.insert().values(
            as_of=day, symbol=symbol, rank=rank, level="30", close=close, rsi10=Decimal("24.5"),
            ema9=close * Decimal("1.03"), ema200=close * Decimal("0.92"), avg_volume_50=Decimal(5_000_000),
            volume_ratio=Decimal("1.2"), score=Decimal("0.5")))
        conn.execute(t.orders.insert().values(
            tag=f"ST{day:%y%m%d}PBB1{rank:06d}", trading_date=day, task="place_buy_orders", purpose="entry",
            symbol=symbol, side="BUY", quantity=int(100000 / close), order_type="LIMIT", price=close, amo=True,
            status="filled", filled_quantity=int(100000 / close), average_price=close,
            created_at=at(day, 965), updated_at=at(day + timedelta(days=1), 555)))
    if rng.random() < 0.6:
        net = Decimal(rng.randint(-300000, 500000)) / 100
        position = conn.execute(t.positions.insert().values(
            symbol=rng.choice(SYMBOLS), status="closed", quantity=0, average_price=Decimal("1000"),
            cost=Decimal("0"), buy_charges=Decimal("110"), entry_date=day - timedelta(days=7),
            last_buy_date=day - timedelta(days=7), add_levels=[30], opened_at=at(day - timedelta(days=6), 555),
            closed_at=at(day, 700))).inserted_primary_key[0]
        conn.execute(t.trades.insert().values(
            position_id=position, symbol="INFY", entry_date=day - timedelta(days=7), entry_price=Decimal("1000"),
            quantity=100, exit_date=day, exit_price=Decimal("1000") + net / 100, exit_reason="target",
            gross_pnl=net + Decimal("230"), charges=Decimal("230"), net_pnl=net, closed_at=at(day, 700)))


def time_requests(base: str, paths: list[str], n: int) -> dict[str, list[float]]:
    """Interleaved so that noise hits every path alike; milliseconds per request, client round trip."""
    out: dict[str, list[float]] = {p: [] for p in paths}
    with httpx.Client(base_url=base, timeout=60) as client:
        for p in paths:
            client.get(p).raise_for_status()  # warm
        for _ in range(n):
            for p in paths:
                t0 = time.perf_counter()
                client.get(p).raise_for_status()
                out[p].append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    from swingtrader.web import create_app, start_web_in_thread

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "year.sqlite"
        store = Store.open(sqlite_url(db))
        days = trading_days(2024)
        t0 = time.perf_counter()
        n_runs = fill_year(store, days, random.Random(7))
        print(f"store: {len(days)} trading days, {n_runs} ledger rows, {db.stat().st_size / 2**20:.1f} MiB "
              f"(generated in {time.perf_counter() - t0:.1f} s)")
        handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(at(days[-1], 750))),
                                     "127.0.0.1", 0)
        try:
            timings = time_requests(handle.url, PAGES, args.requests)
        finally:
            handle.stop()
        base = statistics.median(timings["/healthz"])
        print(f"{'route':16s} {'median ms':>10s} {'p95 ms':>8s} {'minus baseline':>15s}")
        for path, ms in timings.items():
            p95 = sorted(ms)[int(len(ms) * 0.95) - 1]
            med = statistics.median(ms)
            print(f"{path:16s} {med:10.2f} {p95:8.2f} {med - base:15.2f}")
        probe = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(db)], capture_output=True, text=True,
                               timeout=120, check=True)
        mem = json.loads(probe.stdout)
        print(f"memory: a process holding the store {mem['store_mib']:.1f} MiB RSS; the web part adds "
              f"{mem['web_mib']:.1f} MiB (FastAPI, uvicorn, Jinja2, prometheus-client, app, server thread)")
        store.dispose()


if __name__ == "__main__":
    main()
