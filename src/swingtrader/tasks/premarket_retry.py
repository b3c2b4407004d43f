"""09:00: re-place the last trading day's buys that failed for want of cash, as DAY LIMIT orders for the
pre-open ("the last trading day" is the last session with a buy task: special sessions may have none). Each
is re-checked first: still recommended for that day, not held or pending (by the strategy or bought by hand
meanwhile), and the cash is there now. A failed buy expires after one trading day. Decisions read the
current state (see `place_buy_orders`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from swingtrader.broker.base import Side
from swingtrader.order_path.intent import Verdict
from swingtrader.order_path.state import LocalStatus
from swingtrader.schedule import Slot
from swingtrader.tasks.buying import buy_intent
from swingtrader.tasks.context import TaskContext

_RETRYABLE = (LocalStatus.FAILED, LocalStatus.REJECTED)


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    prev = _last_buying_session(ctx, day)
    failed = [
        o for o in ctx.orders.for_day(prev, task="place_buy_orders")
        if o.side is Side.BUY and o.status in _RETRYABLE and o.reason == "insufficient_funds"
    ]
    if not failed:
        return {"failed_yesterday": 0, "placed": []}
    ctx.orders.reconcile()
    recs = {r.symbol: r for r in ctx.analysis.recommendations(prev)}
    held = {p.symbol for p in ctx.portfolio.open_positions()}
    held |= {h.symbol for h in ctx.broker.holdings()}
    pending = {o.symbol for o in ctx.orders.active(side=Side.BUY)}
    placed, dropped = [], []
    for order in failed:
        rec = recs.get(order.symbol)
        if rec is None or order.symbol in held or order.symbol in pending:
            dropped.append(f"{order.symbol}:no_longer_eligible")
            continue
        intent = buy_intent(ctx, rec, day, task="premarket_retry", amo=False, price_day=day, record_short_cash=False)
        if intent is None:
            dropped.append(f"{order.symbol}:size")
            continue
        outcome = ctx.orders.place(intent)
        if outcome.verdict in (Verdict.PLACED, Verdict.IN_DOUBT):
            placed.append(order.symbol)
        else:
            dropped.append(f"{order.symbol}:{outcome.reason}")
    return {"failed_yesterday": len(failed), "placed": placed, "dropped": dropped}


def _last_buying_session(ctx: TaskContext, day: date) -> date:
    """The last session before `day` on which `place_buy_orders` runs (special sessions may not have it)."""
    session = ctx.calendar.previous_session(day)
    while session.kind != "regular" and "place_buy_orders" not in ctx.special_session_tasks:
        session = ctx.calendar.previous_session(session.date)
    return session.date
