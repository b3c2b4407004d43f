"""The plan and the catch-up rules, with the real calendar and ledger; the tasks are stand-ins."""

from datetime import date, datetime, time, timedelta

import pytest

from swingtrader.clock import IST, SimClock
from swingtrader.market.calendar import TradingCalendar
from swingtrader.schedule import Plan, Scheduler
from swingtrader.store import Store
from swingtrader.store.ledger import Ledger


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


@pytest.fixture
def ledger(tmp_path):
    return Ledger(Store.open(f"sqlite:///{tmp_path / 's.sqlite'}"))


def _count(slots, task):
    return sum(1 for s in slots if s.task == task)


def test_a_regular_day_has_every_slot(calendar):
    slots = Plan(calendar, ("monitor_sell_orders",)).slots(date(2024, 7, 1))
    assert _count(slots, "monitor_sell_orders") == 375
    assert [s.slot for s in slots if s.task == "position_monitor"] == [
        "09:30", "10:30", "11:30", "12:30", "13:30", "14:30"]
    daily = [(s.task, s.slot) for s in slots if not s.intraday]
    assert daily == [("premarket_retry", "09:00"), ("place_sell_orders", "09:15"), ("analysis", "16:00"),
                     ("place_buy_orders", "16:05"), ("eod_cleanup", "18:00")]
    # the 09:15 sell placement runs before the 09:15 monitor
    assert [s.task for s in slots[1:3]] == ["place_sell_orders", "monitor_sell_orders"]


def test_holidays_have_no_slots_and_special_sessions_only_monitor(calendar):
    plan = Plan(calendar, ("monitor_sell_orders",))
    assert plan.slots(date(2024, 8, 15)) == []  # Independence Day
    assert plan.slots(date(2024, 7, 6)) == []  # a Saturday
    drill = plan.slots(date(2024, 1, 20))  # 09:15-10:00 and 11:30-12:30
    assert {s.task for s in drill} == {"monitor_sell_orders"}
    assert len(drill) == 45 + 60
    assert "10:00" not in {s.slot for s in drill} and "11:30" in {s.slot for s in drill}


class Recorder:
    def __init__(self, clock, fail=()):
        self.clock, self.fail, self.runs = clock, set(fail), []

    def __call__(self, slot):
        self.runs.append((slot.task, slot.slot, self.clock.now().strftime("%H:%M")))
        if slot.task in self.fail:
            raise RuntimeError(f"{slot.task} broke")
        return {}


def _run(calendar, ledger, start, until, fail=(), look_back=False):
    clock = SimClock(start)
    rec = Recorder(clock, fail)
    sched = Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar, rec)
    sched.run(start_day=None if look_back else start.date(), until=until)
    return rec


def test_started_at_11_places_sells_now_and_records_the_premarket_retry_as_missed(calendar, ledger):
    day = date(2024, 7, 1)
    rec = _run(calendar, ledger, datetime.combine(day, time(11, 0), tzinfo=IST),
               datetime.combine(day, time(11, 2), tzinfo=IST))
    assert rec.runs[0] == ("place_sell_orders", "09:15", "11:00")
    assert ("position_monitor", "10:30", "11:00") in rec.runs
    statuses = ledger.statuses(day)
    assert statuses[("premarket_retry", "09:00")] == "missed"
    assert statuses[("monitor_sell_orders", "10:59")] == "skipped"
    assert statuses[("monitor_sell_orders", "11:00")] == "succeeded"
    assert statuses[("position_monitor", "09:30")] == "skipped"
    assert sum(1 for (task, _), s in statuses.items() if task == "monitor_sell_orders" and s == "skipped") == 105


def test_started_at_20_runs_the_evening_tasks_now(calendar, ledger):
    day = date(2024, 7, 1)
    rec = _run(calendar, ledger, datetime.combine(day, time(20, 0), tzinfo=IST),
               datetime.combine(day, time(23, 0), tzinfo=IST))
    assert rec.runs == [("analysis", "16:00", "20:00"), ("place_buy_orders", "16:05", "20:00"),
                        ("eod_cleanup", "18:00", "20:00")]
    statuses = ledger.statuses(day)
    assert statuses[("place_sell_orders", "09:15")] == "missed"
    assert statuses[("monitor_sell_orders", "15:29")] == "missed"


def test_an_earlier_days_buys_are_never_sent_after_the_next_session_opened(calendar, ledger):
    friday, monday = date(2024, 7, 5), date(2024, 7, 8)
    rec = _run(calendar, ledger, datetime.combine(monday, time(9, 20), tzinfo=IST),
               datetime.combine(monday, time(9, 21), tzinfo=IST), look_back=True)
    assert all(task != "place_buy_orders" for task, _, _ in rec.runs)
    assert ledger.statuses(friday)[("place_buy_orders", "16:05")] == "missed"


def test_a_failing_task_is_recorded_and_buys_wait_for_a_successful_analysis(calendar, ledger):
    day = date(2024, 7, 1)
    rec = _run(calendar, ledger, datetime.combine(day, time(15, 50), tzinfo=IST),
               datetime.combine(day, time(18, 30), tzinfo=IST), fail={"analysis"})
    statuses = ledger.statuses(day)
    assert statuses[("analysis", "16:00")] == "failed"
    assert statuses[("place_buy_orders", "16:05")] == "skipped"
    assert statuses[("eod_cleanup", "18:00")] == "succeeded"  # the loop went on
    assert ("eod_cleanup", "18:00", "18:00") in rec.runs


