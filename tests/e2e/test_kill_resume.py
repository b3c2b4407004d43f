"""SIGKILL a simulation again and again (at order placement and at random moments), resume it with the same
--db each time, and end with exactly the orders, trades and P&L of an uninterrupted run.

The targeted kills come first, while orders lie ahead; each random kill lands 0.5-1.2 s after a start
(start-up takes about 0.6 s), so kills hit start-up and up to a few hundred milliseconds of simulated work."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

START, END = "2024-01-01", "2024-08-30"
HERE = Path(__file__).parent


def _args(nifty_dir, db):
    return ["--start", START, "--end", END, "--data", str(nifty_dir), "--db", str(db), "--json"]


def _orders(db):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(
            "SELECT tag, symbol, side, quantity, order_type, price, amo, status, filled_quantity, average_price, reason"
            " FROM orders").fetchall())


def _exchange(db):
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute(
            "SELECT tag, symbol, side, quantity, price, status, filled_quantity, average_price FROM paper_orders"
        ).fetchall())


@pytest.mark.slow
def test_sigkill_and_resume_matches_an_uninterrupted_run(nifty_dir, tmp_path):
    clean_db = tmp_path / "clean.sqlite"
    t0 = time.monotonic()
    clean = subprocess.run([sys.executable, "-m", "swingtrader", "simulate", *_args(nifty_dir, clean_db)],
                           capture_output=True, text=True, timeout=600)
    full_run = time.monotonic() - t0
    assert clean.returncode == 0, clean.stderr
    expected = json.loads(clean.stdout)
    assert expected["orders"]["placed"] >= 5, "the window must place orders to be a meaningful test"

    db = tmp_path / "killed.sqlite"
    # Kills at order placement: after the intent is written but before the exchange sees it, and after the
    # exchange accepted it but before the reply arrives.
    kills = 0
    for n, when in [(1, "before"), (1, "after"), (2, "after"), (3, "before"), (2, "before"), (4, "after")]:
        proc = subprocess.run([sys.executable, str(HERE / "crash_simulate.py"), str(n), when, "--",
                               *_args(nifty_dir, db)], capture_output=True, text=True, timeout=600)
        assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr
        kills += proc.returncode == -signal.SIGKILL
    assert kills >= 5
    # Kills at random moments.
    rng = random.Random(20240201)
    random_kills = 0
    while random_kills < 16:
        proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "simulate", *_args(nifty_dir, db)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.5, 1.2))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            random_kills += 1
        else:
            break
    kills += random_kills
    final = subprocess.run([sys.executable, "-m", "swingtrader", "simulate", *_args(nifty_dir, db)],
                           capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    resumed = json.loads(final.stdout)
    print(f"kills: {kills} (random {random_kills}); uninterrupted run {full_run:.1f}s")
    assert kills >= 20
    assert resumed["trades"] == expected["trades"]
    assert resumed["pnl"] == expected["pnl"]
    assert resumed["final_equity"] == expected["final_equity"]
    assert resumed["duplicate_client_tags"] == 0
    assert _orders(db) == _orders(clean_db)
    assert _exchange(db) == _exchange(clean_db)
    for task, runs in expected["task_runs"].items():
        assert resumed["task_runs"][task] == runs, task
