"""16:00: scan the universe with the strategy and store ranked recommendations for today's buy task.

Held positions are evaluated for averaging down: `rsi10 < 20` (then `< 10`) at the close adds one lot, each
level once per cycle; `rsi10 > rsi_entry` again resets the levels.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete

from swingtrader.broker.base import Side
from swingtrader.schedule import Slot
from swingtrader.store import tables as t
from swingtrader.strategy.dip_buy import add_level_for
from swingtrader.tasks.context import TaskContext, money


def run(ctx: TaskContext, slot: Slot) -> dict:
    day = slot.trading_date
    ctx.orders.reconcile()
    positions = {p.symbol: p for p in ctx.portfolio.open_positions()}
    pending = frozenset(o.symbol for o in ctx.orders.active(side=Side.BUY))
    report = ctx.strategy.analyse(ctx.bars, day, held=frozenset(positions), pending=pending)
    rows = []
    for rank, c in enumerate(report.candidates, start=1):
        rows.append(_row(day, c.symbol, rank, "entry", c.close, c.rsi10, c.ema9, c.ema200, c.avg_volume_50,
                         c.volume_ratio, c.score, c.score_detail))
    adds = []
    for symbol, p in positions.items():
        snap = ctx.snapshot(symbol, day)
        if snap is None or snap.date != day or symbol in pending:
            continue  # no bar today: averaging decisions wait for a real close
        if snap.rsi10 > ctx.params.rsi_entry and p.add_levels:
            ctx.portfolio.set_add_levels(symbol, ())
            continue
        level = add_level_for(snap.rsi10, p.add_levels, ctx.params)
        if level is not None:
            adds.append(symbol)
            rows.append(_row(day, symbol, len(rows) + 1, f"add{int(level)}", snap.close, snap.rsi10, snap.ema9,
                             snap.ema200, snap.avg_volume_50, None, 0.0, {"level": level}))
    with ctx.store.begin() as conn:
        conn.execute(delete(t.recommendations).where(t.recommendations.c.as_of == day))
        conn.execute(delete(t.analysis_runs).where(t.analysis_runs.c.as_of == day))
        conn.execute(
            t.analysis_runs.insert().values(
                as_of=day, symbols_analysed=report.symbols_analysed, rejected=report.rejected,
                warnings=report.warnings, created_at=ctx.clock.now(),
            )
        )
        if rows:
            conn.execute(t.recommendations.insert(), rows)
    return {
        "symbols_analysed": report.symbols_analysed,
        "candidates": [c.symbol for c in report.candidates],
        "adds": adds,
        "warnings": report.warnings[:5],
    }


def _row(day, symbol, rank, level, close, rsi10, ema9, ema200, avg_vol, vol_ratio, score, detail) -> dict:
    def opt(x):
        return None if x is None else money(x)

    return {
        "as_of": day, "symbol": symbol, "rank": rank, "level": level, "close": money(close), "rsi10": money(rsi10),
        "ema9": money(ema9), "ema200": money(ema200), "avg_volume_50": opt(avg_vol), "volume_ratio": opt(vol_ratio),
        "score": money(score) if score is not None else Decimal(0), "detail": detail,
    }
