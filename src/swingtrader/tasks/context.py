"""What every task is handed: the service's collaborators, built once in `swingtrader.service`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from swingtrader.broker.session import SessionManager
from swingtrader.clock import Clock
from swingtrader.market.costs import CostRates
from swingtrader.orders import OrderManager
from swingtrader.portfolio import Portfolio
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.strategy.dip_buy import DipBuyStrategy
from swingtrader.strategy.params import StrategyParams


@dataclass
class TaskContext:
    settings: Any
    clock: Clock
    calendar: Any
    store: Store
    broker: SessionManager
    orders: OrderManager
    portfolio: Portfolio
    bars: Any
    strategy: DipBuyStrategy
    params: StrategyParams
    costs: CostRates
    notify: Callable[[str, str, str], None]
    _snapshots: dict = field(default_factory=dict)

    def previous_session(self, day: date) -> date:
        return self.calendar.previous_session(day).date

    def snapshot(self, symbol: str, as_of: date):
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

    def signal(self, day: date, symbol: str, kind: str, detail: dict, *, once_per_day: bool = True) -> bool:
        """Record a strategy signal (deduplicated per symbol, kind and day); True if it is new."""
        now: datetime = self.clock.now()
        with self.store.begin() as conn:
            if once_per_day:
                seen = conn.execute(
                    select(t.signals.c.id).where(
                        t.signals.c.trading_date == day, t.signals.c.symbol == symbol, t.signals.c.kind == kind
                    )
                ).first()
                if seen is not None:
                    return False
            conn.execute(insert(t.signals).values(at=now, trading_date=day, symbol=symbol, kind=kind, detail=detail))
        return True


def money(x: float | Decimal) -> Decimal:
    """A float indicator value as an exact Decimal (via its shortest repr)."""
    return x if isinstance(x, Decimal) else Decimal(repr(float(x)))
