from datetime import date, datetime

import pytest

from swingtrader.clock import IST
from swingtrader.store import Store
from swingtrader.store.ledger import Ledger, RunStatus, SlotTaken

DAY = date(2024, 7, 1)
AT = datetime(2024, 7, 1, 9, 15, tzinfo=IST)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(Store.open(f"sqlite:///{tmp_path / 'l.sqlite'}"))


def test_a_slot_is_claimed_once_and_a_success_is_never_rerun(ledger):
    claim = ledger.claim("analysis", DAY, "16:00", AT, AT)
    ledger.finish(claim, RunStatus.SUCCEEDED, AT, detail={"n": 3})
    with pytest.raises(SlotTaken):
        ledger.claim("analysis", DAY, "16:00", AT, AT)
    with pytest.raises(SlotTaken):
        ledger.claim("analysis", DAY, "16:00", AT, AT, manual=True)
    assert ledger.statuses(DAY) == {("analysis", "16:00"): RunStatus.SUCCEEDED}


def test_a_run_interrupted_by_a_crash_is_reclaimed(ledger):
    first = ledger.claim("place_sell_orders", DAY, "09:15", AT, AT)
    again = ledger.claim("place_sell_orders", DAY, "09:15", AT, AT)
    assert again.run_id == first.run_id and again.resumed


def test_failed_slot_needs_a_manual_rerun(ledger):
    claim = ledger.claim("eod_cleanup", DAY, "18:00", AT, AT)
    ledger.finish(claim, RunStatus.FAILED, AT, error="boom")
    with pytest.raises(SlotTaken):
        ledger.claim("eod_cleanup", DAY, "18:00", AT, AT)
    manual = ledger.claim("eod_cleanup", DAY, "18:00", AT, AT, manual=True)
    ledger.finish(manual, RunStatus.SUCCEEDED, AT)
    assert ledger.counts() == {"eod_cleanup": {"succeeded": 1}}


def test_unrun_slots_are_recorded_once(ledger):
    assert ledger.record_unrun("premarket_retry", DAY, "09:00", RunStatus.MISSED, AT, AT, "late start")
    assert not ledger.record_unrun("premarket_retry", DAY, "09:00", RunStatus.MISSED, AT, AT, "late start")
    with pytest.raises(ValueError):
        ledger.record_unrun("premarket_retry", DAY, "09:00", RunStatus.SUCCEEDED, AT, AT, "no")
