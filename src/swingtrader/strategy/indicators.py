"""Daily indicators with the TA-Lib conventions, in plain numpy.

Every function takes a 1-D series or a 2-D panel (time along axis 0, one column per symbol) and returns arrays
of the same shape. NaN marks a session without a bar: each column's indicator runs over its own bars only, so a
column whose history starts later (leading NaNs) is seeded at its first bar, and a NaN inside a column is
skipped (the output there is NaN). Values are causal: the value at row t depends only on rows <= t.
The work is vectorised across columns and loops over time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "atr", "avg_volume", "ema", "ema_next", "highest_before", "rsi", "rsi_next", "rsi_with_state", "volume_ratio",
]


def ema(close: np.ndarray, n: int) -> np.ndarray:
    """EMA(n), `alpha = 2/(n+1)`: the first value is at a column's bar n-1 and equals the mean of its first n
    closes; then `ema = alpha*close + (1-alpha)*ema_prev`. NaN before."""
    return _per_column(close, lambda p: (_ema_packed(p, n),))[0]


def rsi(close: np.ndarray, period: int = 10) -> np.ndarray:
    """Wilder's RSI(period); see `rsi_with_state`."""
    return rsi_with_state(close, period)[0]


def rsi_with_state(close: np.ndarray, period: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rsi, avg_gain, avg_loss), Wilder's: the first value is at a column's bar `period`, seeded with the
    simple means of the first `period` gains and losses; then `avg = (avg*(period-1) + x)/period`.
    RSI = 100*avg_gain/(avg_gain+avg_loss), and 100 when avg_loss is 0. NaN before."""
    value, gain, loss = _per_column(close, lambda p: _rsi_packed(p, period))
    return value, gain, loss


def avg_volume(volume: np.ndarray, window: int = 50) -> np.ndarray:
    """Mean volume of the `window` sessions before each session (the session itself excluded); NaN until a
    column has `window` earlier bars."""
    return _per_column(volume, lambda p: (_mean_before_packed(p, window),))[0]


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's ATR(period), TA-Lib's convention: true range `max(high - low, |high - prev_close|,
    |low - prev_close|)` from a column's second bar (prev_close: its previous bar's close); the first value is
    at bar `period`, the mean of the first `period` true ranges; then `atr = (atr*(period-1) + tr)/period`."""
    c = np.asarray(close, dtype=float)
    rows = np.arange(len(c)).reshape((-1,) + (1,) * (c.ndim - 1))
    last_bar = np.maximum.accumulate(np.where(np.isnan(c), -1, rows), axis=0)  # each row's latest bar so far
    prev_row = np.concatenate([np.full_like(last_bar[:1], -1), last_bar[:-1]])
    prev_close = np.where(prev_row >= 0, np.take_along_axis(c, np.maximum(prev_row, 0), axis=0), np.nan)
    with np.errstate(invalid="ignore"):
        tr = np.fmax(high - low, np.fmax(np.abs(high - prev_close), np.abs(low - prev_close)))
    tr = np.where(np.isnan(c), np.nan, tr)
    return _per_column(tr, lambda p: (_wilder_packed(p, period),))[0]


def highest_before(x: np.ndarray, window: int) -> np.ndarray:
    """The highest of a column's `window` bars before each bar (the bar itself excluded); NaN until a column
    has `window` earlier bars."""
    return _per_column(x, lambda p: (_extreme_before_packed(p, window, np.max),))[0]


