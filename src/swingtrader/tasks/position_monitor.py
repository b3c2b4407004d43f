"""Hourly: exit and averaging signals on provisional values (the last price as today's close).

Signals, each recorded once per symbol and day and notified:
- `at_target`: the price is at or above `ema9_now` (the target sell should be filling);
- `rsi_exit`: provisional RSI(10) above `rsi_exit` -> the sell moves to a marketable limit at the last price
  rounded down to the tick (a sell is placed if none is active);
- `stop_loss` / `max_holding_days` when those settings are on (both off by default): exit the same way.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from swingtrader.market.ticks import round_to_tick
from swingtrader.portfolio import Position
from swingtrader.schedule import Slot
from swingtrader.strategy.dip_buy import provisional_ema9, provisional_rsi
from swingtrader.tasks.context import TaskContext, money
from swingtrader.tasks.selling import ensure_sell


def run(ctx: TaskContext, slot: Slot) -> dict:
    day = slot.trading_date
    ctx.orders.reconcile()
    positions = ctx.portfolio.open_positions()
    if not positions:
        return {"positions": 0, "signals": []}
    quotes = ctx.broker.quotes([p.symbol for p in positions])
    holdings = None
    fired = []
    for p in positions:
        quote = quotes.get(p.symbol)
        snap = ctx.snapshot(p.symbol, ctx.previous_session(day))
        if quote is None or snap is None:
            continue
        ltp = quote.ltp
        ema9_now = money(provisional_ema9(float(ltp), snap.ema9))
        rsi_now = provisional_rsi(float(ltp), snap, ctx.params.rsi_period)
        detail = {"ltp": str(ltp), "ema9_now": str(ema9_now), "rsi_now": round(float(rsi_now), 4)}
        if ltp >= ema9_now and ctx.signal(day, p.symbol, "at_target", detail):
            fired.append((p.symbol, "at_target"))
        exit_reason = _exit_reason(ctx, p, day, ltp, rsi_now)
        if exit_reason is None:
            continue
        if ctx.signal(day, p.symbol, exit_reason, detail):
            ctx.notify("exit_signal", f"{exit_reason}: {p.symbol}", f"{p.symbol} {exit_reason} at {ltp}")
            fired.append((p.symbol, exit_reason))
        if holdings is None:
            holdings = {h.symbol: h for h in ctx.broker.holdings()}
        h = holdings.get(p.symbol)
        sellable = min(p.quantity, h.sellable_quantity) if h is not None else 0
        if sellable > 0:
            price = round_to_tick(ltp, day, "down")
            ensure_sell(ctx, p, day, quantity=sellable, price=price, reference=ltp, task="position_monitor",
                        purpose=exit_reason, attempt=int(slot.slot[:2]) % 10)
    return {"positions": len(positions), "signals": [f"{s}:{k}" for s, k in fired]}


def _exit_reason(ctx: TaskContext, p: Position, day: date, ltp: Decimal, rsi_now: float) -> str | None:
    params = ctx.params
    if rsi_now > params.rsi_exit:
        return "rsi_exit"
    if params.stop_loss_pct is not None and ltp <= p.average_price * (1 - Decimal(params.stop_loss_pct) / 100):
        return "stop_loss"
    if params.max_holding_days is not None:
        held = len(ctx.calendar.sessions(p.entry_date, day)) - 1
        if held >= params.max_holding_days:
            return "max_holding"
    return None