def test_a_restart_never_reruns_a_finished_slot(calendar, ledger):
    day = date(2024, 7, 1)
    start = datetime.combine(day, time(15, 55), tzinfo=IST)
    until = datetime.combine(day, time(18, 30), tzinfo=IST)
    first = _run(calendar, ledger, start, until)
    second = _run(calendar, ledger, start, until)
    assert [r[0] for r in first.runs] == ["analysis", "place_buy_orders", "eod_cleanup"]
    assert second.runs == []


def test_the_last_known_session_still_runs_and_then_the_loop_says_why_it_stops(calendar, ledger):
    from swingtrader.market.calendar import CalendarDataMissing

    last = calendar.previous_session(date(2027, 1, 1)).date  # 2027 has no holiday data
    slots = Plan(calendar, ("monitor_sell_orders",)).slots(last)
    evening = next(s for s in slots if s.task == "eod_cleanup")
    assert evening.deadline.date() > last  # an estimated next pre-open, not a crash
    clock = SimClock(datetime.combine(last, time(17, 0), tzinfo=IST))
    rec = Recorder(clock)
    sched = Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar, rec)
    with pytest.raises(CalendarDataMissing):
        sched.run(start_day=last)
    assert ("eod_cleanup", "18:00", "18:00") in rec.runs


def test_a_slow_task_makes_later_slots_late_or_skipped_never_lost(calendar, ledger):
    day = date(2024, 7, 1)
    clock = SimClock(datetime.combine(day, time(9, 10), tzinfo=IST))
    runs = []

    def slow_sells(slot):
        runs.append((slot.task, slot.slot, clock.now().strftime("%H:%M")))
        if slot.task == "place_sell_orders":
            clock.advance(timedelta(minutes=4, seconds=30))  # the broker was slow
        return {}

    Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar, slow_sells).run(
        start_day=day, until=datetime.combine(day, time(9, 22), tzinfo=IST))
    statuses = ledger.statuses(day)
    monitors = {slot: s for (task, slot), s in statuses.items() if task == "monitor_sell_orders"}
    assert monitors == {"09:15": "skipped", "09:16": "skipped", "09:17": "skipped", "09:18": "skipped",
                        "09:19": "succeeded", "09:20": "succeeded", "09:21": "succeeded"}
    assert ("monitor_sell_orders", "09:19", "09:19") in runs  # run late, 30 s after its minute


def test_a_fresh_store_records_nothing_missed_from_before_it_existed(calendar, ledger):
    """Issue 14: a store made on Monday 09:20 backfilled Friday's 384 slots as `missed`; a store that existed
    on Friday still accounts for them."""
    friday, monday = date(2024, 7, 5), date(2024, 7, 8)
    start = datetime.combine(monday, time(9, 20), tzinfo=IST)
    clock = SimClock(start)
    sched = Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar, Recorder(clock, ()))
    sched.born = start
    sched.run(until=datetime.combine(monday, time(9, 21), tzinfo=IST))
    assert ledger.statuses(friday) == {}
    assert ("premarket_retry", "09:00") not in ledger.statuses(monday)  # over at 09:15, before the store
    assert ledger.statuses(monday)[("monitor_sell_orders", "09:20")] == "succeeded"
    sched.born = datetime.combine(friday, time(8, 0), tzinfo=IST)
    sched.run(until=datetime.combine(monday, time(9, 21), tzinfo=IST))
    assert ledger.statuses(friday)[("analysis", "16:00")] == "missed"


def test_a_task_stopped_while_it_waits_is_not_failed_and_runs_again_at_the_next_start(calendar, ledger):
    """Issue 14: Ctrl-C while the analysis waited for bars left it `failed`; now the slot runs again."""
    from swingtrader.schedule import StopRequested

    day = date(2024, 7, 1)
    clock = SimClock(datetime.combine(day, time(16, 0), tzinfo=IST))
    runs = []

    def analysis_interrupted_once(slot):
        runs.append((slot.task, slot.slot))
        if slot.task == "analysis" and runs.count(("analysis", "16:00")) == 1:
            scheduler.stop.set()  # the SIGINT handler's effect
            raise StopRequested("stopped while the analysis waited for its bars")
        return {}

    scheduler = Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar,
                          analysis_interrupted_once)
    scheduler.run(start_day=day, until=datetime.combine(day, time(23, 0), tzinfo=IST))
    assert ledger.statuses(day)[("analysis", "16:00")] == "running"  # not failed, nothing after it ran
    assert ("place_buy_orders", "16:05") not in ledger.statuses(day)
    restarted = Scheduler(Plan(calendar, ("monitor_sell_orders",)), ledger, clock, calendar,
                          analysis_interrupted_once)
    restarted.run(start_day=day, until=datetime.combine(day, time(23, 0), tzinfo=IST))
    statuses = ledger.statuses(day)
    assert statuses[("analysis", "16:00")] == statuses[("place_buy_orders", "16:05")] == "succeeded"
    assert runs.count(("analysis", "16:00")) == 2
