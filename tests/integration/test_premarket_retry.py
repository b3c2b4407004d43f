"""A buy that failed for want of cash at 16:05 is re-checked and re-placed by the next morning's
`premarket_retry` as a DAY LIMIT order for the pre-open, once the cash is there; it fills at the open."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path.state import LocalStatus
from swingtrader.service import ClockMode, build_service, paper_broker
from swingtrader.store import Store


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def test_a_buy_that_failed_for_cash_is_retried_before_the_next_open(nifty_dir, tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source(str(nifty_dir))
    store = Store.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
    start = date(2024, 3, 1)
    clock = SimClock(at(start, 8, 0))
    exchange = paper_broker(settings, store, clock, bars, calendar, initial_cash=Decimal(20_000))
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=exchange)
    orders = service.context.orders
    day, failed = start, []
    while not failed:  # trade the days until a recommended buy does not fit the 20,000 rupees
        assert day < date(2024, 6, 30), "no recommendation in the window"
        service.scheduler.run(start_day=day, until=at(day, 16, 30))
        failed = [o for o in orders.for_day(day, "place_buy_orders") if o.status is LocalStatus.FAILED]
        day = calendar.next_session(day).date
        while calendar.session(day).kind != "regular":  # special sessions run no pre-market task
            day = calendar.next_session(day).date
    assert {o.reason for o in failed} == {"insufficient_funds"}
    exchange.deposit(Decimal(2_000_000))  # the trader tops the account up in the evening
    service.scheduler.run(start_day=calendar.previous_session(day).date, until=at(day, 9, 5))
    retried = orders.for_day(day, "premarket_retry")
    assert {o.symbol for o in retried} == {o.symbol for o in failed}
    assert all(not o.amo and o.order_type.value == "LIMIT" and o.status is LocalStatus.PENDING for o in retried)
    service.scheduler.run(start_day=day, until=at(day, 9, 17))
    after_open = orders.for_day(day, "premarket_retry")
    assert all(o.status is LocalStatus.FILLED for o in after_open), after_open
    held = {p.symbol for p in service.context.portfolio.open_positions()}
    assert {o.symbol for o in failed} <= held
    store.dispose()
