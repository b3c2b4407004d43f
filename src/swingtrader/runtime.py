"""Assemble the long-running service for `run` and `run-task`: the store, calendar, bars and broker that the
settings ask for, around `build_service`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from swingtrader.broker.base import Broker
from swingtrader.clock import Clock
from swingtrader.service import Service, build_service, cost_rates, paper_path
from swingtrader.store import Store
from swingtrader.store.state import ServiceState

log = logging.getLogger(__name__)


def open_store(settings: Any, *, migrate_in_child: bool = False) -> Store:
    """The store the settings name, its schema brought to head."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    return Store.open(settings.effective_database_url, migrate_in_child=migrate_in_child)


def make_broker(settings: Any, store: Store, clock: Clock, bars: Any, calendar: Any) -> Broker:
    """The paper exchange, or Kotak Neo for `mode=live`; wrapped read-only when `read_only` is set."""
    if settings.mode == "live":
        from swingtrader.broker.kotak_neo.client import KotakCredentials, KotakNeoBroker

        broker: Broker = KotakNeoBroker(
            KotakCredentials.from_settings(settings), login_url=settings.kotak_login_url, clock=clock,
            timeout=settings.kotak_timeout_seconds, orders_per_second=settings.kotak_orders_per_second,
            reads_per_second=settings.kotak_reads_per_second, cache_dir=Path(settings.data_dir) / "cache",
        )
    else:
        from swingtrader.broker.paper import PaperBroker

        broker = PaperBroker(store, clock, paper_path(bars, calendar), calendar,
                             initial_cash=settings.initial_capital, costs=cost_rates(settings),
                             band_pct=settings.paper_price_band_pct)
    if settings.read_only:
        from swingtrader.broker.readonly import ReadOnlyBroker

        broker = ReadOnlyBroker(broker)
    return broker


def assemble(settings: Any, clock: Clock, *, store: Store, calendar: Any, bars: Any, **wiring: Any) -> Service:
    """The service for this settings' mode; `wiring` goes to `build_service` (notify, redact, heartbeat...)."""
    broker = make_broker(settings, store, clock, bars, calendar)
    ServiceState(store).set_mode(mode_label(settings), clock.now())
    return build_service(settings, clock=clock, calendar=calendar, store=store, bars=bars, raw_broker=broker,
                         **wiring)


def mode_label(settings: Any) -> str:
    if settings.read_only:
        return f"{settings.mode} (read-only)"
    return str(settings.mode)
