"""Manual runs never take a scheduled slot (issue 16, bullet 4), through `run-task` on a test clock: a forced
run goes to a `manual-HHMM` slot even inside its window, and a date after the clock's today is refused for
every task, forced or not, before the store is touched."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def _run_task(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_TEST_CLOCK="2024-06-03T08:30+05:30@1")  # Monday 08:30 IST, before premarket_retry
    return subprocess.run([sys.executable, "-m", "swingtrader", "run-task", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_forced_run_before_its_slot_leaves_the_scheduled_slot_to_the_scheduler(tmp_path):
    proc = _run_task(tmp_path, "premarket_retry", "--date", "2024-06-03", "--force")
    assert proc.stdout.startswith("premarket_retry 2024-06-03 manual-0830: "), proc.stderr
    with sqlite3.connect(tmp_path / "var" / "swingtrader.sqlite") as db:
        slots = db.execute("SELECT slot FROM task_runs WHERE task = 'premarket_retry'").fetchall()
    assert slots == [("manual-0830",)]  # the 09:00 slot is still the scheduler's


@pytest.mark.parametrize(("task", "force"), [("monitor_sell_orders", False), ("premarket_retry", True),
                                             ("eod_cleanup", True)])
def test_a_date_after_today_is_refused_for_every_task(tmp_path, task, force):
    proc = _run_task(tmp_path, task, "--date", "2024-06-04", *(["--force"] if force else []))
    assert proc.returncode == 1
    assert proc.stderr == f"error: {task} for 2024-06-04: that day has not come yet (today is 2024-06-03)\n"
    assert not (tmp_path / "var" / "swingtrader.sqlite").exists()  # refused before the store is opened
