"""During `monitor_sell_orders` the broker is read at most twice per cycle (one order-book read, one
batched quote read), however many positions are open. Moving a target down is a write on top of that."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from decimal import Decimal

from swingtrader.broker.base import Side
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.schedule import Scheduler
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_broker
from swingtrader.store import Store


def test_monitor_reads_the_broker_at_most_twice_per_cycle(nifty_dir, tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source(str(nifty_dir))
    store = Store.open(f"sqlite:///{tmp_path / 'm.sqlite'}")
    start = date(2024, 10, 1)
    clock = SimClock(datetime.combine(start, time(8, 0), tzinfo=IST))
    exchange = paper_broker(settings, store, clock, bars, calendar, initial_cash=Decimal(1_000_000))
    calls: list[str] = []
    hooks = ServiceHooks(on_call=lambda op, _outcome: calls.append(op))
    service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                            bars=bars, broker=exchange, hooks=hooks)
    per_cycle: list[tuple[int, Counter]] = []

    def counting(slot):
        if slot.task != "monitor_sell_orders":
            return service.run_slot(slot)
        sells = len(service.context.orders.active(side=Side.SELL))
        before = len(calls)
        result = service.run_slot(slot)
        per_cycle.append((sells, Counter(calls[before:])))
        return result

    Scheduler(service.plan, service.ledger, clock, calendar, counting).run(
        start_day=start, until=datetime.combine(date(2024, 10, 30), time(0, 0), tzinfo=IST))
    by_positions = {n for n, _ in per_cycle}
    assert 1 in by_positions and max(by_positions) == 6, by_positions
    writes = {"modify_order", "place_order", "cancel_order"}
    for _, counted in per_cycle:
        reads = Counter({op: n for op, n in counted.items() if op not in writes})
        assert sum(reads.values()) <= 2, counted
        assert reads["orders"] == 1 and reads["quotes"] <= 1
    assert any(n == 6 and c["quotes"] == 1 for n, c in per_cycle)
