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
