"""A simulated week that crosses every midnight with the service running: its real tasks on the scheduler, the
real Kotak client over loopback HTTP against the fake (tokens die at IST midnight, and early every 5 h as
injected faults), and a broker read every minute from 23:45 to 00:15 (a dashboard left open overnight). Full
logins = the days the service logged in on + the injected expiries: no login storm before midnight."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from swingtrader.broker.kotak_neo.harness import client_for, start_fake
from swingtrader.clock import IST, SimClock, ist_date
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.schedule import Scheduler
from swingtrader.service import ClockMode, build_service, paper_broker
from swingtrader.store import Store
from swingtrader.store import tables as t

START, LAST = date(2024, 3, 6), date(2024, 3, 14)  # Wed .. Thu: the Fri 8th is a holiday, then a weekend
FAULTS = "expire=5h,seed=4"


def test_a_week_across_midnights_logs_in_once_per_day_plus_once_per_injected_expiry(nifty_dir, tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source(str(nifty_dir))
    store = Store.open(f"sqlite:///{tmp_path / 'week.sqlite'}")
    clock = SimClock(datetime.combine(START, time(8, 0), tzinfo=IST))
    exchange = paper_broker(settings, store, clock, bars, calendar, initial_cash=Decimal(1_000_000))
    night_reads = 0
    with start_fake(exchange, clock, faults=FAULTS, symbols=bars.symbols()) as fake, \
            client_for(fake, clock) as client:
        service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store,
                                bars=bars, broker=client)

        def overnight_dashboard() -> None:
            nonlocal night_reads
            now = clock.now().astimezone(IST).time()
            if now >= time(23, 45) or now < time(0, 15):
                service.broker.funds()
                night_reads += 1

        Scheduler(service.plan, service.ledger, clock, calendar, service.run_slot, heartbeat=overnight_dashboard,
                  heartbeat_interval=timedelta(minutes=1)).run(
            start_day=START, until=datetime.combine(LAST, time(9, 1), tzinfo=IST))
        expiries = fake.fault_counts().get("expire", 0)
        http_logins = client.call_counts()["login"]
    with store.connect() as conn:
        events = conn.execute(select(t.session_events.c.at, t.session_events.c.event)).all()
    login_days = sorted({ist_date(at) for at, event in events if event == "login"})
    logins = service.broker.logins
    print(f"\nlogins {logins} = days {len(login_days)} + injected expiries {expiries}; night reads {night_reads}")
    assert night_reads >= 8 * 30
    assert login_days == [START + timedelta(days=i) for i in range((LAST - START).days + 1)]
    assert expiries > 0
    assert logins == http_logins == len(login_days) + expiries
    assert [e for _, e in events].count("expired") == expiries
    runs = service.ledger.counts()
    assert runs["monitor_sell_orders"].get("succeeded", 0) > 1000
    assert all(r.get("failed", 0) == 0 for r in runs.values()), runs
