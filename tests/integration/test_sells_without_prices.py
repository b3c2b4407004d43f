"""Target sells on a morning without prices (issue 16, bullet 10): with the broker's quotes down at 09:15,
`place_sell_orders` records `skipped` naming the positions (not `succeeded` with nothing placed), and once
prices return the minute monitor places the day's missing target sells, once each. Real paper exchange and
SQLite store on the bundled sample; only the broker's price feed is switched off and on."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import select

from swingtrader.broker.base import Side
from swingtrader.broker.paper import PaperBroker
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.service import ClockMode, build_service, cost_rates, paper_path
from swingtrader.store import Store
from swingtrader.store import tables as t


class SwitchedPrices:
    """The paper exchange's price path, with the feed switched off (no price for anything) while `down`."""

    def __init__(self, inner) -> None:
        self.inner, self.down = inner, False

    def price_at(self, symbol: str, day: date, moment: datetime) -> Decimal | None:
        return None if self.down else self.inner.price_at(symbol, day, moment)

    def range_between(self, symbol, day, t0, t1):
        return None if self.down else self.inner.range_between(symbol, day, t0, t1)

    def prev_close(self, symbol: str, day: date) -> Decimal | None:
        return self.inner.prev_close(symbol, day)

    def points(self, symbol, day):
        return None if self.down else self.inner.points(symbol, day)


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def _run_row(store: Store, task: str, day: date, slot: str):
    r = t.task_runs
    with store.connect() as conn:
        return conn.execute(select(r.c.status, r.c.error, r.c.detail).where(
            r.c.task == task, r.c.trading_date == day, r.c.slot == slot)).first()


def test_no_prices_at_0915_is_skipped_and_the_monitor_places_the_targets_when_they_return(tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source("bundled")
    store = Store.open(f"sqlite:///{tmp_path / 'sells.sqlite'}")
    day = calendar.next_session(date(2023, 12, 31)).date
    clock = SimClock(at(day, 8, 0))
    prices = SwitchedPrices(paper_path(bars, calendar))
    broker = PaperBroker(store, clock, prices, calendar, initial_cash=settings.initial_capital,
                         costs=cost_rates(settings), band_pct=settings.paper_price_band_pct)
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=broker)
    orders, ledger = service.context.orders, service.ledger
    while True:  # trade until a morning with sellable positions; that morning the feed is down at 09:15
        assert day < date(2024, 6, 30), "no morning with a sellable position in the window"
        prices.down = True
        service.scheduler.run(start_day=day, until=at(day, 9, 16))
        ledger.flush()
        row = _run_row(store, "place_sell_orders", day, "09:15")
        if row is not None and row.status == "skipped":
            break
        prices.down = False
        service.scheduler.run(start_day=day, until=at(day, 23, 0))
        day = calendar.next_session(day).date

    assert row.error.startswith("no price for ") and "the monitor places their target sells" in row.error
    named = row.error.removeprefix("no price for ").split(":")[0].split(";")[0].split(", ")
    assert named and set(named) <= {p.symbol for p in service.context.portfolio.open_positions()}
    assert [o for o in orders.for_day(day) if o.side is Side.SELL] == []  # nothing placed without a price

    service.scheduler.run(start_day=day, until=at(day, 9, 20))  # still down: the monitor places nothing
    assert [o for o in orders.for_day(day) if o.side is Side.SELL] == []

    prices.down = False  # the feed is back
    service.scheduler.run(start_day=day, until=at(day, 9, 22))
    ledger.flush()
    sells = [o for o in orders.for_day(day) if o.side is Side.SELL]
    assert sells and {o.task for o in sells} == {"monitor_sell_orders"} and {o.purpose for o in sells} == {"target"}
    assert len({o.symbol for o in sells}) == len(sells)  # one per position
    placed = _run_row(store, "monitor_sell_orders", day, "09:20").detail["targets_placed"]
    assert sorted(p["symbol"] for p in placed) == sorted(o.symbol for o in sells)

    service.scheduler.run(start_day=day, until=at(day, 9, 40))  # later minutes place nothing more
    assert len([o for o in orders.for_day(day) if o.side is Side.SELL]) == len(sells)
    store.dispose()
