"""Shared buy-side step: turn a stored recommendation into a sized, priced order intent, with the gate the
order path checks before a new buy is stored (positions, cash)."""

from __future__ import annotations

from datetime import date

from swingtrader.broker.base import OrderType, Side
from swingtrader.market.costs import delivery_charges
from swingtrader.order_path.intent import Gate, OrderIntent
from swingtrader.store.analysis import Recommendation
from swingtrader.strategy.dip_buy import buy_limit_price
from swingtrader.tasks.context import TaskContext


def buy_intent(
    ctx: TaskContext, rec: Recommendation, day: date, *, task: str, amo: bool, price_day: date,
    record_short_cash: bool,
) -> OrderIntent | None:
    """A LIMIT buy at close * (1 + premium) rounded down to the tick of `price_day`, sized by the strategy;
    None when the price is above the capital per trade or the liquidity cap leaves nothing. Its gate: an entry
    needs a free position (`max_positions`, counting the strategy's positions and working buys), any buy the
    cash for its value and charges on `price_day` (`insufficient_funds`, stored as a failed order when
    `record_short_cash`)."""
    price = buy_limit_price(rec.close, price_day, ctx.params.buy_limit_premium)
    avg_vol = None if rec.avg_volume_50 is None else float(rec.avg_volume_50)
    qty = ctx.strategy.quantity(price, avg_vol)
    if qty <= 0:
        return None
    market = ctx.params.use_market_amo and amo
    limit = None if market else price
    value = (limit if limit is not None else rec.close) * qty
    entry = rec.level == "entry"
    gate = Gate(
        cash_needed=value + delivery_charges("BUY", value, price_day, ctx.costs).total,
        held=frozenset(p.symbol for p in ctx.portfolio.open_positions()) if entry else frozenset(),
        max_positions=ctx.params.max_positions if entry else None,
        record_short_cash=record_short_cash,
    )
    return OrderIntent(
        trading_date=day, task=task, purpose="entry" if entry else "add", symbol=rec.symbol,
        side=Side.BUY, quantity=qty, order_type=OrderType.MARKET if market else OrderType.LIMIT,
        price=limit, amo=amo, reference_price=rec.close, gate=gate,
    )
