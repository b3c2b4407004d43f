"""Bad input gets a clear message naming the problem, a non-zero exit, and changes nothing in the store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "swingtrader", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good_data(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    rows = ["date,open,high,low,close,volume"]
    for i, day in enumerate(["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-04", "2024-07-05"]):
        rows.append(f"{day},{100 + i},{101 + i},{99 + i},{100.5 + i},200000")
    (d / "AAA.csv").write_text("\n".join(rows) + "\n")
    return d


@pytest.fixture
def store(tmp_path, good_data) -> Path:
    """A real store with a finished simulation in it."""
    db = tmp_path / "store.sqlite"
    proc = run("simulate", "--start", "2024-07-01", "--end", "2024-07-05", "--data", str(good_data), "--db", str(db),
               env_extra={"SWINGTRADER_DATA_DIR": str(tmp_path / "var")})
    assert proc.returncode == 0, proc.stderr
    return db


def test_a_corrupt_sqlite_file_is_named_and_left_alone(tmp_path, good_data):
    db = tmp_path / "broken.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    before = digest(db)
    proc = run("simulate", "--start", "2024-07-01", "--end", "2024-07-05", "--data", str(good_data), "--db", str(db),
               env_extra={"SWINGTRADER_DATA_DIR": str(tmp_path / "var")})
    assert proc.returncode == 2
    assert str(db) in proc.stderr and "not a SQLite database" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert digest(db) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("date,open,high,low,close\n2024-07-01,1,2,0.5,nan\n2024-07-02,1,2,0.5,1\n", "close"),
        ("date,open,high,close\n2024-07-01,1,2,1\n", "low"),
        ("date,open,high,low,close\n2024-05-01,1,2,0.5,1\n2024-07-01,1,2,0.5,1\n", "gap"),
    ],
    ids=["nan", "missing-column", "gap"],
)
def test_a_bad_data_file_is_named_and_the_store_is_unchanged(tmp_path, store, good_data, content, expected):
    (good_data / "BAD.csv").write_text(content)
    before = digest(store)
    proc = run("simulate", "--start", "2024-07-01", "--end", "2024-07-05", "--data", str(good_data), "--db",
               str(store), env_extra={"SWINGTRADER_DATA_DIR": str(tmp_path / "var")})
    assert proc.returncode == 2
    assert "BAD.csv" in proc.stderr and expected in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    assert digest(store) == before


def test_an_unknown_task_name_is_refused_before_anything_is_touched(tmp_path, store):
    before = digest(store)
    proc = run("run-task", "place_orders", env_extra={"SWINGTRADER_DATABASE_URL": f"sqlite:///{store}",
                                                      "SWINGTRADER_DATA_DIR": str(tmp_path / "var")})
    assert proc.returncode == 2
    assert "place_orders" in proc.stderr and "place_buy_orders" in proc.stderr
    assert digest(store) == before


def test_a_malformed_env_file_and_a_missing_setting_are_named(tmp_path, store):
    before = digest(store)
    env_file = tmp_path / "bad.env"
    env_file.write_text(f"SWINGTRADER_DATABASE_URL=sqlite:///{store}\nTHIS LINE IS NOT A SETTING\n")
    proc = run("status", "--config", str(env_file))
    assert proc.returncode == 2 and "bad.env" in proc.stderr and "line 2" in proc.stderr
    env_file.write_text(f"SWINGTRADER_DATABASE_URL=sqlite:///{store}\nSWINGTRADER_KOTAK_MPIN=482913\n")
    proc = run("run", "--live", "--config", str(env_file))
    assert proc.returncode == 2
    assert "SWINGTRADER_KOTAK_CONSUMER_KEY" in proc.stderr and "482913" not in proc.stderr + proc.stdout
    assert digest(store) == before


def test_a_mismatched_simulation_store_is_refused(tmp_path, store, good_data):
    before = digest(store)
    proc = run("simulate", "--start", "2024-07-02", "--end", "2024-07-05", "--data", str(good_data), "--db",
               str(store), env_extra={"SWINGTRADER_DATA_DIR": str(tmp_path / "var")})
    assert proc.returncode == 2 and "another simulation" in proc.stderr
    assert digest(store) == before
