"""Every minute of the session: detect fills (one order-book read) and move target sells down as the
provisional EMA of `ema_exit` periods falls (one batched quote read). A target is never moved up, nor below
the loss limit."""

from __future__ import annotations

from typing import Any

from swingtrader.broker.base import Side
from swingtrader.orders import OrderRecord
from swingtrader.schedule import Slot
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.selling import lowered_target


def target_sells(ctx: TaskContext) -> list[OrderRecord]:
    """The sells this task watches: active target sells the broker has acknowledged."""
    return [o for o in ctx.orders.active(side=Side.SELL) if o.purpose == "target" and o.broker_order_id]


def summary(sells: list[OrderRecord], moved: list[dict[str, str]]) -> dict[str, Any]:
    """What a run records in the ledger."""
    return {"sells": len(sells), "moved": moved} if sells else {"sells": 0}


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    sells = target_sells(ctx)
    if not sells:
        return summary(sells, [])
    quotes = ctx.broker.quotes(sorted({o.symbol for o in sells}))
    moved = []
    for order in sells:
        quote = quotes.get(order.symbol)
        target = None if quote is None else lowered_target(ctx, order, day, quote.ltp)
        if target is not None:
            ctx.orders.modify(order, price=target, quantity=order.quantity)
            moved.append({"symbol": order.symbol, "from": str(order.price), "to": str(target)})
    return summary(sells, moved)
