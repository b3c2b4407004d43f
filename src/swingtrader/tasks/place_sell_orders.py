"""09:15: one target sell per sellable strategy position, at `ema_now` (the provisional EMA of `ema_exit`
periods) rounded up to the tick.

A position whose target is more than `max_target_loss_pct` below its average entry price gets no sell today
(recorded as a signal). An existing sell with another quantity or price is modified, never duplicated.
"""

from __future__ import annotations

from typing import Any

from swingtrader.schedule import Slot
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.events import TargetBelowLossLimit
from swingtrader.tasks.selling import ensure_sell, loss_floor, sellable, target_now


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    positions = ctx.portfolio.open_positions()
    if not positions:
        return {"positions": 0, "sells": 0}
    holdings = {h.symbol: h for h in ctx.broker.holdings()}
    quotes = ctx.broker.quotes([p.symbol for p in positions])
    placed, held_back, not_sellable = [], [], []
    for p in positions:
        quantity = sellable(p, holdings.get(p.symbol))
        quote = quotes.get(p.symbol)
        if quantity <= 0 or quote is None:
            not_sellable.append(p.symbol)
            continue
        target = target_now(ctx, p.symbol, day, quote.ltp)
        if target is None:
            not_sellable.append(p.symbol)
            continue
        if target < loss_floor(ctx, p, day):
            held_back.append(p.symbol)
            ctx.signal(day, p.symbol, TargetBelowLossLimit(target, p.average_price))
            continue
        rec = ensure_sell(ctx, p, day, quantity=quantity, price=target, reference=quote.ltp,
                          task="place_sell_orders", purpose="target")
        placed.append({"symbol": p.symbol, "quantity": quantity, "price": str(target), "status": rec.status.value})
    return {"positions": len(positions), "sells": placed, "held_back": held_back, "not_sellable": not_sellable}
