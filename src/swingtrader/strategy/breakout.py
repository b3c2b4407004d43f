"""A trend-following alternative to the dip-buy: buy a breakout to a new high, ride it with an ATR trailing stop.

`SWINGTRADER_STRATEGY=atr_breakout`. Decisions, on daily bars at the close (settings in brackets):
- **Entry** on as-of day D: `close(D)` above the highest high of the `window` sessions before D
  (`BREAKOUT_WINDOW`, 55: a Donchian breakout), `close(D) > ema200(D)`, and the dip-buy's liquidity and
  history checks (`MIN_AVG_VOLUME`, `MIN_VOLUME_RATIO`, `MIN_HISTORY`); not held, no open buy. Candidates
  rank by the breakout's strength, `(close - that high) / ATR`.
- **Exit**: hourly, when the last price is at or below the chandelier stop `highest close since entry -
  k * ATR(period)` of the previous session (`ATR_MULTIPLE` k = 3, `ATR_PERIOD` 14): reason `trailing_stop`.
  The protective exits (`STOP_LOSS_PCT`, `TRAILING_STOP_PCT`, `MAX_HOLDING_DAYS`) apply as to any strategy.
- No target sell (winners run until the stop), no averaging down. Sizing, buy orders and limits are the
  service's (`CAPITAL_PER_TRADE`, `MAX_POSITIONS`, the liquidity cap).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol
from weakref import WeakKeyDictionary

import numpy as np

from swingtrader.market.bars import BarSource, Panel
from swingtrader.strategy.base import Averaging, ExitReason, PositionView
from swingtrader.strategy.dip_buy import NO_VOLUME_WARNING, AnalysisReport, Candidate, DipBuyStrategy, Snapshot
from swingtrader.strategy.exits import peak_close, protective_exit
from swingtrader.strategy.indicators import atr, highest_before
from swingtrader.strategy.params import StrategyParams, StrategySettings, params_from_settings

__all__ = ["REJECTION_REASONS", "AtrBreakout", "BreakoutParams"]

REJECTION_REASONS = (
    "no_bar_on_as_of",
    "insufficient_history",
    "already_held",
    "pending_buy",
    "no_breakout",
    "below_ema200",
    "low_avg_volume",
    "low_volume_ratio",
)
"""Why a symbol is not a candidate, in the order checked."""


@dataclass(frozen=True)
class BreakoutParams:
    window: int = 55
    atr_period: int = 14
    atr_multiple: Decimal = Decimal(3)


@dataclass(frozen=True)
class _Levels:
    panel: Panel
    prior_high: np.ndarray
    atr: np.ndarray



class BreakoutSettings(StrategySettings, Protocol):
    """The settings `AtrBreakout.from_settings` reads (`config.Settings` is one)."""

    @property
    def breakout_window(self) -> int: ...
    @property
    def atr_period(self) -> int: ...
    @property
    def atr_multiple(self) -> Decimal: ...


class AtrBreakout(DipBuyStrategy):
    """The breakout strategy (module docstring). Indicator snapshots are the dip-buy's (close, RSI, EMAs,
    average volume), so every task and report reads them the same way."""

    def __init__(self, params: StrategyParams | None = None, breakout: BreakoutParams | None = None) -> None:
        super().__init__(params)
        self.breakout = breakout or BreakoutParams()
        self._levels: WeakKeyDictionary[BarSource, _Levels] = WeakKeyDictionary()

    @classmethod
    def from_settings(cls, settings: BreakoutSettings) -> AtrBreakout:
        return cls(params_from_settings(settings), BreakoutParams(
            window=settings.breakout_window, atr_period=settings.atr_period, atr_multiple=settings.atr_multiple))

    def analyse(
        self, source: BarSource, as_of: date, *, held: Collection[str] = frozenset(),
        pending: Collection[str] = frozenset(),
    ) -> AnalysisReport:
        t, lv = self._table(source), self._levels_of(source)
        warnings = list(source.warnings) + ([NO_VOLUME_WARNING] if t.avg_volume is None else [])
        row = t.row.get(as_of)
        if row is None:
            warnings.append(f"no bars on {as_of.isoformat()} in {source.name}")
            return AnalysisReport(as_of, len(t.symbols), [], {REJECTION_REASONS[0]: t.symbols.tolist()}, warnings)
        p, close = self.params, t.panel.close[row]
        checks = [
            np.isnan(close), t.history[row] < max(p.min_history, self.breakout.window + 1),
            self._member(t, held), self._member(t, pending),
            ~(close > lv.prior_high[row]), ~(close > t.ema_trend[row]),
        ]
        if t.avg_volume is not None and t.volume_ratio is not None:
            checks += [~(t.avg_volume[row] >= p.min_avg_volume), ~(t.volume_ratio[row] >= p.min_volume_ratio)]
        reason = np.select(checks, list(range(len(checks))), default=-1)
        rejected = {
            name: t.symbols[idx].tolist()
            for k, name in enumerate(REJECTION_REASONS) if (idx := np.flatnonzero(reason == k)).size
        }
        candidates = []
        for col in np.flatnonzero(reason == -1).tolist():
            high, width = float(lv.prior_high[row, col]), float(lv.atr[row, col])
            strength = (float(close[col]) - high) / width if width > 0 else 0.0
            candidates.append(Candidate(
                symbol=str(t.symbols[col]), close=float(close[col]), rsi10=float(t.rsi[row, col]),
                ema_exit=float(t.ema_exit[row, col]), ema200=float(t.ema_trend[row, col]),
                avg_volume_50=None if t.avg_volume is None else float(t.avg_volume[row, col]),
                volume_ratio=None if t.volume_ratio is None else float(t.volume_ratio[row, col]),
                score=strength,
                score_detail={"breakout_high": round(high, 4), "atr": round(width, 4),
                              "strength_atr": round(strength, 4)},
            ))
        candidates.sort(key=lambda c: (-c.score, c.symbol))
        return AnalysisReport(as_of, len(t.symbols), candidates, rejected, warnings)

    def averaging(self, snapshot: Snapshot, position: PositionView) -> Averaging:
        return Averaging()

    def target(self, snapshot: Snapshot, ltp: Decimal) -> Decimal | None:
        return None

    def exit_reason(
        self, source: BarSource, snapshot: Snapshot, position: PositionView, ltp: Decimal, held_sessions: int
    ) -> ExitReason | None:
        stop = self.stop_level(source, position, snapshot.date)
        if stop is not None and ltp <= stop:
            return ExitReason.TRAILING_STOP
        return protective_exit(self.params, source, position, ltp, snapshot.date, held_sessions)

    def stop_level(self, source: BarSource, position: PositionView, as_of: date) -> Decimal | None:
        """The chandelier stop after the close of `as_of`: the highest close since the entry minus
        `atr_multiple` ATRs of `as_of`; None without an ATR or a close since the entry."""
        p, lv = source.panel(), self._levels_of(source)
        if position.symbol not in p.symbols:
            return None
        row = int(np.searchsorted(p.dates, np.datetime64(as_of, "D"), side="right")) - 1
        width = float(lv.atr[row, p.symbols.index(position.symbol)]) if row >= 0 else float("nan")
        peak = peak_close(source, position.symbol, position.entry_date, as_of)
        if peak is None or np.isnan(width):
            return None
        return Decimal(repr(peak)) - self.breakout.atr_multiple * Decimal(repr(width))

    def _levels_of(self, source: BarSource) -> _Levels:
        panel = source.panel()
        levels = self._levels.get(source)
        if levels is None or levels.panel is not panel:
            levels = _Levels(panel, highest_before(panel.high, self.breakout.window),
                             atr(panel.high, panel.low, panel.close, self.breakout.atr_period))
            self._levels[source] = levels
        return levels
