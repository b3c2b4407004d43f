"""One place builds everything: `build_service` wires the clock, calendar, store, broker session, order
manager, strategy and scheduler from typed parts. `Service.run` is the long-running loop with a graceful
stop. `paper_broker` is the one constructor of the simulated exchange."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerUnavailable,
    RateLimited,
    SessionExpired,
)
from swingtrader.broker.prices import BarLookup, IntradayPath, PricePath
from swingtrader.broker.session import SessionManager
from swingtrader.clock import Clock, ist_date
from swingtrader.manual_runs import check_outcome
from swingtrader.market.costs import CostRates
from swingtrader.market.universe import rule_of
from swingtrader.notify import NotificationKind, Notify
from swingtrader.order_path.intent import OrderRecord
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.risk import RiskLimits
from swingtrader.portfolio import Portfolio
from swingtrader.schedule import Plan, Scheduler, Slot, SlotSkipped, StopRequested
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.analysis import AnalysisLog
from swingtrader.store.ledger import Ledger
from swingtrader.store.signals import SignalLog
from swingtrader.store.state import PlannedSlot, ServiceState
from swingtrader.strategy.loader import build_strategy
from swingtrader.tasks import task_function
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.monitor_horizon import FastForward, monitor_fast_forward

if TYPE_CHECKING:
    from datetime import datetime

    from swingtrader.broker.paper import PaperBroker
    from swingtrader.config import Settings
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=5)
"""How often a wall-clock service calls its heartbeat while it waits for the next slot."""


class ClockMode(StrEnum):
    """How time passes for the scheduler.

    `WALL`: a real clock (`LiveClock`). The ledger is flushed before every wait, the heartbeat is called every
    `HEARTBEAT` while waiting, and today's plan and the next slot are published in the store for the dashboard.
    `VIRTUAL`: a simulated clock (`SimClock`) jumps to each slot; the ledger keeps its buffer and nothing is
    published (a replay runs thousands of slots a second)."""

    WALL = "wall"
    VIRTUAL = "virtual"


def _no_notify(_kind: NotificationKind, _title: str, _body: str) -> None:
    return None


def _nothing() -> None:
    return None


def _ignore(_text: str) -> None:
    return None


@dataclass(frozen=True)
class ServiceHooks:
    """How the service reports to the world outside; every hook defaults to doing nothing.

    `notify`: alerts (task failures, fills, rejections, failed logins); `redact`: applied to every error text
    stored or sent; `on_secret`: told each session token the broker hands out (for the log redactor);
    `on_call`: `(operation, outcome)` of every broker call; `heartbeat`: called between tasks and at least
    every `heartbeat_every` while waiting on a wall clock (`run` writes its heartbeat there; the lease is renewed
    on a thread of its own); `announce`: one-line
    status text (systemd STATUS); `idle`: the scheduler is done for now and about to wait for its next slot
    (`run` gives memory back to the OS there)."""

    notify: Notify = _no_notify
    redact: Callable[[str], str] = str
    on_secret: Callable[[str], None] | None = None
    on_call: Callable[[str, str], None] | None = None
    heartbeat: Callable[[], None] = _nothing
    heartbeat_every: timedelta = HEARTBEAT
    announce: Callable[[str], object] = _ignore
    idle: Callable[[], None] = _nothing


NO_HOOKS = ServiceHooks()


def cost_rates(settings: Settings) -> CostRates:
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


def paper_path(bars: BarSource, calendar: TradingCalendar, max_age_days: int | None = None) -> IntradayPath:
    """The intraday price path the paper exchange fills against: each daily bar over its session's hours.
    Over refreshed bars (`LiveBars`) it follows each refresh, with no price on bars older than `max_age_days`."""

    def bounds(day: date) -> tuple[datetime, datetime] | None:
        s = calendar.session(day)
        return None if s is None else (s.open, s.close)

    from swingtrader.market.refresh import FreshPath, LiveBars

    if isinstance(bars, LiveBars) and max_age_days is not None:
        return FreshPath(bars, bounds, calendar, max_age_days)
    return IntradayPath(BarLookup(bars), bounds)


def paper_broker(
    settings: Settings, store: Store, clock: Clock, bars: BarSource, calendar: TradingCalendar, *,
    initial_cash: Decimal | None = None, live: bool = False, on_secret: Callable[[str], None] | None = None,
) -> PaperBroker:
    """The simulated exchange over `bars`, its state in `store`: costs and price band from the settings,
    `initial_cash` (default `settings.initial_capital`) on a fresh store. `live` (the running service, on the
    wall clock): with `paper_prices=broker` its prices are the broker's quotes (`broker.quote_prices`; their age
    published in the store; `on_secret` hears each session token); otherwise the bars, and no quote age is shown."""
    from swingtrader.broker.paper import PaperBroker

    cash = settings.initial_capital if initial_cash is None else initial_cash
    path: PricePath = paper_path(bars, calendar, settings.paper_max_price_age_days)
    if live and settings.paper_prices == "broker":
        from swingtrader.broker.quote_prices import quote_path

        path = quote_path(settings, clock, path, store, on_secret=on_secret)
    elif live:
        ServiceState(store).clear_quotes()
    return PaperBroker(store, clock, path, calendar, initial_cash=cash,
                       costs=cost_rates(settings), band_pct=settings.paper_price_band_pct)


@dataclass
class Service:
    settings: Settings
    clock: Clock
    clock_mode: ClockMode
    calendar: TradingCalendar
    store: Store
    ledger: Ledger
    plan: Plan
    broker: SessionManager
    context: TaskContext
    hooks: ServiceHooks = NO_HOOKS
    fast_forward: FastForward | None = None
    scheduler: Scheduler = field(init=False)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        wall = self.clock_mode is ClockMode.WALL
        self.scheduler = Scheduler(
            self.plan, self.ledger, self.clock, self.calendar, self.run_slot, stop=self.stop_event,
            heartbeat=self.hooks.heartbeat, on_next=self._on_next if wall else None,
            on_day=self._publish_plan if wall else None, redact=self.hooks.redact,
            heartbeat_interval=self.hooks.heartbeat_every if wall else None,
            transient=(BrokerUnavailable, RateLimited, AmbiguousOutcome, SessionExpired),
            fast_forward=None if wall else self.fast_forward,
        )

    def notify(self, kind: NotificationKind, title: str, body: str) -> None:
        self.hooks.notify(kind, title, body)

    def run_slot(self, slot: Slot) -> dict[str, Any] | None:
        """Run one task for one slot (the scheduler records the outcome)."""
        try:
            if self.context.feed is not None:
                self.context.feed.refresh_quietly()
            detail = task_function(slot.task)(self.context, slot)
            check_outcome(self.context, slot.task, slot.trading_date, detail)  # issue 9: all refused -> failed
            return detail
        except (SlotSkipped, StopRequested):
            raise  # skipped or interrupted, not failed
        except Exception as exc:
            self.notify(NotificationKind.TASK_FAILED, f"{slot.task} failed",
                        self.hooks.redact(f"{slot.trading_date} {slot.slot}: {exc}"))
            raise

    def _on_next(self, slot: Slot) -> None:
        ServiceState(self.store).set_next_slot(slot.task, slot.at, self.clock.now())
        self.hooks.announce(f"next: {slot.task} at {slot.at:%H:%M}")
        self.hooks.idle()

    def _publish_plan(self, day: date, slots: list[Slot]) -> None:
        """Today's plan for the dashboard (slots not run yet show as planned). An earlier day the loop catches up
        on (at start, after a store fault) is not published: it would hide today's plan until the loop gets back
        to today."""
        if day < ist_date(self.clock.now()):
            return
        plan = [PlannedSlot(s.task, s.slot, s.at) for s in slots]
        ServiceState(self.store).set_plan(day, plan, self.clock.now())

    def request_stop(self, *_: object) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)


def build_service(
    settings: Settings,
    *,
    clock: Clock,
    clock_mode: ClockMode,
    calendar: TradingCalendar,
    store: Store,
    bars: BarSource,
    broker: Broker,
    hooks: ServiceHooks = NO_HOOKS,
) -> Service:
    """Wire the service from its parts. `broker` (paper, Kotak Neo, read-only...) is wrapped in the one
    `SessionManager`; `clock_mode` must match `clock` (see `ClockMode`). `RuleNeedsVolume` when
    `SWINGTRADER_UNIVERSE_RULE` ranks by traded value and `bars` have no volume."""
    costs = cost_rates(settings)
    notify, redact = hooks.notify, hooks.redact

    def session_event(event: str, detail: str) -> None:
        with store.begin() as conn:
            conn.execute(t.session_events.insert().values(at=clock.now(), broker=broker.name, event=event,
                                                          detail=redact(detail)))
        if event == "login_failed":
            notify(NotificationKind.RELOGIN_FAILED, "broker login failed", redact(detail))
        if event == "refused":
            notify(NotificationKind.RELOGIN_FAILED, "broker refused the session after a fresh login", redact(detail))

    session = SessionManager(broker, clock, on_event=session_event, on_secret=hooks.on_secret, on_call=hooks.on_call)
    portfolio = Portfolio(store, clock, costs)

    def paused() -> bool:
        return bool(settings.kill_switch) or store.degraded is not None or ServiceState(store).paused()

    def order_event(kind: str, rec: OrderRecord, detail: str) -> None:
        if kind in (NotificationKind.ORDER_REJECTED, NotificationKind.ORDER_FILLED, NotificationKind.ORDER_LOST,
                    NotificationKind.ORDER_NOT_SENT, NotificationKind.ORDER_ATTENTION):
            notify(NotificationKind(kind), f"{rec.side.value} {rec.symbol}: {kind.removeprefix('order_')}",
                   redact(detail))

    risk = RiskLimits(
        max_order_value=settings.max_order_value,
        max_deployed_capital=settings.max_deployed_capital,
        band_pct=settings.paper_price_band_pct,
        kill_switch=paused,
        deployed_capital=portfolio.deployed_capital,
    )
    orders = OrderManager(store, session, clock, risk, on_fill=portfolio.apply_fill, on_event=order_event)
    context = TaskContext(
        clock=clock, calendar=calendar, broker=session, orders=orders, portfolio=portfolio, bars=bars,
        strategy=build_strategy(settings), costs=costs, notify=notify, signals=SignalLog(store),
        analysis=AnalysisLog(store), store=store, special_session_tasks=frozenset(settings.special_session_tasks),
        holdings_mismatch=settings.holdings_mismatch, universe=rule_of(settings.universe_rule, bars),
    )
    plan = Plan(calendar, tuple(settings.special_session_tasks))
    return Service(
        settings=settings, clock=clock, clock_mode=clock_mode, calendar=calendar, store=store, ledger=Ledger(store),
        plan=plan, broker=session, context=context, hooks=hooks,
        fast_forward=_fast_forward(settings, clock_mode, broker, context),
    )


def _fast_forward(
    settings: Settings, clock_mode: ClockMode, broker: Broker, context: TaskContext
) -> FastForward | None:
    """The monitor's fast-forward: only on a virtual clock over the paper exchange itself, and only when
    `sim_fast_forward` is on. Everything else runs every slot."""
    from swingtrader.broker.paper import PaperBroker

    if clock_mode is not ClockMode.VIRTUAL or not settings.sim_fast_forward or not isinstance(broker, PaperBroker):
        return None
    return monitor_fast_forward(context, broker)
