"""16:05: after-market (AMO) buys for the next session from today's recommendations only.

At most `max_positions` symbols held or pending; a buy that does not fit the available cash is recorded as
`failed` with reason `insufficient_funds`, for the next morning's `premarket_retry`. Every decision is taken
from the broker's and the store's state at that moment (never from a running tally), so a re-run of an
interrupted slot decides exactly as the first run would have.
"""

from __future__ import annotations

from typing import Any

from swingtrader.order_path.intent import Verdict
from swingtrader.schedule import Slot
from swingtrader.tasks.buying import buy_intent
from swingtrader.tasks.context import TaskContext


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    recs = ctx.analysis.recommendations(day)
    if not recs:
        return {"recommendations": 0, "placed": [], "failed": [], "skipped": []}
    next_day = ctx.calendar.next_session(day).date
    placed, failed, skipped = [], [], []
    for rec in recs:
        intent = buy_intent(ctx, rec, day, task="place_buy_orders", amo=True, price_day=next_day,
                            record_short_cash=True)  # for tomorrow's premarket_retry
        if intent is None:
            skipped.append(f"{rec.symbol}:size")
            continue
        outcome = ctx.orders.place(intent)
        if outcome.verdict is Verdict.REFUSED and outcome.reason == "max_positions":
            skipped.append(f"{rec.symbol}:max_positions")
            continue
        if outcome.verdict is Verdict.REFUSED:
            failed.append(rec.symbol)
            continue
        if rec.level != "entry":
            _mark_level_used(ctx, rec.symbol, float(rec.level.removeprefix("add")))
        placed.append({"symbol": rec.symbol, "quantity": intent.quantity, "price": str(intent.price)})
    return {"recommendations": len(recs), "placed": placed, "failed": failed, "skipped": skipped}


def _mark_level_used(ctx: TaskContext, symbol: str, level: float) -> None:
    """Each averaging level is used once per cycle (idempotent, so a re-run slot marks it the same way)."""
    position = ctx.portfolio.position(symbol)
    if position is not None and level not in position.add_levels:
        ctx.portfolio.set_add_levels(symbol, (*position.add_levels, level))
