"""Shared buy-side steps: turn a stored recommendation into a sized, priced order intent, and the checks
before it is sent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from swingtrader.broker.base import OrderType, Side
from swingtrader.market.costs import delivery_charges
from swingtrader.orders import OrderIntent
from swingtrader.store.analysis import Recommendation
from swingtrader.strategy.dip_buy import buy_limit_price
from swingtrader.tasks.context import TaskContext


def buy_intent(
    ctx: TaskContext, rec: Recommendation, day: date, *, task: str, amo: bool, price_day: date
) -> OrderIntent | None:
    """A LIMIT buy at close * (1 + premium) rounded down to the tick of `price_day`, sized by the strategy;
    None when the price is above the capital per trade or the liquidity cap leaves nothing."""
    price = buy_limit_price(rec.close, price_day, ctx.params.buy_limit_premium)
    avg_vol = None if rec.avg_volume_50 is None else float(rec.avg_volume_50)
    qty = ctx.strategy.quantity(price, avg_vol)
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
