"""16:00: scan the universe with the strategy and store ranked recommendations for today's buy task.

The universe is every symbol of the bar source, or those `SWINGTRADER_UNIVERSE_RULE` admits as of the day
(`market/universe.py`): others are neither candidates nor averaged down (their exits run as usual).

Held positions are evaluated for averaging down by the strategy (`Strategy.averaging`); the default adds one lot
at `rsi10 < 20` (then `< 10`) at the close, each level once per cycle, and resets the levels at
`rsi10 > rsi_entry`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from swingtrader.broker.base import Side
from swingtrader.market.universe import members, screen
from swingtrader.schedule import Slot
from swingtrader.store.analysis import AnalysisRun, Recommendation
from swingtrader.tasks.context import TaskContext, money


def run(ctx: TaskContext, slot: Slot) -> dict[str, Any]:
    day = slot.trading_date
    if ctx.feed is not None:  # the day's bars are required: `failed` with no_data_for_as_of, never "no candidates"
        # (`skipped` on a source that cannot change, past its newest bar: see `DataFeed.require`)
        ctx.feed.require(day, slot.deadline)
    ctx.orders.reconcile()
    positions = {p.symbol: p for p in ctx.portfolio.open_positions()}
    pending = frozenset(o.symbol for o in ctx.orders.active(side=Side.BUY))
    report = screen(ctx.strategy.analyse(ctx.bars, day, held=frozenset(positions), pending=pending), ctx.bars,
                    ctx.universe)
    admitted = None if ctx.universe is None else set(members(ctx.bars.panel(), day, ctx.universe))
    rows = []
    for rank, c in enumerate(report.candidates, start=1):
        rows.append(_row(day, c.symbol, rank, "entry", c.close, c.rsi10, c.ema_exit, c.ema200, c.avg_volume_50,
                         c.volume_ratio, c.score, c.score_detail))
    adds = []
    for symbol, p in positions.items():
        snap = ctx.snapshot(symbol, day)
        if snap is None or snap.date != day or symbol in pending or (admitted is not None and symbol not in admitted):
            continue  # no bar today: averaging decisions wait for a real close; no adds outside the universe
        decision = ctx.strategy.averaging(snap, p)
        if decision.reset:
            ctx.portfolio.set_add_levels(symbol, ())
            continue
        level = decision.level
        if level is not None:
            adds.append(symbol)
            rows.append(_row(day, symbol, len(rows) + 1, f"add{int(level)}", snap.close, snap.rsi10, snap.ema_exit,
                             snap.ema200, snap.avg_volume_50, None, 0.0, {"level": level}))
    run = AnalysisRun(as_of=day, symbols_analysed=report.symbols_analysed, rejected=report.rejected,
                      warnings=report.warnings, created_at=ctx.clock.now())
    ctx.analysis.replace_day(run, rows)
    return {
        "symbols_analysed": report.symbols_analysed,
        "candidates": [c.symbol for c in report.candidates],
        "adds": adds,
        "warnings": report.warnings[:5],
    }


def _row(
    day: date, symbol: str, rank: int, level: str, close: float, rsi: float, ema_exit: float, ema_trend: float,
    avg_vol: float | None, vol_ratio: float | None, score: float | None, detail: dict[str, Any],
) -> Recommendation:
    def opt(x: float | None) -> Decimal | None:
        return None if x is None else money(x)

    return Recommendation(
        as_of=day, symbol=symbol, rank=rank, level=level, close=money(close), rsi=money(rsi),
        ema_exit=money(ema_exit), ema_trend=money(ema_trend), avg_volume_50=opt(avg_vol),
        volume_ratio=opt(vol_ratio), score=money(score) if score is not None else Decimal(0), detail=detail,
    )
