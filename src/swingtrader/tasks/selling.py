"""Shared sell-side decisions: the target of a position now, what can be sold, and keeping exactly one sell
per position."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from swingtrader.broker.base import Holding, OrderType, Side
from swingtrader.market.ticks import round_to_tick
from swingtrader.order_path.intent import OrderIntent, OrderRecord, Outcome
from swingtrader.portfolio import Position
from swingtrader.strategy.dip_buy import sell_target
from swingtrader.tasks.context import TaskContext


def target_now(ctx: TaskContext, symbol: str, day: date, ltp: Decimal) -> Decimal | None:
    """The strategy's target (`Strategy.target`; the default's is `ema_now`, the last session's exit EMA with
    `ltp` as today's close) rounded up to the tick; None without data or when it keeps no target sell."""
    snap = ctx.snapshot(symbol, ctx.previous_session(day))
    target = None if snap is None else ctx.strategy.target(snap, ltp)
    return None if target is None else sell_target(target, day)


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


def next_attempt(ctx: TaskContext, day: date, task: str, symbol: str) -> int:
    """The attempt number of a new sell of `symbol` by `task` on `day`, from the order ledger: one more than
    the sells that task already recorded for the symbol that day, so two of its orders never share a tag."""
    earlier = [o for o in ctx.orders.for_day(day, task=task) if o.symbol == symbol and o.side is Side.SELL]
    return len(earlier) + 1


def ensure_sell(
    ctx: TaskContext, position: Position, day: date, *, quantity: int, price: Decimal, reference: Decimal,
    task: str, purpose: str, attempt: int = 1,
) -> Outcome:
    """Exactly one active sell for the position at `price` for `quantity`: the order path moves the working
    one, else places one (`attempt` goes into its client tag)."""
    return ctx.orders.place(
        OrderIntent(
            trading_date=day, task=task, purpose=purpose, symbol=position.symbol, side=Side.SELL, quantity=quantity,
            order_type=OrderType.LIMIT, price=price, amo=False, reference_price=reference, attempt=attempt,
            replaces=True,
        )
    )
