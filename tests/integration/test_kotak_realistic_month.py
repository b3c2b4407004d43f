"""A simulated month through the real Kotak client against a fake that behaves like the real API (statuses
beyond ours, tags rewritten after a modify or cancel, new orders visible only after 2 s, session errors inside
a 200, stale "No Data" books, fills shown before their prices) on top of issue 3's fault mix, ends with the same
trades and P&L as plain paper: no duplicate order at the exchange, no task failed."""

from __future__ import annotations

from tests.integration.test_simulate_kotak_fake import FAULTS, _simulate

KNOBS = "status_noise=0.3,tag_rewrite=1,visibility_delay=2s,stale_books=0.05,price_delay=90s"


def test_a_month_against_the_realistic_fake_matches_paper(nifty_dir, tmp_path):
    paper = _simulate(nifty_dir, tmp_path, "paper")
    fake = _simulate(nifty_dir, tmp_path, "fake", "--broker", "kotak-fake", "--faults", f"{FAULTS},{KNOBS}")
    injected = fake["faults"]
    print(f"injected: {injected}")
    assert injected["status_noise"] > 0 and injected["status_undocumented"] > 0 and injected["tag_rewrite"] > 0
    assert injected["lost_reply"] > 0 and injected["expire"] > 0 and injected["stale_book"] > 0
    assert fake["trades"] and fake["trades"] == paper["trades"]
    assert fake["pnl"] == paper["pnl"] and fake["final_equity"] == paper["final_equity"]
    assert fake["duplicate_client_tags"] == 0
    assert all(runs["failed"] == 0 for runs in fake["task_runs"].values()), fake["task_runs"]
