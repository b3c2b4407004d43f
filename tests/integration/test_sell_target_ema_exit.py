"""The live sell target follows `SWINGTRADER_EMA_EXIT` like the backtest scoring does: with 5, the target
placed at 09:15 and every later move is the 5-period EMA of the closes up to the last session, with the last
price as today's close, rounded up to the tick. Runs on the bundled Nifty 50 sample."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from swingtrader.broker.base import Side
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import BarSource, open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.market.ticks import round_to_tick
from swingtrader.service import ClockMode, Service, build_service, paper_broker
from swingtrader.store import Store


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def ema_of_closes(bars: BarSource, symbol: str, through: date, n: int) -> float:
    """EMA(n) at the close of `through`: seeded with the mean of the first n closes (TA-Lib's convention)."""
    history = bars.bars(symbol)
    closes = [float(c) for d, c in zip(history.dates.tolist(), history.close.tolist(), strict=True) if d <= through]
    alpha = 2.0 / (n + 1)
    value = sum(closes[:n]) / n
    for close in closes[n:]:
        value = alpha * close + (1 - alpha) * value
    return value


def expected_target(service: Service, bars: BarSource, symbol: str, day: date, n: int) -> Decimal:
    """The provisional EMA(n) with the last price now as today's close, rounded up to the tick."""
    ltp = service.broker.quotes([symbol])[symbol].ltp
    prev = service.calendar.previous_session(day).date
    alpha = 2.0 / (n + 1)
    now = alpha * float(ltp) + (1 - alpha) * ema_of_closes(bars, symbol, prev, n)
    return round_to_tick(Decimal(repr(now)), day, "up")


def test_live_sell_targets_use_the_ema_exit_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SWINGTRADER_EMA_EXIT", "5")
    settings = load_settings(None, data_dir=tmp_path)
    assert settings.ema_exit == 5
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source("bundled")
    store = Store.open(f"sqlite:///{tmp_path / 'ema.sqlite'}")
    day = calendar.next_session(date(2023, 12, 31)).date
    clock = SimClock(at(day, 8, 0))
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=paper_broker(settings, store, clock, bars, calendar))
    orders = service.context.orders
    while True:  # trade until a morning places target sells; the clock stops at 09:15
        assert day < date(2024, 6, 30), "no target sell placed in the window"
        service.scheduler.run(start_day=day, until=at(day, 9, 16))
        placed = [o for o in orders.for_day(day, "place_sell_orders") if o.broker_order_id]
        if placed:
            break
        service.scheduler.run(start_day=day, until=at(day, 23, 0))
        day = calendar.next_session(day).date

    differs_from_ema9 = False
    for order in placed:
        assert order.price == expected_target(service, bars, order.symbol, day, 5), order
        differs_from_ema9 |= order.price != expected_target(service, bars, order.symbol, day, 9)
    assert differs_from_ema9, "EMA(5) and EMA(9) give the same targets here: the check would prove nothing"

    moves = 0
    for _ in range(10):  # the monitor moves a target down to the EMA(5) target of that minute
        minute = at(day, 9, 16)
        while minute < at(day, 15, 30) and moves < 3:
            before = {o.symbol: o.price for o in orders.active(side=Side.SELL) if o.purpose == "target"}
            service.scheduler.run(start_day=day, until=minute + timedelta(minutes=1))
            assert clock.now() == minute
            for order in orders.active(side=Side.SELL):
                if order.purpose == "target" and before.get(order.symbol, order.price) != order.price:
                    position = service.context.portfolio.position(order.symbol)
                    assert position is not None
                    floor = round_to_tick(position.average_price * Decimal("0.95"), day, "up")
                    assert order.price == max(expected_target(service, bars, order.symbol, day, 5), floor), order
                    moves += 1
            minute += timedelta(minutes=1)
        if moves:
            break
        service.scheduler.run(start_day=day, until=at(day, 23, 0))
        day = calendar.next_session(day).date
        service.scheduler.run(start_day=day, until=at(day, 9, 16))
    assert moves > 0, "no target moved in ten sessions"
    service.ledger.close()
    store.dispose()
