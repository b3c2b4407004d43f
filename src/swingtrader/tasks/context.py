"""What every task is handed: the service's collaborators, built once in `swingtrader.service`. Tasks reach
the store only through its repositories (`signals`, `analysis`) and the order and position books."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from swingtrader.broker.session import SessionManager
from swingtrader.clock import Clock
from swingtrader.market.costs import CostRates
from swingtrader.notify import Notify
from swingtrader.order_path.manager import OrderManager
from swingtrader.portfolio import Portfolio
from swingtrader.store import Store
from swingtrader.store.analysis import AnalysisLog
from swingtrader.store.signals import SignalLog
from swingtrader.strategy.base import Snapshot, Strategy
from swingtrader.strategy.params import StrategyParams
from swingtrader.tasks.events import Signal

if TYPE_CHECKING:
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar
    from swingtrader.market.refresh import DataFeed
    from swingtrader.market.universe import UniverseRule


@dataclass
class TaskContext:
    clock: Clock
    calendar: TradingCalendar
    broker: SessionManager
    orders: OrderManager
    portfolio: Portfolio
    bars: BarSource
    strategy: Strategy  # SWINGTRADER_STRATEGY (strategy/loader.py)
    costs: CostRates
    notify: Notify
    signals: SignalLog
    analysis: AnalysisLog
    store: Store  # for `service_state` only
    special_session_tasks: frozenset[str] = frozenset()
    feed: DataFeed | None = None  # `run` only: keeps `bars` current (market/refresh.py)
    holdings_mismatch: str = "flag"  # "flag" | "adopt": extra broker holdings (swingtrader.recovery)
    universe: UniverseRule | None = None  # SWINGTRADER_UNIVERSE_RULE as of each session; None: every symbol
    _snapshots: dict[tuple[str, date], Snapshot | None] = field(default_factory=dict)
    settled: set[tuple[str, date]] = field(default_factory=set)
    """(what, trading date) facts a task proved cannot change for the rest of that day, so it stops reading them
    (e.g. monitor_sell_orders: every `place_sell_orders` slot of the day succeeded)."""

    @property
    def params(self) -> StrategyParams:
        return self.strategy.params

    def previous_session(self, day: date) -> date:
        return self.calendar.previous_session(day).date

    def snapshot(self, symbol: str, as_of: date) -> Snapshot | None:
        """Indicator values of `symbol` at the close of `as_of` (cached; None without data)."""
        key = (symbol, as_of)
        if key not in self._snapshots:
            if len(self._snapshots) > 4096:
                self._snapshots.clear()
            try:
                self._snapshots[key] = self.strategy.indicator_snapshot(self.bars, symbol, as_of)
            except (KeyError, ValueError):
                self._snapshots[key] = None
        return self._snapshots[key]

    def forget_snapshots(self) -> None:
        """Drop cached indicator values (the bars changed)."""
        self._snapshots.clear()

    def signal(self, day: date, symbol: str, signal: Signal) -> bool:
        """Record a strategy signal (at most once per symbol, kind and day); True if it is new."""
        return self.signals.record(day, symbol, signal.kind, signal.detail(), at=self.clock.now())


def money(x: float | Decimal) -> Decimal:
    """A float indicator value as an exact Decimal (via its shortest repr)."""
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))
