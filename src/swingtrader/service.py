"""One place builds everything: `build_service` wires the clock, calendar, store, broker session, order
manager, strategy and scheduler. `Service.run` is the long-running loop with a graceful stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerUnavailable,
    RateLimited,
    SessionExpired,
)
from swingtrader.broker.prices import BarLookup, IntradayPath
from swingtrader.broker.session import SessionManager
from swingtrader.clock import Clock
from swingtrader.market.costs import CostRates
from swingtrader.orders import OrderManager, OrderRecord, RiskLimits
from swingtrader.portfolio import Portfolio
from swingtrader.schedule import Plan, Scheduler, Slot
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.ledger import Ledger
from swingtrader.strategy.dip_buy import DipBuyStrategy
from swingtrader.strategy.params import params_from_settings
from swingtrader.tasks import task_function
from swingtrader.tasks.context import TaskContext

log = logging.getLogger(__name__)

Notify = Callable[[str, str, str], None]


def cost_rates(settings: Any) -> CostRates:
    rates = CostRates(
        stt=settings.stt_rate,
        stamp_duty=settings.stamp_duty_rate,
        sebi=settings.sebi_rate,
        gst=settings.gst_rate,
        brokerage_per_order=settings.brokerage_per_order,
        dp_charge=settings.dp_charge,
    )
    if settings.exchange_txn_rate is not None:
        rates = replace(rates, exchange_txn=settings.exchange_txn_rate)
    return rates


def paper_path(bars: Any, calendar: Any) -> IntradayPath:
    def bounds(day):
        s = calendar.session(day)
        return None if s is None else (s.open, s.close)

    return IntradayPath(BarLookup(bars), bounds)


@dataclass
class Service:
    settings: Any
    clock: Clock
    calendar: Any
    store: Store
    ledger: Ledger
    plan: Plan
    broker: SessionManager
    context: TaskContext
    scheduler: Scheduler = field(init=False)
    stop_event: threading.Event = field(default_factory=threading.Event)
    notify: Notify = field(default=lambda _k, _t, _b: None)
    redact: Callable[[str], str] = str
    heartbeat: Callable[[], None] = field(default=lambda: None)
    publish_state: bool = True
    heartbeat_interval: timedelta | None = None
    announce: Callable[[str], None] = field(default=lambda _text: None)

    def __post_init__(self) -> None:
        self.scheduler = Scheduler(
            self.plan, self.ledger, self.clock, self.calendar, self.run_slot, stop=self.stop_event,
            heartbeat=self.heartbeat, on_next=self._on_next if self.publish_state else None,
            on_day=self._publish_plan if self.publish_state else None, redact=self.redact,
            heartbeat_interval=self.heartbeat_interval,
            transient=(BrokerUnavailable, RateLimited, AmbiguousOutcome, SessionExpired),
        )

    def run_slot(self, slot: Slot) -> dict | None:
        """Run one task for one slot (the scheduler records the outcome)."""
        try:
            return task_function(slot.task)(self.context, slot)
        except Exception as exc:
            self.notify("task_failed", f"{slot.task} failed", self.redact(f"{slot.trading_date} {slot.slot}: {exc}"))
            raise

    def _on_next(self, slot: Slot) -> None:
        self.store.set_state("next_slot", {"task": slot.task, "at": slot.at.isoformat()}, self.clock.now())
        self.announce(f"next: {slot.task} at {slot.at:%H:%M}")

    def _publish_plan(self, day: date, slots: list[Slot]) -> None:
        """Today's plan for the dashboard (slots not run yet show as planned)."""
        plan = [{"task": s.task, "slot": s.slot, "at": s.at.isoformat()} for s in slots]
        self.store.set_state("plan", {"date": day.isoformat(), "slots": plan}, self.clock.now())

    def request_stop(self, *_: object) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)


def build_service(
    settings: Any,
    *,
    clock: Clock,
    calendar: Any,
    store: Store,
    bars: Any,
    raw_broker: Broker,
    notify: Notify | None = None,
    redact: Callable[[str], str] = str,
    on_secret: Callable[[str], None] | None = None,
    publish_state: bool = True,
    heartbeat: Callable[[], None] | None = None,
    heartbeat_interval: timedelta | None = None,
    on_call: Callable[[str, str], None] | None = None,
    announce: Callable[[str], None] | None = None,
) -> Service:
    """Wire the service from its parts. The broker is wrapped in the one `SessionManager`."""
    notify = notify or (lambda _k, _t, _b: None)
    costs = cost_rates(settings)
    params = params_from_settings(settings)

    def session_event(event: str, detail: str) -> None:
        with store.begin() as conn:
            conn.execute(t.session_events.insert().values(at=clock.now(), broker=raw_broker.name, event=event,
                                                          detail=redact(detail)))
        if event == "login_failed":
            notify("relogin_failed", "broker login failed", redact(detail))

    broker = SessionManager(raw_broker, clock, on_event=session_event, on_secret=on_secret, on_call=on_call)
    portfolio = Portfolio(store, clock, costs)

    def paused() -> bool:
        return bool(settings.kill_switch) or bool(store.get_state("paused", False))

    def order_event(kind: str, rec: OrderRecord, detail: str) -> None:
        if kind in ("order_rejected", "order_filled", "order_lost", "order_not_sent"):
            notify(kind, f"{rec.side.value} {rec.symbol}: {kind.removeprefix('order_')}", redact(detail))

    risk = RiskLimits(
        max_order_value=settings.max_order_value,
        max_deployed_capital=settings.max_deployed_capital,
        band_pct=settings.paper_price_band_pct,
        kill_switch=paused,
        deployed_capital=portfolio.deployed_capital,
    )
    orders = OrderManager(store, broker, clock, risk, on_fill=portfolio.apply_fill, on_event=order_event)
    context = TaskContext(
        settings=settings, clock=clock, calendar=calendar, store=store, broker=broker, orders=orders,
        portfolio=portfolio, bars=bars, strategy=DipBuyStrategy(params), params=params, costs=costs, notify=notify,
    )
    plan = Plan(calendar, tuple(settings.special_session_tasks))
    return Service(
        settings=settings, clock=clock, calendar=calendar, store=store, ledger=Ledger(store), plan=plan,
        broker=broker, context=context, notify=notify, redact=redact, heartbeat=heartbeat or (lambda: None),
        publish_state=publish_state, heartbeat_interval=heartbeat_interval,
        announce=announce or (lambda _text: None),
    )

