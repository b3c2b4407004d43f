"""The plan the running service publishes for the dashboard is today's, whatever earlier day the loop catches up
on (at start, or after a store fault sends it back to the previous session)."""

from __future__ import annotations

from datetime import date, datetime, time

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.service import ClockMode, build_service, paper_broker
from swingtrader.store import Store
from swingtrader.store.state import ServiceState
from swingtrader.task_names import TASK_NAMES

FRIDAY, MONDAY = date(2024, 5, 31), date(2024, 6, 3)


def test_catching_up_an_earlier_day_keeps_todays_plan_published(tmp_path):
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source("bundled", cache_dir=tmp_path / "bars")
    store = Store.open(f"sqlite:///{tmp_path / 'p.sqlite'}")
    try:
        settings = load_settings(None, data_dir=tmp_path)
        clock = SimClock(datetime.combine(MONDAY, time(10, 0), tzinfo=IST))
        exchange = paper_broker(settings, store, clock, bars, calendar)
        service = build_service(settings, clock=clock, clock_mode=ClockMode.WALL, calendar=calendar, store=store,
                                bars=bars, broker=exchange)
        state = ServiceState(store)

        service.scheduler.run(start_day=MONDAY, until=datetime.combine(MONDAY, time(9, 0), tzinfo=IST))
        published = state.plan()
        assert published is not None and published.day == MONDAY
        assert {s.task for s in published.slots} == set(TASK_NAMES)

        # the loop goes back to Friday (its slots are over: recorded as missed, nothing runs)
        service.scheduler.run(start_day=FRIDAY, until=datetime.combine(FRIDAY, time(17, 0), tzinfo=IST))
        assert state.plan() == published
    finally:
        store.dispose()
