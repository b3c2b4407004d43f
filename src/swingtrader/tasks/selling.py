"""Shared sell-side decisions: the target of a position now, and keeping exactly one sell per position."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from swingtrader.broker.base import OrderType, Side
from swingtrader.market.ticks import round_to_tick
from swingtrader.orders import OrderIntent, OrderRecord
from swingtrader.portfolio import Position
from swingtrader.strategy.dip_buy import provisional_ema9, sell_target
from swingtrader.tasks.context import TaskContext, money


def target_now(ctx: TaskContext, symbol: str, day: date, ltp: Decimal) -> Decimal | None:
    """`ema9_now` from yesterday's EMA(9) and the last price, rounded up to the tick; None without data."""
    snap = ctx.snapshot(symbol, ctx.previous_session(day))
    if snap is None:
        return None
    return sell_target(money(provisional_ema9(float(ltp), snap.ema9)), day)


def loss_floor(ctx: TaskContext, position: Position, day: date) -> Decimal:
    """The lowest target the strategy sells at: `max_target_loss_pct` below the average entry price
    (rounded up to the tick)."""
    floor = position.average_price * (1 - ctx.params.max_target_loss_pct / Decimal(100))
    return round_to_tick(floor, day, "up")


def active_sell(ctx: TaskContext, symbol: str) -> OrderRecord | None:
    sells = ctx.orders.active(side=Side.SELL, symbol=symbol)
    return sells[0] if sells else None


def ensure_sell(
    ctx: TaskContext, position: Position, day: date, *, quantity: int, price: Decimal, reference: Decimal,
    task: str, purpose: str, attempt: int = 1,
) -> OrderRecord:
    """Exactly one active sell for the position at `price` for `quantity`: modify the existing one, else place."""
    existing = active_sell(ctx, position.symbol)
    if existing is not None:
        if existing.price != price or existing.quantity != quantity or existing.purpose != purpose:
            return ctx.orders.modify(existing, price=price, quantity=quantity, purpose=purpose)
        return existing
    return ctx.orders.submit(
        OrderIntent(
            trading_date=day, task=task, purpose=purpose, symbol=position.symbol, side=Side.SELL, quantity=quantity,
            order_type=OrderType.LIMIT, price=price, amo=False, reference_price=reference, attempt=attempt,
        )
    )
