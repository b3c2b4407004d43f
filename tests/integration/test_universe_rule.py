"""`SWINGTRADER_UNIVERSE_RULE` in the service (issue 17): a simulation on a sample cut from the full-exchange file
(IRFC listed 2021-01-29; KOHINOOR's last bar 2021-05-03) never ranks a symbol the rule did not admit that day,
a later-listed symbol enters once admitted, the report says which universe it used, a bad or unservable rule is
refused at start naming the setting, and an empty rule is today's behaviour to the rupee."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.integration.test_strategy_plugin import _relabelled

SAMPLE = "nse-universe-sample-2021.csv.gz"  # RELIANCE, INFY, ITC, IRFC, KOHINOOR; 2020-12-01..2021-06-30; no volume
RULE = "listed,min_price=5,min_history=30"
# a loose strategy so that the rule, not the strategy, decides: IRFC and KOHINOOR are its candidates on days the
# rule does not admit them (too little history), IRFC also on a day after it is admitted
LOOSE = {"SWINGTRADER_MIN_HISTORY": "5", "SWINGTRADER_EMA_TREND": "10", "SWINGTRADER_RSI_ENTRY": "55",
         "SWINGTRADER_RSI_ADD_LEVELS": ""}


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")}
    env.update(SWINGTRADER_DATA_DIR=str(tmp_path / "var"), **settings)
    return env


def _run(tmp_path: Path, command: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swingtrader", command, *args], capture_output=True, text=True,
                          timeout=900, env=env, cwd=tmp_path)


def _admitted(frame: pd.DataFrame, day: date, min_price: float, min_history: int) -> set[str]:
    """Independently of `market/universe.py`: symbols with a bar on `day`, close >= min_price and at least
    min_history bars up to and including it."""
    upto = frame[frame["date"] <= day.isoformat()]
    history = upto.groupby("symbol").size()
    today = upto[upto["date"] == day.isoformat()].set_index("symbol")["close"]
    return {s for s, close in today.items() if close >= min_price and history[s] >= min_history}


def test_a_simulation_ranks_only_symbols_the_rule_admitted_that_day(tmp_path, test_data):
    data, db = str(test_data / SAMPLE), tmp_path / "sim.sqlite"
    env = _env(tmp_path, SWINGTRADER_UNIVERSE_RULE=RULE, **LOOSE)
    proc = _run(tmp_path, "simulate", env, "--start", "2021-02-01", "--end", "2021-05-31", "--data", data,
                "--json", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    frame = pd.read_csv(test_data / SAMPLE)
    with sqlite3.connect(db) as conn:
        ranked = conn.execute("select as_of, symbol, level from recommendations").fetchall()
        runs = conn.execute("select as_of, symbols_analysed, rejected from analysis_runs").fetchall()
    assert ranked and len(runs) > 60
    for as_of, symbol, level in ranked:
        assert symbol in _admitted(frame, date.fromisoformat(as_of), 5, 30), (as_of, symbol, level)
    for as_of, analysed, rejected in runs:
        admitted = _admitted(frame, date.fromisoformat(as_of), 5, 30)
        assert analysed == len(admitted), as_of
        assert set(json.loads(rejected).get("not_in_universe", [])) == set(frame["symbol"]) - admitted, as_of
    entries = {(a, s) for a, s, level in ranked if level == "entry"}
    assert ("2021-04-30", "IRFC") in entries  # listed 2021-01-29: it entered once it had 30 sessions
    assert not any(s == "KOHINOOR" for _, s in entries)  # 23 bars in all: never admitted
    assert any(t["symbol"] == "IRFC" for t in report["trades"])
    universe = report["headline"]["universe"]
    assert universe.startswith(f"SWINGTRADER_UNIVERSE_RULE {RULE}: every symbol listed on the session")
    counts = [len(_admitted(frame, date.fromisoformat(a), 5, 30)) for a, _, _ in runs]
    assert f"admitted {min(counts)} to {max(counts)} symbols a session" in universe


def test_without_the_rule_the_same_strategy_ranks_symbols_the_rule_keeps_out(tmp_path, test_data):
    data = str(test_data / SAMPLE)
    candidates = {}
    for rule in ("", RULE):
        env = _env(tmp_path, SWINGTRADER_UNIVERSE_RULE=rule, **LOOSE)
        proc = _run(tmp_path, "analyze", env, "--as-of", "2021-03-03", "--data", data, "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        candidates[rule] = ([c["symbol"] for c in out["candidates"]], out["rejected"].get("not_in_universe"))
    assert candidates[""] == (["IRFC"], None)  # 23 sessions since its listing: the strategy would buy it
    assert candidates[RULE] == ([], ["IRFC", "KOHINOOR"])  # KOHINOOR: no bar that day


@pytest.mark.parametrize(("rule", "problem"), [
    ("top=0", "SWINGTRADER_UNIVERSE_RULE: 'top=0': expected top=N[,min_price=P][,window=W] (needs volume) or "
              "listed[,min_price=P][,min_history=D]"),
    ("listed,top=5", "SWINGTRADER_UNIVERSE_RULE: 'listed,top=5': expected"),
    ("top=3", "SWINGTRADER_UNIVERSE_RULE: 'top 3 by 50-day median traded value, close at least 0, as of each "
              "session' needs volume, and the data "),
])
def test_a_rule_the_data_cannot_serve_is_refused_at_start_naming_the_setting(tmp_path, test_data, rule, problem):
    data = str(test_data / SAMPLE)
    proc = _run(tmp_path, "simulate", _env(tmp_path, SWINGTRADER_UNIVERSE_RULE=rule), "--start", "2021-02-01",
                "--end", "2021-02-28", "--data", data)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert problem in proc.stderr
    assert "Traceback" not in proc.stderr
    if rule == "top=3":
        assert f"{SAMPLE} has no volume column" in proc.stderr
    assert not list((tmp_path / "var").rglob("*.sqlite")) if (tmp_path / "var").exists() else True


def test_the_traded_value_rule_runs_on_data_with_volume(tmp_path):
    env = _env(tmp_path, SWINGTRADER_UNIVERSE_RULE="top=5,min_price=100")
    proc = _run(tmp_path, "analyze", env, "--as-of", "2024-03-15", "--data", "bundled", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["symbols_analysed"] == 5
    assert len(out["rejected"]["not_in_universe"]) == 45


@pytest.mark.parametrize("golden", [
    "dip_buy_2024q1_golden.json",
    pytest.param("dip_buy_2024_golden.json", marks=[
        pytest.mark.slow,
        pytest.mark.skipif(not os.environ.get("SWINGTRADER_YEAR_EQUIVALENCE"),
                           reason="the year takes ~30 s of CPU: set SWINGTRADER_YEAR_EQUIVALENCE=1"),
    ]),
])
@pytest.mark.parametrize("rule", ["", "listed"])
def test_an_empty_or_admit_all_rule_trades_exactly_as_without_one(tmp_path, test_data, golden, rule):
    """The empty rule is today's behaviour; `listed` admits every symbol with a bar, which are the only ones the
    strategy can pick, so the trades are the same too."""
    expected = json.loads((test_data / golden).read_text())
    start, end = expected["recorded"].split("--start ")[1].split(" --end ")
    proc = _run(tmp_path, "simulate", _env(tmp_path, SWINGTRADER_UNIVERSE_RULE=rule), "--start", start, "--end",
                end.split()[0], "--data", "bundled", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [_relabelled(t) for t in expected["trades"]] == report["trades"]
    assert (report["pnl"], report["final_equity"]) == (expected["pnl"], expected["final_equity"])
    assert report["orders"] == expected["orders"]
    assert ("no SWINGTRADER_UNIVERSE_RULE" in report["headline"]["universe"]) == (rule == "")
