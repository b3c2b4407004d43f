"""The monitor cycle's broker reads through the real Kotak client against the realistic fake (lost replies,
delayed visibility, statuses beyond ours, rewritten tags): the doubt lookups add no read to a cycle in which no
order is in doubt, and the measured maximum is still 2 reads per cycle."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time
from decimal import Decimal

from swingtrader.broker.kotak_neo.harness import client_for, start_fake
from swingtrader.broker.paper import PaperBroker
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.schedule import Scheduler
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_path
from swingtrader.store import Store

FAULTS = "lost_reply=0.01,status_noise=0.3,tag_rewrite=1,visibility_delay=2s,seed=11"
WRITES = {"modify_order", "place_order", "cancel_order"}


def test_monitor_reads_at_most_twice_per_cycle_against_the_realistic_fake(nifty_dir, tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source(str(nifty_dir))
    store = Store.open(f"sqlite:///{tmp_path / 'm.sqlite'}")
    start = date(2024, 10, 1)
    clock = SimClock(datetime.combine(start, time(8, 0), tzinfo=IST))
    exchange = PaperBroker(store, clock, paper_path(bars, calendar), calendar, initial_cash=Decimal(1_000_000))
    calls: list[str] = []
    per_cycle: list[Counter] = []
    with start_fake(exchange, clock, faults=FAULTS, symbols=bars.symbols()) as fake, client_for(fake, clock) as client:
        service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                                bars=bars, broker=client,
                                hooks=ServiceHooks(on_call=lambda op, _outcome: calls.append(op)))

        def counting(slot):
            if slot.task != "monitor_sell_orders":
                return service.run_slot(slot)
            before = len(calls)
            result = service.run_slot(slot)
            per_cycle.append(Counter(op for op in calls[before:] if op not in WRITES))
            return result

        Scheduler(service.plan, service.ledger, clock, calendar, counting).run(
            start_day=start, until=datetime.combine(date(2024, 10, 15), time(0, 0), tzinfo=IST))
        injected = fake.fault_counts()
    busiest = max(sum(c.values()) for c in per_cycle)
    print(f"\n{len(per_cycle)} monitor cycles, at most {busiest} reads in one; faults {injected}")
    assert injected["lost_reply"] > 0 and injected["tag_rewrite"] > 0
    assert per_cycle and busiest <= 2
