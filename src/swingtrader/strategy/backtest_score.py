"""Ranking candidates: a small backtest of the entry/exit rule on a symbol's own recent history, and a score.

The backtest replays the rule on daily bars, one position at a time, without costs or averaging down:
- a signal at the close of day s (rsi10 < entry, close > ema200, liquidity when there is volume) buys on
  day s+1 at min(open, limit) if the day's low reaches the limit `close[s] * (1 + premium)`;
- from the next day on, the sell target is `ema_now` at the open (`ema_next(open, EMA(ema_exit) of the day
  before)`);
  it fills at max(open, target) when the day's high reaches it, unless the target is more than
  `max_target_loss_pct` below the entry (then there is no sell that day); a close with rsi10 above
  `rsi_exit` sells at that close;
- a trade still open on the last day is valued at the last close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swingtrader.strategy.indicators import ema_next
from swingtrader.strategy.params import StrategyParams

__all__ = ["BacktestStats", "RuleSeries", "backtest_rule", "score_candidate"]


@dataclass(frozen=True, eq=False)
class RuleSeries:
    """One symbol's bars and indicators over the backtest window, one entry per session it traded."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    rsi: np.ndarray
    ema_exit: np.ndarray
    ema_trend: np.ndarray
    avg_volume: np.ndarray | None
    volume_ratio: np.ndarray | None


@dataclass(frozen=True)
class BacktestStats:
    trades: int
    wins: int
    mean_return: float
    """Mean return per trade as a fraction (0.02 = +2%); 0.0 without trades."""

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None


def _entry_signals(s: RuleSeries, params: StrategyParams) -> np.ndarray:
    """Sessions whose close meets the entry rule (without the held/pending checks)."""
    signal = (s.rsi < params.rsi_entry) & (s.close > s.ema_trend)
    if s.avg_volume is not None and s.volume_ratio is not None:
        signal &= (s.avg_volume >= params.min_avg_volume) & (s.volume_ratio >= params.min_volume_ratio)
    return signal


def backtest_rule(s: RuleSeries, params: StrategyParams) -> BacktestStats:
    """Replay the rule over the whole series (see the module docstring)."""
    n = len(s.close)
    premium = float(params.buy_limit_premium)
    floor_factor = 1 - float(params.max_target_loss_pct) / 100
    target = np.full(n, np.nan)
    target[1:] = ema_next(s.open[1:], s.ema_exit[:-1], params.ema_exit)
    returns: list[float] = []
    free_from = 0
    for day in np.flatnonzero(_entry_signals(s, params)[:-1]).tolist():
        buy = day + 1
        limit = s.close[day] * (1 + premium)
        if day < free_from or s.low[buy] > limit:
            continue
        entry = min(s.open[buy], limit)
        later = slice(buy + 1, n)
        hit = (s.high[later] >= target[later]) & (target[later] >= entry * floor_factor)
        exits = np.flatnonzero(hit | (s.rsi[later] > params.rsi_exit))
        if exits.size == 0:
            returns.append(s.close[-1] / entry - 1)
            break
        out = buy + 1 + int(exits[0])
        price = max(s.open[out], target[out]) if hit[exits[0]] else s.close[out]
        returns.append(price / entry - 1)
        free_from = out + 1
    wins = sum(r > 0 for r in returns)
    return BacktestStats(len(returns), wins, float(np.mean(returns)) if returns else 0.0)


def score_candidate(
    rsi10: float, stats: BacktestStats, params: StrategyParams
) -> tuple[float, dict[str, float | None]]:
    """score = depth + confidence * edge, returned with its parts.

    depth = (rsi_entry - rsi10) / rsi_entry (0 at the threshold, 1 at RSI 0);
    edge = (win_rate - 0.5) + 10 * mean_return (a 60% win rate or +1% a trade each add 0.1);
    confidence = trades / (trades + score_prior_trades), so few trades shrink the backtest's say.
    """
    depth = (params.rsi_entry - rsi10) / params.rsi_entry
    confidence = stats.trades / (stats.trades + params.score_prior_trades)
    edge = 0.0 if stats.win_rate is None else (stats.win_rate - 0.5) + 10 * stats.mean_return
    detail: dict[str, float | None] = {
        "depth": round(depth, 4),
        "backtest_trades": stats.trades,
        "backtest_win_rate": None if stats.win_rate is None else round(stats.win_rate, 4),
        "backtest_mean_return_pct": round(100 * stats.mean_return, 3),
        "confidence": round(confidence, 4),
        "edge": round(edge, 4),
    }
    return depth + confidence * edge, detail
