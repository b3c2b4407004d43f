"""Hourly: exit and averaging signals on provisional values (the last price as today's close).

Signals, each recorded once per symbol and day and notified:
- `at_target`: the price is at or above the strategy's target (the default's `ema_now`, the provisional EMA of
  `ema_exit` periods): the target sell should be filling;
- an exit (`Strategy.exit_reason`): the default's `rsi_exit` (provisional RSI(10) above `rsi_exit`), and for any
  strategy the protective exits `stop_loss`, `trailing_stop`, `max_holding` when their settings are on (all off
  by default; strategy/exits.py) -> the sell moves to a marketable limit at the last price rounded down to the
  tick (a sell is placed if none is active), with the reason as its purpose.
"""

from __future__ import annotations

from typing import Any

from swingtrader.broker.base import Holding
from swingtrader.market.ticks import round_to_tick
from swingtrader.notify import NotificationKind
from swingtrader.schedule import Slot
from swingtrader.strategy.dip_buy import provisional_rsi
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.events import PriceSignal, SignalKind
from swingtrader.tasks.selling import ensure_sell, next_attempt, sellable

TASK = "position_monitor"


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    ctx.orders.reconcile()
    positions = ctx.portfolio.open_positions()
    if not positions:
        return {"positions": 0, "signals": []}
    quotes = ctx.broker.quotes([p.symbol for p in positions])
    holdings: dict[str, Holding] | None = None
    fired = []
    for p in positions:
        quote = quotes.get(p.symbol)
        snap = ctx.snapshot(p.symbol, ctx.previous_session(day))
        if quote is None or snap is None:
            continue
        ltp = quote.ltp
        target = ctx.strategy.target(snap, ltp)
        rsi_now = float(provisional_rsi(float(ltp), snap, ctx.params.rsi_period))
        if target is not None and ltp >= target and ctx.signal(
            day, p.symbol, PriceSignal(SignalKind.AT_TARGET, ltp, target, rsi_now)
        ):
            fired.append((p.symbol, SignalKind.AT_TARGET))
        held_sessions = len(ctx.calendar.sessions(p.entry_date, day)) - 1
        exit_decision = ctx.strategy.exit_reason(ctx.bars, snap, p, ltp, held_sessions)
        if exit_decision is None:
            continue
        exit_reason = SignalKind(exit_decision.value)
        if ctx.signal(day, p.symbol, PriceSignal(exit_reason, ltp, target, rsi_now)):
            ctx.notify(NotificationKind.EXIT_SIGNAL, f"{exit_reason}: {p.symbol}", f"{p.symbol} {exit_reason} at {ltp}")
            fired.append((p.symbol, exit_reason))
        if holdings is None:
            holdings = {h.symbol: h for h in ctx.broker.holdings()}
        quantity = sellable(p, holdings.get(p.symbol))
        if quantity > 0:
            price = round_to_tick(ltp, day, "down")
            ensure_sell(ctx, p, day, quantity=quantity, price=price, reference=ltp, task=TASK, purpose=exit_reason,
                        attempt=next_attempt(ctx, day, TASK, p.symbol))
    return {"positions": len(positions), "signals": [f"{s}:{k}" for s, k in fired]}

