"""18:00: reconcile with the broker and write the daily summary.

Orders the day's book no longer shows are settled and extra holdings reported (`swingtrader.recovery`). A
strategy position whose shares left the account through a sell we did not send is closed as `manual_exit`
at that sell's price; a holding that vanished without such a sell is flagged (`holding_missing`), never
silently dropped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from swingtrader.account_view import read_account
from swingtrader.broker.base import Side
from swingtrader.notify import NotificationKind
from swingtrader.recovery import Recovery
from swingtrader.schedule import Slot
from swingtrader.store.state import ServiceState
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.events import HoldingMissing


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    recovery = Recovery(ctx)
    settled = recovery.settle_missing(ctx.orders.missing(ctx.orders.reconcile()))
    holdings = {h.symbol: h for h in ctx.broker.holdings()}
    fills = ctx.broker.fills()
    ours = [*ctx.orders.for_day(day), *ctx.orders.active()]
    our_tags = {o.tag for o in ours}
    our_ids = {o.broker_order_id for o in ours if o.broker_order_id}  # the broker may rewrite tags
    flagged, manual = [], []
    for p in ctx.portfolio.open_positions():
        held = holdings[p.symbol].quantity if p.symbol in holdings else 0
        if held >= p.quantity:
            continue
        missing = p.quantity - held
        hand_sells = [f for f in fills if f.symbol == p.symbol and f.side is Side.SELL
                      and f.tag not in our_tags and f.order_id not in our_ids]
        sold = sum(f.quantity for f in hand_sells)
        if sold >= missing:
            value = sum((f.price * f.quantity for f in hand_sells), Decimal(0))
            price = (value / sold).quantize(Decimal("0.01"))
            ctx.portfolio.close(p.symbol, missing, price, "manual_exit")
            manual.append(p.symbol)
        else:
            ctx.signal(day, p.symbol, HoldingMissing(p.quantity, held))
            flagged.append(p.symbol)
    mismatches = recovery.check_holdings(day, shortfalls=False, holdings=holdings)  # shortfalls: flagged above
    orders_today = ctx.orders.for_day(day)
    positions = ctx.portfolio.open_positions()
    funds = ctx.broker.funds()
    cash = funds.extra.get("cash", funds.available_cash)
    marks = {h.symbol: h.close_price for h in holdings.values() if h.close_price is not None}
    ServiceState(ctx.store).record_account(cash, marks, ctx.clock.now())
    equity = read_account(ctx.store, ctx.clock.now()).equity
    summary = {
        "orders_today": len(orders_today),
        "open_positions": len(positions),
        "manual_exits": manual,
        "flagged": flagged,
        "settled": settled,
        "holdings_mismatch": mismatches,
        "cash": str(cash),
        "equity": str(equity),
    }
    ctx.notify(
        NotificationKind.DAILY_SUMMARY,
        f"swingtrader {day}: {len(positions)} positions, equity {equity:.2f}",
        "\n".join(f"{k}: {v}" for k, v in summary.items()),
    )
    return summary
