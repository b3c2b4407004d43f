"""Shared sell-side decisions: the target of a position now, what can be sold, and keeping exactly one sell
per position."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from swingtrader.broker.base import Holding, OrderType, Side
from swingtrader.market.ticks import round_to_tick
from swingtrader.orders import OrderIntent, OrderRecord
from swingtrader.portfolio import Position
from swingtrader.strategy.dip_buy import Snapshot, provisional_ema, sell_target
from swingtrader.tasks.context import TaskContext, money


def ema_now(ctx: TaskContext, snap: Snapshot, ltp: Decimal) -> Decimal:
    """The provisional EMA of `params.ema_exit` periods: the last session's EMA with `ltp` as today's close."""
    return money(provisional_ema(float(ltp), snap.ema_exit, ctx.params.ema_exit))


def target_now(ctx: TaskContext, symbol: str, day: date, ltp: Decimal) -> Decimal | None:
    """`ema_now` rounded up to the tick; None without data."""
    snap = ctx.snapshot(symbol, ctx.previous_session(day))
    if snap is None:
        return None
    return sell_target(ema_now(ctx, snap, ltp), day)


def lowered_target(ctx: TaskContext, order: OrderRecord, day: date, ltp: Decimal) -> Decimal | None:
    """The price `monitor_sell_orders` moves the target sell `order` down to when the last price is `ltp`
    (`target_now`, never below `loss_floor`), or None when it stays. Non-increasing in `ltp`: a lower price
    never leaves a target where a higher one moved it."""
    position = ctx.portfolio.position(order.symbol)
    if position is None or order.price is None:
        return None
    target = target_now(ctx, order.symbol, day, ltp)
    if target is None:
        return None
    target = max(target, loss_floor(ctx, position, day))
    return target if target < order.price else None


def sellable(position: Position, holding: Holding | None) -> int:
    """Shares of the position that can be sold today: the position, capped by the account's settled shares."""
    return min(position.quantity, holding.sellable_quantity) if holding is not None else 0


def loss_floor(ctx: TaskContext, position: Position, day: date) -> Decimal:
    """The lowest target the strategy sells at: `max_target_loss_pct` below the average entry price
    (rounded up to the tick)."""
    floor = position.average_price * (1 - ctx.params.max_target_loss_pct / Decimal(100))
    return round_to_tick(floor, day, "up")


def active_sell(ctx: TaskContext, symbol: str) -> OrderRecord | None:
    sells = ctx.orders.active(side=Side.SELL, symbol=symbol)
    return sells[0] if sells else None


def next_attempt(ctx: TaskContext, day: date, task: str, symbol: str) -> int:
    """The attempt number of a new sell of `symbol` by `task` on `day`, from the order ledger: one more than
    the sells that task already recorded for the symbol that day, so two of its orders never share a tag."""
    earlier = [o for o in ctx.orders.for_day(day, task=task) if o.symbol == symbol and o.side is Side.SELL]
    return len(earlier) + 1


def ensure_sell(
    ctx: TaskContext, position: Position, day: date, *, quantity: int, price: Decimal, reference: Decimal,
    task: str, purpose: str, attempt: int = 1,
) -> OrderRecord:
    """Exactly one active sell for the position at `price` for `quantity`: modify the existing one, else place
    one (`attempt` goes into its client tag)."""
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
