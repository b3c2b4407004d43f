"""09:15: one target sell per sellable strategy position, at `ema_now` (the provisional EMA of `ema_exit`
periods) rounded up to the tick.

A position whose target is more than `max_target_loss_pct` below its average entry price gets no sell today
(recorded as a signal). An existing sell with another quantity or price is modified, never duplicated.
A sellable position without a price (the broker's quotes down) gets none either: the slot is then recorded
`skipped` naming them, and `monitor_sell_orders` places their targets once prices return.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from swingtrader.portfolio import Position
from swingtrader.schedule import Slot, SlotSkipped
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.events import TargetBelowLossLimit
from swingtrader.tasks.selling import ensure_sell, loss_floor, sellable, target_now


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    positions = ctx.portfolio.open_positions()
    if not positions:
        return {"positions": 0, "sells": 0}
    placed, held_back, not_sellable, no_price = place_targets(ctx, day, positions, task="place_sell_orders")
    if no_price:
        done = f"; placed {len(placed)} other target sell(s)" if placed else ""
        raise SlotSkipped(f"no price for {', '.join(no_price)}{done}: the monitor places their target sells "
                          "when prices return")
    return {"positions": len(positions), "sells": placed, "held_back": held_back, "not_sellable": not_sellable}


def place_targets(ctx: TaskContext, day: date, positions: list[Position], *, task: str, signal: bool = True
                  ) -> tuple[list[dict[str, Any]], list[str], list[str], list[str]]:
    """Place (or move) each position's target sell; (placed, held back below the loss limit, not sellable, no
    price). `signal`: record the held-back ones as signals."""
    holdings = {h.symbol: h for h in ctx.broker.holdings()}
    quotes = ctx.broker.quotes([p.symbol for p in positions])
    placed: list[dict[str, Any]] = []
    held_back, not_sellable, no_price = [], [], []
    for p in positions:
        quantity = sellable(p, holdings.get(p.symbol))
        quote = quotes.get(p.symbol)
        if quantity <= 0:
            not_sellable.append(p.symbol)
            continue
        if quote is None:
            no_price.append(p.symbol)
            continue
        target = target_now(ctx, p.symbol, day, quote.ltp)
        if target is None:
            not_sellable.append(p.symbol)
            continue
        if target < loss_floor(ctx, p, day):
            held_back.append(p.symbol)
            if signal:
                ctx.signal(day, p.symbol, TargetBelowLossLimit(target, p.average_price))
            continue
        outcome = ensure_sell(ctx, p, day, quantity=quantity, price=target, reference=quote.ltp, task=task,
                              purpose="target")
        status = outcome.verdict.value if outcome.record is None else outcome.record.status.value
        placed.append({"symbol": p.symbol, "quantity": quantity, "price": str(target), "status": status})
    return placed, held_back, not_sellable, no_price
