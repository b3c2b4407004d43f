"""Shared buy-side steps: read today's recommendations and turn one into a sized, priced order intent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from swingtrader.broker.base import OrderType, Side
from swingtrader.market.costs import delivery_charges
from swingtrader.orders import OrderIntent
from swingtrader.store import tables as t
from swingtrader.strategy.dip_buy import buy_limit_price, order_quantity
from swingtrader.tasks.context import TaskContext


@dataclass(frozen=True)
class Recommendation:
    symbol: str
    rank: int
    level: str
    close: Decimal
    avg_volume_50: Decimal | None


def recommendations(ctx: TaskContext, as_of: date) -> list[Recommendation]:
    """The recommendations stored for exactly `as_of` (never an older day's), best first."""
    with ctx.store.connect() as conn:
        rows = conn.execute(
            select(t.recommendations).where(t.recommendations.c.as_of == as_of).order_by(t.recommendations.c.rank)
        ).all()
    return [Recommendation(r.symbol, r.rank, r.level, r.close, r.avg_volume_50) for r in rows]


def buy_intent(
    ctx: TaskContext, rec: Recommendation, day: date, *, task: str, amo: bool, price_day: date
) -> OrderIntent | None:
    """A LIMIT buy at close * (1 + premium) rounded down to the tick of `price_day`, sized by the strategy;
    None when the price is above the capital per trade or the liquidity cap leaves nothing."""
    price = buy_limit_price(rec.close, price_day, ctx.params.buy_limit_premium)
    avg_vol = None if rec.avg_volume_50 is None else float(rec.avg_volume_50)
    qty = order_quantity(price, avg_vol, ctx.params)
    if qty <= 0:
        return None
    market = ctx.params.use_market_amo and amo
    return OrderIntent(
        trading_date=day, task=task, purpose="entry" if rec.level == "entry" else "add", symbol=rec.symbol,
        side=Side.BUY, quantity=qty, order_type=OrderType.MARKET if market else OrderType.LIMIT,
        price=None if market else price, amo=amo, reference_price=rec.close,
    )


def cash_needed(ctx: TaskContext, intent: OrderIntent, day: date) -> Decimal:
    price = intent.price if intent.price is not None else intent.reference_price
    value = price * intent.quantity
    return value + delivery_charges("BUY", value, day, ctx.costs).total


def why_not_send(ctx: TaskContext, rec: Recommendation, intent: OrderIntent, cash_day: date) -> str | None:
    """The reason a new buy must not go out now (`max_positions`, `insufficient_funds`), or None. An intent
    already recorded under its tag is never re-judged: submitting it again returns or resolves that order."""
    if ctx.orders.find(intent) is not None:
        return None
    if rec.level == "entry" and symbols_in_use(ctx) >= ctx.params.max_positions:
        return "max_positions"
    if cash_needed(ctx, intent, cash_day) > ctx.broker.funds().available_cash:
        return "insufficient_funds"
    return None


def symbols_in_use(ctx: TaskContext) -> int:
    """Symbols held by the strategy or with a working buy order."""
    held = {p.symbol for p in ctx.portfolio.open_positions()}
    return len(held | {o.symbol for o in ctx.orders.active(side=Side.BUY)})
