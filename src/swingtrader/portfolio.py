"""Strategy positions and closed trades, kept from our own fills.

Only shares bought by the strategy are positions; holdings the user bought by hand are never counted or sold.
A sell fill closes that quantity as a trade at the actual fill price, with buy-side costs taken pro rata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Row, select

from swingtrader.broker.base import Side
from swingtrader.clock import Clock, ist_date
from swingtrader.market.costs import CostRates, delivery_charges
from swingtrader.order_path.intent import FillEvent
from swingtrader.store import Store
from swingtrader.store import tables as t

PAISE = Decimal("0.01")


@dataclass(frozen=True)
class Position:
    id: int
    symbol: str
    quantity: int
    average_price: Decimal
    cost: Decimal
    buy_charges: Decimal
    entry_date: date
    last_buy_date: date
    add_levels: tuple[float, ...]


class Portfolio:
    """Reads and updates positions and trades in the store."""

    def __init__(self, store: Store, clock: Clock, costs: CostRates | None = None) -> None:
        self._store = store
        self._clock = clock
        self._costs = costs or CostRates()
        self._open: list[Position] | None = None  # cache, dropped by every write

    def open_positions(self) -> list[Position]:
        if self._open is None:
            with self._store.connect() as conn:
                rows = conn.execute(
                    select(t.positions).where(t.positions.c.status == "open").order_by(t.positions.c.symbol)
                ).all()
            self._open = [_position(r) for r in rows]
        return list(self._open)

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.open_positions() if p.symbol == symbol), None)

    def deployed_capital(self) -> Decimal:
        return sum((p.cost for p in self.open_positions()), Decimal(0))

    def set_add_levels(self, symbol: str, levels: tuple[float, ...]) -> None:
        self._open = None
        with self._store.begin() as conn:
            conn.execute(
                t.positions.update()
                .where(t.positions.c.symbol == symbol, t.positions.c.status == "open")
                .values(add_levels=list(levels))
            )

    def adopt(self, symbol: str, qty: int, price: Decimal, at: datetime) -> None:
        """Take `qty` shares found in the account into the strategy's positions at `price` (a holdings
        mismatch adopted at reconcile: swingtrader.recovery), as a buy on `at`'s date."""
        self._open = None
        with self._store.begin() as conn:
            self._buy(symbol, qty, price, at, conn)

    def apply_fill(self, fill: FillEvent, conn: Connection) -> None:
        """Update positions from one of our fills, inside the order manager's transaction."""
        self._open = None
        if fill.order.side is Side.BUY:
            self._buy(fill.order.symbol, fill.quantity, fill.price, fill.at, conn)
        else:
            self.close(fill.order.symbol, fill.quantity, fill.price, fill.order.purpose, fill, conn)

    def _buy(self, symbol: str, qty: int, price: Decimal, at: datetime, conn: Connection) -> None:
        day = ist_date(at)
        value = price * qty
        charges = delivery_charges("BUY", value, day, self._costs).total
        row = conn.execute(
            select(t.positions).where(t.positions.c.symbol == symbol, t.positions.c.status == "open")
        ).first()
        if row is None:
            conn.execute(
                t.positions.insert().values(
                    symbol=symbol, status="open", quantity=qty, average_price=price, cost=value,
                    buy_charges=charges, entry_date=day, last_buy_date=day, add_levels=[], opened_at=at,
                )
            )
            return
        quantity = row.quantity + qty
        cost = row.cost + value
        conn.execute(
            t.positions.update()
            .where(t.positions.c.id == row.id)
            .values(
                quantity=quantity, cost=cost, average_price=(cost / quantity).quantize(Decimal("0.0001")),
                buy_charges=row.buy_charges + charges, last_buy_date=day,
            )
        )

    def close(
        self, symbol: str, qty: int, price: Decimal, reason: str, fill: FillEvent | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Close `qty` of a position at `price` as a trade (a sell fill, or a manual exit found at reconcile).
        `reason` is the sell's purpose; the trade's `exit_reason` says what happened (`_exit_reason`)."""
        self._open = None
        if conn is None:
            with self._store.begin() as own:
                self.close(symbol, qty, price, reason, fill, own)
            return
        at = fill.at if fill is not None else self._clock.now()
        day = ist_date(at)
        row = conn.execute(
            select(t.positions).where(t.positions.c.symbol == symbol, t.positions.c.status == "open")
        ).first()
        if row is None:
            return
        qty = min(qty, row.quantity)
        share = Decimal(qty) / Decimal(row.quantity)
        buy_cost = (row.cost * share).quantize(PAISE, ROUND_HALF_UP)
        buy_charges = (row.buy_charges * share).quantize(PAISE, ROUND_HALF_UP)
        sell_value = price * qty
        sell_charges = delivery_charges("SELL", sell_value, day, self._costs).total
        gross = (sell_value - buy_cost).quantize(PAISE, ROUND_HALF_UP)
        charges = buy_charges + sell_charges
        exit_reason = _exit_reason(reason, price, row.average_price)
        conn.execute(
            t.trades.insert().values(
                position_id=row.id, symbol=symbol, entry_date=row.entry_date, entry_price=row.average_price,
                quantity=qty, exit_date=day, exit_price=price,
                exit_reason=exit_reason, gross_pnl=gross,
                charges=charges, net_pnl=gross - charges, closed_at=at,
            )
        )
        remaining = row.quantity - qty
        values: dict[str, object] = {
            "quantity": remaining, "cost": row.cost - buy_cost, "buy_charges": row.buy_charges - buy_charges,
        }
        if remaining == 0:
            values.update(status="closed", closed_at=at, note=exit_reason)
        conn.execute(t.positions.update().where(t.positions.c.id == row.id).values(**values))


def _exit_reason(purpose: str, price: Decimal, average_price: Decimal) -> str:
    """What closed a trade, for reports to group by: the sell's purpose (`target`, `rsi_exit`, `stop_loss`,
    `trailing_stop`, `max_holding_days`, `manual_exit`...), with a target sell filled below the average entry
    price told apart as `target_below_cost`."""
    if purpose == "target" and price < average_price:
        return "target_below_cost"
    return _EXIT_REASONS.get(purpose, purpose)


_EXIT_REASONS = {"max_holding": "max_holding_days"}


def _position(r: Row[Any]) -> Position:
    return Position(
        id=r.id, symbol=r.symbol, quantity=r.quantity, average_price=r.average_price, cost=r.cost,
        buy_charges=r.buy_charges, entry_date=r.entry_date, last_buy_date=r.last_buy_date,
        add_levels=tuple(r.add_levels or ()),
    )