def volume_ratio(volume: np.ndarray, average: np.ndarray) -> np.ndarray:
    """The session's volume over its average volume (NaN where either is NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio: np.ndarray = np.asarray(volume, dtype=float) / average
    return ratio


def ema_next(price: float | np.ndarray, ema_prev: float | np.ndarray, n: int) -> float | np.ndarray:
    """The EMA(n) if `price` were the next close: `alpha*price + (1-alpha)*ema_prev` (0.2/0.8 for n=9)."""
    alpha = 2.0 / (n + 1)
    return alpha * price + (1 - alpha) * ema_prev


def rsi_next(
    price: float | np.ndarray, prev_close: float | np.ndarray, avg_gain: float | np.ndarray,
    avg_loss: float | np.ndarray, period: int = 10,
) -> float | np.ndarray:
    """The RSI if `price` were the next close, from the last close and its Wilder averages."""
    change = np.asarray(price, dtype=float) - prev_close
    gain = (avg_gain * (period - 1) + np.maximum(change, 0.0)) / period
    loss = (avg_loss * (period - 1) + np.maximum(-change, 0.0)) / period
    out = _rsi_from_averages(gain, loss)
    return float(out) if out.ndim == 0 else out


# --- implementation: each column's bars are packed to the top, computed on, and scattered back ---------------------


def _per_column(x: np.ndarray, compute: Callable[[np.ndarray], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    a = np.asarray(x, dtype=float)
    if a.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D series or a 2-D panel, got {a.ndim} dimensions")
    panel = a if a.ndim == 2 else a[:, np.newaxis]
    valid = ~np.isnan(panel)
    if valid.all():
        return tuple(r.reshape(a.shape) for r in compute(panel))
    order = np.argsort(~valid, axis=0, kind="stable")  # each column's bars first, in time order
    flat = (order * panel.shape[1] + np.arange(panel.shape[1])).ravel()
    out = []
    for packed in compute(panel.ravel()[flat].reshape(panel.shape)):
        r = np.empty(panel.size)
        r[flat] = packed.ravel()
        r[~valid.ravel()] = np.nan
        out.append(r.reshape(a.shape))
    return tuple(out)


def _ema_packed(p: np.ndarray, n: int) -> np.ndarray:
    out = np.full_like(p, np.nan)
    if len(p) < n:
        return out
    alpha = 2.0 / (n + 1)
    weighted = alpha * p
    out[n - 1] = _mean_of_rows(p[:n])
    for t in range(n, len(p)):  # out[t] = alpha*p[t] + (1-alpha)*out[t-1], in place
        np.multiply(out[t - 1], 1 - alpha, out=out[t])
        np.add(weighted[t], out[t], out=out[t])
    return out


def _rsi_packed(p: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gains and losses side by side, so one Wilder update per row serves both."""
    m = p.shape[1]
    avg = np.full((len(p), 2 * m), np.nan)
    if len(p) > period:
        change = np.diff(p, axis=0)  # row t-1 holds close[t] - close[t-1]
        moves = np.concatenate([np.maximum(change, 0.0), np.maximum(-change, 0.0)], axis=1)
        avg[period] = _mean_of_rows(moves[:period])
        for t in range(period + 1, len(p)):  # avg[t] = (avg[t-1]*(period-1) + move)/period, in place
            row = avg[t]
            np.multiply(avg[t - 1], period - 1, out=row)
            row += moves[t - 1]
            row /= period
    gain, loss = avg[:, :m], avg[:, m:]
    return _rsi_from_averages(gain, loss), gain, loss


def _mean_of_rows(rows: np.ndarray) -> np.ndarray:
    """Column means summed row by row, so that a column gives the same bits alone as inside a panel."""
    total = rows[0].copy()
    for row in rows[1:]:
        total += row
    mean: np.ndarray = total / len(rows)
    return mean


def _rsi_from_averages(gain: np.ndarray, loss: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(loss == 0, 100.0, 100.0 * gain / (gain + loss))


def _mean_before_packed(p: np.ndarray, window: int) -> np.ndarray:
    out = np.full_like(p, np.nan)
    if len(p) > window:
        total = np.zeros((len(p) + 1, *p.shape[1:]))
        np.cumsum(p, axis=0, out=total[1:])  # exact for whole-number volumes below 2**53
        out[window:] = (total[window:-1] - total[: -1 - window]) / window
    return out


def _wilder_packed(p: np.ndarray, period: int) -> np.ndarray:
    """Row 0 (a column's first bar) has no true range; the first average is at row `period`."""
    out = np.full_like(p, np.nan)
    if len(p) > period:
        out[period] = _mean_of_rows(p[1 : period + 1])
        for t in range(period + 1, len(p)):
            np.multiply(out[t - 1], period - 1, out=out[t])
            out[t] += p[t]
            out[t] /= period
    return out


def _extreme_before_packed(p: np.ndarray, window: int, extreme: Callable[..., np.ndarray]) -> np.ndarray:
    out = np.full_like(p, np.nan)
    if len(p) > window:
        windows = np.lib.stride_tricks.sliding_window_view(p, window, axis=0)  # windows[i] = rows i..i+window-1
        out[window:] = extreme(windows[:-1], axis=-1)
    return out
