"""Done when (issue 14): the real `swingtrader run` over a span of sessions on the paced clock, its data
directory written file by file like a downloader: every ledger row succeeded, the same analyses, orders, fills,
trades and P&L as `simulate`, one login a session (plus one per injected token expiry), no ERROR log line, two
bar-cache entries at most, RSS growth bounded. In paper mode, and in live mode against `kotak-fake` with its
faults on the service's clock. The short paper span runs in `make test`; `make soak` runs the long span in both
modes (scenario: `soak.py`)."""

from __future__ import annotations

import pytest

from tests.e2e import soak


def test_a_short_span_across_weekends_and_holidays(tmp_path):
    figures = soak.run_soak(tmp_path, *soak.SHORT, timeout=400)
    print(figures.report())
    assert figures.sessions == 10
    soak.check(figures)


@pytest.mark.soak
@pytest.mark.timeout(4 * 3600)
def test_sixty_sessions_across_a_year_end(tmp_path):
    figures = soak.run_soak(tmp_path, *soak.LONG, timeout=4 * 3600 - 300)
    print(figures.report())
    assert figures.sessions >= 60
    soak.check(figures)


@pytest.mark.soak
@pytest.mark.timeout(4 * 3600)
def test_sixty_sessions_across_a_year_end_live_against_kotak_fake(tmp_path):
    figures = soak.run_soak(tmp_path, *soak.LONG, timeout=4 * 3600 - 300, live=soak.FAULTS)
    print(figures.report())
    assert figures.sessions >= 60 and figures.faults["expire"] > 0
    soak.check(figures)
