"""Every minute of the session: detect fills (one order-book read) and move target sells down as the
provisional EMA of `ema_exit` periods falls (one batched quote read). A target is never moved up, nor below
the loss limit."""

from __future__ import annotations

from typing import Any

from swingtrader.broker.base import Side
from swingtrader.schedule import Slot
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.selling import loss_floor, target_now


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    sells = [o for o in ctx.orders.active(side=Side.SELL) if o.purpose == "target" and o.broker_order_id]
    if not sells:
        return {"sells": 0}
    quotes = ctx.broker.quotes(sorted({o.symbol for o in sells}))
    moved = []
    for order in sells:
        quote = quotes.get(order.symbol)
        position = ctx.portfolio.position(order.symbol)
        if quote is None or position is None or order.price is None:
            continue
        target = target_now(ctx, order.symbol, day, quote.ltp)
        if target is None:
            continue
        target = max(target, loss_floor(ctx, position, day))
        if target < order.price:
            ctx.orders.modify(order, price=target, quantity=order.quantity)
            moved.append({"symbol": order.symbol, "from": str(order.price), "to": str(target)})
    return {"sells": len(sells), "moved": moved}

