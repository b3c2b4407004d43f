"""Five trading days in one `swingtrader run` (paper) on a paced test clock, against `simulate` on the same bars.

Shared by `test_five_days.py` and `bench/bench_long_run.py`. The run starts at 09:00 on the first day with
bars up to that day in a directory of `<SYMBOL>.csv`; each next day's bars are appended as soon as the ledger
shows the previous evening's analysis finished (driven by the store, not by wall-clock guesses), so every
analysis can only have seen its day's bars through the service's refresh.

Why the next day's bars arrive that evening and not at the day's own 15:45: `simulate` fills day D's orders
minute by minute on day D's bar (its intraday path). A live paper service can only do the same if that bar is
in its source during session D, as it is with yfinance's intraday bar; a bar that first appears at 15:45 would
leave the session without prices (the paper exchange then fills nothing) and the two runs could not agree.
"""

from __future__ import annotations

import functools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from swingtrader.market.bars import BarSource

DAYS = (date(2024, 6, 3), date(2024, 6, 4), date(2024, 6, 5), date(2024, 6, 6), date(2024, 6, 7))
"""Election-results week: buys on the 4th, filled on the 5th, sold on the 6th and 7th (targets moved on the way)."""
HISTORY_FROM = np.datetime64("2021-06-01")
SPEED = 20000.0
"""Virtual seconds per real second while the service waits (one session day is about 4 s of waiting)."""


def write_bars(directory: Path, upto: date, symbols: Iterable[str] | None = None,
               between: Callable[[], None] = lambda: None) -> None:
    """The bundled sample's bars from `HISTORY_FROM` to `upto` as `<SYMBOL>.csv` files (of `symbols`, default
    all), each replaced atomically, one after the other as a downloader writes them; `between()` runs after each."""
    source = _bundled()
    directory.mkdir(parents=True, exist_ok=True)
    end = np.datetime64(upto.isoformat())
    for symbol in source.symbols() if symbols is None else symbols:
        b = source.bars(symbol)
        keep = (b.dates >= HISTORY_FROM) & (b.dates <= end)
        if not keep.any():
            continue
        volume = b.volume[keep] if b.volume is not None else np.zeros(int(keep.sum()))
        rows = zip(b.dates[keep].tolist(), b.open[keep].tolist(), b.high[keep].tolist(), b.low[keep].tolist(),
                   b.close[keep].tolist(), volume.tolist(), strict=True)
        text = "date,open,high,low,close,volume\n" + "".join(
            f"{d},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for d, o, h, lo, c, v in rows)
        tmp = directory / f".{symbol}.tmp"
        tmp.write_text(text)
        os.replace(tmp, directory / f"{symbol}.csv")
        between()


@functools.cache
def _bundled() -> BarSource:
    from swingtrader.market.bars import open_bar_source

    return open_bar_source("bundled")


def finished(db: Path, task: str) -> set[date]:
    """Trading days on which `task` has a final ledger row (read-only; empty before the store exists)."""
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            rows = conn.execute("select trading_date from task_runs where task = ? and status in "
                                "('succeeded', 'failed', 'missed', 'skipped')", (task,)).fetchall()
    except sqlite3.OperationalError:  # the schema is still being created
        return set()
    return {date.fromisoformat(r[0]) for r in rows}


def start_run(root: Path, *, port: int, web: bool = True, speed: float = SPEED, start: date = DAYS[0]
              ) -> subprocess.Popen[str]:
    """`swingtrader run` (paper, embedded defaults) over `root/live`, its clock at 09:00 IST on `start`."""
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(root / "var"), SWINGTRADER_DATA=str(root / "live"),
               SWINGTRADER_WEB_PORT=str(port), SWINGTRADER_WEB_ENABLED=str(web).lower(),
               SWINGTRADER_TEST_CLOCK=f"{start.isoformat()}T09:00+05:30@{speed}")
    return subprocess.Popen([sys.executable, "-m", "swingtrader", "run"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def drive(proc: subprocess.Popen[str], root: Path, *, timeout: float = 300.0,
          after_day: Callable[[date], None] | None = None) -> None:
    """Feed the next day's bars after each analysis, call `after_day(day)` once its `eod_cleanup` finished, and
    stop the service (SIGTERM) after the last day's."""
    db = root / "var" / "swingtrader.sqlite"
    fed, reported = 0, 0
    deadline = time.monotonic() + timeout
    while reported < len(DAYS):
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"swingtrader run exited {proc.returncode}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"five days not done in {timeout} s: fed {fed}, reported {reported}")
        analysed = finished(db, "analysis")
        while fed + 1 < len(DAYS) and DAYS[fed] in analysed:
            fed += 1
            write_bars(root / "live", DAYS[fed])
        done = finished(db, "eod_cleanup")
        while reported < len(DAYS) and DAYS[reported] in done:
            if after_day is not None:
                after_day(DAYS[reported])
            reported += 1
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    if proc.wait(timeout=30) != 0:
        raise AssertionError(f"swingtrader run exited {proc.returncode}")


def prepare(root: Path) -> None:
    """`root/live`: bars up to the first day (the service's source); `root/full`: up to the last (simulate's)."""
    write_bars(root / "live", DAYS[0])
    write_bars(root / "full", DAYS[-1])


def simulate(root: Path, first: date = DAYS[0], last: date = DAYS[-1]) -> Path:
    """`swingtrader simulate` from `first` to `last` on `root/full`; its store."""
    db = root / "sim.sqlite"
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(root / "simvar"))
    subprocess.run([sys.executable, "-m", "swingtrader", "simulate", "--start", first.isoformat(), "--end",
                    last.isoformat(), "--data", str(root / "full"), "--db", str(db)], env=env, check=True,
                   capture_output=True)
    return db


def outcome(db: Path, since: date = DAYS[0]) -> dict[str, Any]:
    """What both runs must agree on from `since` (default: over the five days), read straight from the store."""
    first = since.isoformat()
    queries = {
        "analysis": "select as_of, symbol, rank, level, close, rsi10 from recommendations where as_of >= ? "
                    "order by as_of, rank",
        "orders": "select trading_date, task, purpose, symbol, side, quantity, order_type, price, amo, status, "
                  "filled_quantity, average_price from orders where trading_date >= ? order by tag",
        "fills": "select f.symbol, f.side, f.quantity, f.price, f.at from fills f join orders o on o.id = f.order_id "
                 "where o.trading_date >= ? order by f.at, f.symbol",
        "trades": "select symbol, entry_date, entry_price, quantity, exit_date, exit_price, exit_reason, net_pnl "
                  "from trades where entry_date >= ? order by exit_date, symbol",
        "positions": "select symbol, quantity, average_price from positions where closed_at is null "
                     "and entry_date >= ? order by symbol",
    }
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {k: [tuple(r) for r in conn.execute(q, (first,)).fetchall()] for k, q in queries.items()}


def analysis_runs(db: Path) -> dict[str, str]:
    """The ledger's analysis outcome per day of the five."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("select trading_date, status from task_runs where task = 'analysis' and trading_date >= ?",
                            (DAYS[0].isoformat(),)).fetchall()
    return dict(rows)
