"""Protective exits any strategy can use: a stop loss, a trailing stop and a maximum holding period.

All three are settings and off by default (`StrategyParams.stop_loss_pct`, `trailing_stop_pct`,
`max_holding_days`): the default dip-buy strategy has no stop. They are checked hourly by the position monitor
on the last traded price; a position that triggers one is sold at a marketable limit.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np

from swingtrader.market.bars import BarSource
from swingtrader.strategy.base import ExitReason, PositionView
from swingtrader.strategy.params import StrategyParams

__all__ = ["peak_close", "protective_exit", "stop_loss_level", "trailing_stop_level"]


def stop_loss_level(average_price: Decimal, pct: Decimal) -> Decimal:
    """The price at or below which the stop loss sells: `pct` percent under the average entry price."""
    return average_price * (1 - pct / 100)


def trailing_stop_level(peak: Decimal, pct: Decimal) -> Decimal:
    """The price at or below which the trailing stop sells: `pct` percent under the peak since entry."""
    return peak * (1 - pct / 100)


def peak_close(source: BarSource, symbol: str, since: date, until: date) -> float | None:
    """The highest close of `symbol` on sessions `since`..`until` (inclusive); None without a bar there."""
    p = source.panel()
    if symbol not in p.symbols:
        return None
    lo = int(np.searchsorted(p.dates, np.datetime64(since, "D")))
    hi = int(np.searchsorted(p.dates, np.datetime64(until, "D"), side="right"))
    closes = p.close[lo:hi, p.symbols.index(symbol)]
    closes = closes[~np.isnan(closes)]
    return float(closes.max()) if closes.size else None


def protective_exit(
    params: StrategyParams, source: BarSource, position: PositionView, ltp: Decimal, as_of: date,
    held_sessions: int,
) -> ExitReason | None:
    """The first protective exit that `ltp` triggers, in the order stop loss, trailing stop, maximum holding
    days; None when none is on or none triggers. The trailing stop's peak is the highest of the closes since
    the entry (through `as_of`, the previous session) and `ltp`."""
    if params.stop_loss_pct is not None and ltp <= stop_loss_level(position.average_price, params.stop_loss_pct):
        return ExitReason.STOP_LOSS
    if params.trailing_stop_pct is not None:
        closed = peak_close(source, position.symbol, position.entry_date, as_of)
        peak = ltp if closed is None else max(ltp, Decimal(repr(closed)))
        if ltp <= trailing_stop_level(peak, params.trailing_stop_pct):
            return ExitReason.TRAILING_STOP
    if params.max_holding_days is not None and held_sessions >= params.max_holding_days:
        return ExitReason.MAX_HOLDING
    return None
