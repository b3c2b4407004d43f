"""SIGKILL a simulation again and again, resume it with the same --db each time, and end with exactly the orders,
exchange orders, trades, P&L, equity and ledger counts of an uninterrupted run.

A simulation's unit of durability is the session day (`Store.unit`, docs/DESIGN.md): after every kill the store
holds whole session days only, each with exactly the ledger rows of the uninterrupted run's same day, so a kill
mid-day resumes from that day's start.

The counted kills are chosen by event, not by time (`crash_simulate.py`): the N-th order write, ledger row,
exchange write, commit, placement or modification, counted from the start of each resumed process. A fixed
list of classic points comes first, then a seeded random choice among them with N spread over the window.
The simulation runs on a virtual clock, so where every kill lands, and how many land, is the same on any
machine. A few kills at random moments follow as an extra; they are not counted."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.ledger import assert_whole_ledger

START, END = "2024-01-01", "2024-03-28"
HERE = Path(__file__).parent
# The first kill lands on the first commit of a new store: Alembic creating the schema (it commits whole or not
# at all, so the restart migrates again).
FIXED = [
    ("commit-before", 1), ("place-before", 1), ("commit-before", 1), ("commit-after", 1), ("place-after", 1),
    ("place-after", 2),
    ("place-before", 3), ("modify-before", 1), ("modify-after", 2), ("orders-write", 1), ("ledger-write", 1),
    ("exchange-write", 1), ("commit-after", 12),
]
SEEDED = 12
SEED = 20240201


def _args(nifty_dir, db):
    return ["--start", START, "--end", END, "--data", str(nifty_dir), "--db", str(db), "--json"]


def _harness(point, arg, nifty_dir, db):
    return subprocess.run([sys.executable, str(HERE / "crash_simulate.py"), point, str(arg), "--",
                           *_args(nifty_dir, db)], capture_output=True, text=True, timeout=600)


def _schedule(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The fixed points, then `SEEDED` seeded picks, each N at most 1/SEEDED of a full run's events of its point."""
    rng = random.Random(SEED)
    points = sorted(counts)
    picks = []
    for _ in range(SEEDED):
        point = rng.choice(points)
        picks.append((point, rng.randint(1, max(1, counts[point] // SEEDED))))
    return FIXED + picks


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


def _days(db) -> dict[str, set[tuple[str, str]]]:
    """{trading date: its (task, slot) ledger rows}; empty before the schema exists."""
    with sqlite3.connect(db) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'task_runs'").fetchone() is None:
            return {}
        rows = conn.execute("SELECT trading_date, task, slot FROM task_runs").fetchall()
    days: dict[str, set[tuple[str, str]]] = {}
    for day, task, slot in rows:
        days.setdefault(day, set()).add((task, slot))
    return days


def _progress(db) -> str:
    """The latest scheduled slot in the store; "-" before any (or before the schema exists: a kill during its
    creation rolls it back whole)."""
    with sqlite3.connect(db) as conn:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'task_runs'").fetchone() is None:
            return "-"
        row = conn.execute("SELECT max(scheduled_at) FROM task_runs").fetchone()
    return (row[0] or "-")[:16]


@pytest.mark.slow
def test_sigkill_and_resume_matches_an_uninterrupted_run(nifty_dir, tmp_path):
    clean_db, counts_file = tmp_path / "clean.sqlite", tmp_path / "counts.json"
    clean = _harness("count", counts_file, nifty_dir, clean_db)
    assert clean.returncode == 0, clean.stderr
    expected = json.loads(clean.stdout)
    counts = json.loads(counts_file.read_text())
    assert expected["orders"]["placed"] >= 5 and expected["orders"]["modified"] >= 5, "the window must trade"
    assert expected["orders"]["filled"] >= 5

    db = tmp_path / "killed.sqlite"
    schedule = _schedule(counts)
    kills, landed = 0, []
    for point, n in schedule:
        proc = _harness(point, n, nifty_dir, db)
        assert proc.returncode == -signal.SIGKILL, f"{point} #{n} did not land: rc {proc.returncode} {proc.stderr}"
        assert f"crash_simulate: SIGKILL at {point} #{n}\n" in proc.stderr
        kills += 1
        landed.append(f"{point}#{n}@{_progress(db)}")
        clean_days = _days(clean_db)
        assert all(rows == clean_days[day] for day, rows in _days(db).items()), f"{point} #{n} left part of a day"
    # Extra kills at seeded random moments: where they land depends on machine speed, so they are not counted.
    rng = random.Random(SEED)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "simulate", *_args(nifty_dir, db)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=rng.uniform(0.5, 1.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    final = subprocess.run([sys.executable, "-m", "swingtrader", "simulate", *_args(nifty_dir, db)],
                           capture_output=True, text=True, timeout=600)
    assert final.returncode == 0, final.stderr
    resumed = json.loads(final.stdout)
    print(f"kills: {kills} by event: {', '.join(landed)}")
    assert kills == len(FIXED) + SEEDED == 25
    assert resumed["trades"] == expected["trades"]
    assert resumed["pnl"] == expected["pnl"]
    assert resumed["final_equity"] == expected["final_equity"]
    assert resumed["duplicate_client_tags"] == 0
    assert _orders(db) == _orders(clean_db)
    assert _exchange(db) == _exchange(clean_db)
    assert resumed["task_runs"] == expected["task_runs"]
    assert assert_whole_ledger(db) == assert_whole_ledger(clean_db)
