"""Assemble the long-running service for `run` and `run-task`: the store, calendar, bars and broker that the
settings ask for, around `build_service`, on the wall clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from swingtrader.broker.base import Broker
from swingtrader.clock import Clock
from swingtrader.service import NO_HOOKS, ClockMode, Service, ServiceHooks, build_service, paper_broker
from swingtrader.store import Store
from swingtrader.store.state import ServiceState

if TYPE_CHECKING:
    from swingtrader.calendar_watch import CalendarWatch
    from swingtrader.config import Settings
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar

log = logging.getLogger(__name__)


def open_store(settings: Settings, *, migrate_in_child: bool = False) -> Store:
    """The store the settings name, its schema brought to head."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return Store.open(settings.effective_database_url, migrate_in_child=migrate_in_child)


def make_broker(
    settings: Settings, store: Store, clock: Clock, bars: BarSource, calendar: TradingCalendar, *,
    on_secret: Callable[[str], None] | None = None,
) -> Broker:
    """The paper exchange (its prices from the broker's quotes with `paper_prices=broker`), or Kotak Neo for
    `mode=live`; wrapped read-only when `read_only` is set. `on_secret` hears each Kotak session token."""
    if settings.mode == "live":
        from swingtrader.broker.kotak_neo.client import client_from_settings

        broker: Broker = client_from_settings(settings, clock)
    else:
        broker = paper_broker(settings, store, clock, bars, calendar, live=True, on_secret=on_secret)
    if settings.read_only:
        from swingtrader.broker.readonly import ReadOnlyBroker

        broker = ReadOnlyBroker(broker)
    return broker


def assemble(
    settings: Settings, clock: Clock, *, store: Store, calendar: TradingCalendar, bars: BarSource,
    hooks: ServiceHooks = NO_HOOKS,
) -> Service:
    """The wall-clock service for this settings' mode."""
    broker = make_broker(settings, store, clock, bars, calendar, on_secret=hooks.on_secret)
    ServiceState(store).set_mode(mode_label(settings), clock.now())
    service = build_service(settings, clock=clock, clock_mode=ClockMode.WALL, calendar=calendar, store=store,
                            bars=bars, broker=broker, hooks=hooks)
    service.scheduler.born = store_born(store)
    watch_calendar(service, settings)
    return service


def watch_calendar(service: Service, settings: Settings) -> CalendarWatch:
    """Warn before the calendar's data ends and idle (not exit) at its end (`swingtrader.calendar_watch`)."""
    from swingtrader.calendar_watch import CalendarWatch
    from swingtrader.market.calendar import TradingCalendar

    def reload() -> TradingCalendar:
        return TradingCalendar.load(settings.calendar_override_file, cache_dir=Path(settings.data_dir) / "cache")

    hooks = service.hooks
    watch = CalendarWatch(service.calendar, reload, clock=service.clock, state=ServiceState(service.store),
                          notify=service.notify, stop=service.stop_event,
                          heartbeat=hooks.heartbeat, heartbeat_every=hooks.heartbeat_every)
    service.scheduler.on_new_day, service.scheduler.on_calendar_end = watch.new_day, watch.wait_for_data
    return watch


def store_born(store: Store) -> datetime | None:
    """When the store's identity was recorded (its first `run`); None if not recorded."""
    from sqlalchemy import select

    from swingtrader.store import tables as t

    with store.connect() as conn:
        born: datetime | None = conn.execute(
            select(t.store_identity.c.created_at).where(t.store_identity.c.id == 1)).scalar()
    return born


def mode_label(settings: Settings) -> str:
    if settings.read_only:
        return f"{settings.mode} (read-only)"
    return str(settings.mode)
