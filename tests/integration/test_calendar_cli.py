"""`swingtrader calendar` as a user runs it: its JSON matches the reference list, errors exit 2 naming the cause."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

RUNS = {
    "json": ("--start", "2024-01-01", "--end", "2026-12-31", "--json"),
    "table": ("--start", "2024-01-19", "--end", "2024-01-23"),
    "2027": ("--start", "2026-12-28", "--end", "2027-01-08", "--json"),
    "next": (),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The slow runs (each starts the calendar library in a child process), started together."""
    cwd, data_dir = tmp_path_factory.mktemp("cwd"), tmp_path_factory.mktemp("data")
    started = {name: _start(cwd, data_dir, *argv) for name, argv in RUNS.items()}
    done = {name: _finish(p, RUNS[name]) for name, p in started.items()}
    assert list(cwd.iterdir()) == []  # nothing written to the working directory
    assert list((data_dir / "cache").glob("xnse-*.json"))  # the sessions are cached in the data directory
    return done


def _start(cwd: Path, data_dir: Path, *argv: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "swingtrader", "calendar", *argv]
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(data_dir))
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(p: subprocess.Popen[str], argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


def test_json_lists_exactly_the_reference_sessions(runs, test_data):
    listed = {}
    with (test_data / "nse-calendar-2024-2026.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            listed[row["date"]] = row
    expected = []
    day = date(2024, 1, 1)
    while day.year <= 2026:
        row = listed.get(day.isoformat())
        if row is None and day.weekday() < 5:
            expected.append({"date": day.isoformat(), "kind": "regular", "open": "09:15", "close": "15:30",
                             "windows": [["09:15", "15:30"]]})
        elif row is not None and row["kind"] != "holiday":
            windows = [w.split("-") for w in row["sessions"].split(";")]
            muhurat = row["kind"] == "holiday_with_muhurat" or (
                row["kind"] == "special_session_unconfirmed" and "Muhurat" in row["note"])
            kind = "muhurat" if muhurat else "special"
            expected.append({"date": row["date"], "kind": kind, "open": windows[0][0], "close": windows[-1][1],
                             "windows": windows})
        day += timedelta(days=1)
    done = runs["json"]
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == expected


def test_the_table_shows_special_hours(runs):
    done = runs["table"]
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1:-1] == [
        "2024-01-19  Fri  regular  09:15-15:30",
        "2024-01-20  Sat  special  09:15-10:00, 11:30-12:30",
        "2024-01-23  Tue  regular  09:15-15:30",
    ]
    assert lines[-1] == "3 sessions from 2024-01-19 to 2024-01-23"


def test_a_year_without_holiday_data_exits_2_naming_it(runs):
    done = runs["2027"]
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no NSE holiday list for 2027")
    assert len(done.stderr.splitlines()) == 1  # said once, without a traceback


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--start", "2024-02-30", "--end", "2024-03-05"), "error: --start: '2024-02-30' is not a date"),
        (("--start", "2024-03-05", "--end", "5/3/2024"), "error: --end: '5/3/2024' is not a date"),
        (("--start", "2024-03-05", "--end", "2024-03-01"), "error: --end is before --start"),
    ],
)
def test_bad_dates_exit_2(tmp_path, argv, message):
    done = _finish(_start(tmp_path, tmp_path, *argv), argv)
    assert done.returncode == 2
    assert done.stderr.startswith(message)


def test_without_dates_it_lists_the_next_sessions_and_how_far_the_data_reaches(runs):
    out = runs["next"]
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    reach = next(line for line in lines if line.startswith("holiday data reaches "))
    last = date.fromisoformat(reach.split()[3])
    assert last.month == 12 and last.day == 31 and last.year >= 2026  # the last session of the last known year
    listed = [line for line in lines[1:] if line[:4].isdigit()]
    assert 0 < len(listed) <= 10 or date.today() > last
