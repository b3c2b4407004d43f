"""Every minute of the session: detect fills (one order-book read) and move target sells down as the
provisional EMA of `ema_exit` periods falls (one batched quote read). A target is never moved up, nor below
the loss limit. On a day whose `place_sell_orders` was skipped for want of prices, it places the target sells
still missing (positions with no sell today) as soon as their prices return."""

from __future__ import annotations

from datetime import date
from typing import Any

from swingtrader.broker.base import Side
from swingtrader.order_path.intent import OrderRecord
from swingtrader.schedule import Slot
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.selling import lowered_target


def target_sells(ctx: TaskContext) -> list[OrderRecord]:
    """The sells this task watches: active target sells the broker has acknowledged."""
    return [o for o in ctx.orders.active(side=Side.SELL) if o.purpose == "target" and o.broker_order_id]


def summary(sells: list[OrderRecord], moved: list[dict[str, str]], placed: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """What a run records in the ledger (`placed`: missing target sells it placed, shown only when any)."""
    out: dict[str, Any] = {"sells": len(sells), "moved": moved} if sells else {"sells": 0}
    if placed:
        out["targets_placed"] = placed
    return out


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    missing = _missing_targets(ctx, day)
    sells = target_sells(ctx)
    if not sells:
        return summary(sells, [], missing)
    quotes = ctx.broker.quotes(sorted({o.symbol for o in sells}))
    moved = []
    for order in sells:
        quote = quotes.get(order.symbol)
        target = None if quote is None else lowered_target(ctx, order, day, quote.ltp)
        if target is not None:
            ctx.orders.modify(order, price=target, quantity=order.quantity)
            moved.append({"symbol": order.symbol, "from": str(order.price), "to": str(target)})
    return summary(sells, moved, missing)


def _missing_targets(ctx: TaskContext, day: date) -> list[dict[str, Any]]:
    """The target sells `place_sell_orders` could not place today for want of prices, placed now if their
    prices are back: only on a day its slot was skipped, only for positions with no sell today at all."""
    from swingtrader.store.ledger import Ledger, RunStatus
    from swingtrader.tasks.place_sell_orders import place_targets

    if ("place_sell_orders succeeded", day) in ctx.settled:
        return []
    ran = {s for (task, _), s in Ledger(ctx.store).statuses(day).items() if task == "place_sell_orders"}
    if ran == {RunStatus.SUCCEEDED}:  # a succeeded slot never runs again: nothing to place for the rest of the day
        ctx.settled.add(("place_sell_orders succeeded", day))
    if RunStatus.SKIPPED not in ran:
        return []
    sold_today = {o.symbol for o in ctx.orders.for_day(day) if o.side is Side.SELL}
    waiting = [p for p in ctx.portfolio.open_positions() if p.symbol not in sold_today]
    if not waiting:
        return []
    placed, *_ = place_targets(ctx, day, waiting, task="monitor_sell_orders", signal=False)
    return placed
