"""Twenty trading days through the real Kotak client over loopback HTTP against the fake server, with the
fault mix of issue 3, end exactly where the same days end on the plain paper broker."""

from __future__ import annotations

import json
import subprocess
import sys

START, END = "2024-03-01", "2024-04-01"  # 20 sessions, including the Saturday drill session of 2 March
FAULTS = "expire=2h,http429=0.02,http5xx=0.01,lost_reply=0.005,seed=7"


def _simulate(nifty_dir, tmp_path, name, *extra):
    db = tmp_path / f"{name}.sqlite"
    proc = subprocess.run(
        [sys.executable, "-m", "swingtrader", "simulate", "--start", START, "--end", END, "--data", str(nifty_dir),
         "--db", str(db), "--json", *extra],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_faulty_kotak_run_matches_the_paper_run(nifty_dir, tmp_path):
    paper = _simulate(nifty_dir, tmp_path, "paper")
    fake = _simulate(nifty_dir, tmp_path, "fake", "--broker", "kotak-fake", "--faults", FAULTS)
    assert fake["trading_days"] == 20
    injected = fake["faults"]
    assert injected["expire"] > 0 and injected["http429"] > 0 and injected["http5xx"] > 0
    assert injected["lost_reply"] > 0
    print(f"logins {fake['logins']} = trading days {fake['trading_days']} + injected expiries {injected['expire']}")
    assert fake["logins"] == fake["trading_days"] + injected["expire"]
    assert paper["logins"] == paper["trading_days"]
    assert fake["trades"] and fake["trades"] == paper["trades"]
    assert fake["pnl"] == paper["pnl"]
    assert fake["final_equity"] == paper["final_equity"]
    assert fake["duplicate_client_tags"] == 0
    assert all(runs["failed"] == 0 for runs in fake["task_runs"].values()), fake["task_runs"]
    assert fake["broker_calls"]["place_order"] >= fake["orders"]["placed"]
