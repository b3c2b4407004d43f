"""Done when (issue 10): one `swingtrader run` (paper) through five trading days on a paced test clock, its data
directory gaining each day's bars while it runs, ends with the same analyses, orders, fills and trades as
`simulate` over the same days and bars (scenario: `five_days.py`)."""

from __future__ import annotations

import socket

from tests.e2e import five_days
from tests.e2e.five_days import DAYS
from tests.e2e.ledger import assert_whole_ledger


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_five_trading_days_in_one_process_match_simulate(tmp_path):
    five_days.prepare(tmp_path)
    proc = five_days.start_run(tmp_path, port=_free_port())
    try:
        five_days.drive(proc, tmp_path, timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    run_db = tmp_path / "var" / "swingtrader.sqlite"
    sim_db = five_days.simulate(tmp_path)

    assert five_days.analysis_runs(run_db) == {d.isoformat(): "succeeded" for d in DAYS}
    counts = assert_whole_ledger(run_db)  # every row of every task, eod_cleanup included (issue 14)
    assert counts["succeeded"] >= 5 * 7
    run, sim = five_days.outcome(run_db), five_days.outcome(sim_db)
    # each day's analysis saw that day's bar: candidates dated every evening they were found, closes included
    assert {r[0] for r in run["analysis"]} == {r[0] for r in sim["analysis"]} != set()
    assert run["analysis"] == sim["analysis"]
    assert [o for o in run["orders"] if o[4] == "BUY"] == [o for o in sim["orders"] if o[4] == "BUY"]
    assert run["orders"] == sim["orders"]
    assert run["fills"] == sim["fills"]
    assert len(run["trades"]) == 3 and run["trades"] == sim["trades"]
    assert run["positions"] == sim["positions"]
