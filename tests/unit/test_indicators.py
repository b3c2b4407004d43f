"""Indicators against an independent, loop-by-loop implementation of the TA-Lib definitions (STRATEGY.md)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from swingtrader.strategy.indicators import (
    avg_volume,
    ema,
    ema_next,
    rsi,
    rsi_next,
    rsi_with_state,
    volume_ratio,
)

NAN = float("nan")


# --- the reference: plain Python, straight from the definitions -------------------------------------------------


def ref_rsi(closes: list[float], period: int) -> list[float]:
    out = [NAN] * len(closes)
    if len(closes) <= period:
        return out
    gains = [max(closes[i] - closes[i - 1], 0.0) for i in range(1, len(closes))]
    losses = [max(closes[i - 1] - closes[i], 0.0) for i in range(1, len(closes))]
    avg_gain, avg_loss = sum(gains[:period]) / period, sum(losses[:period]) / period
    for i in range(period, len(closes)):
        if i > period:
            avg_gain = (avg_gain * (period - 1) + gains[i - 1]) / period
            avg_loss = (avg_loss * (period - 1) + losses[i - 1]) / period
        out[i] = 100.0 if avg_loss == 0 else 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    return out


def ref_ema(closes: list[float], n: int) -> list[float]:
    out = [NAN] * len(closes)
    if len(closes) < n:
        return out
    k = 2.0 / (n + 1)
    prev = sum(closes[:n]) / n
    out[n - 1] = prev
    for i in range(n, len(closes)):
        prev = (closes[i] - prev) * k + prev  # TA-Lib's arrangement of the same recurrence
        out[i] = prev
    return out


def ref_avg_volume(volumes: list[float], window: int) -> list[float]:
    return [sum(volumes[i - window:i]) / window if i >= window else NAN for i in range(len(volumes))]


def read_symbol(path: Path) -> tuple[list[float], list[float]]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [float(r["close"]) for r in rows], [float(r["volume"]) for r in rows]


def assert_same(actual: np.ndarray, expected: list[float], tol: float = 1e-9) -> None:
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual.tolist(), expected, strict=True)):
        if math.isnan(e):
            assert math.isnan(a), f"index {i}: expected NaN, got {a}"
        else:
            assert abs(a - e) <= tol * max(1.0, abs(e)), f"index {i}: {a} != {e}"


# --- real data ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nifty(nifty_dir: Path) -> dict[str, tuple[list[float], list[float]]]:
    return {p.stem: read_symbol(p) for p in sorted(nifty_dir.glob("*.csv"))}


def test_indicators_match_reference_on_every_nifty_symbol(nifty: dict) -> None:
    assert "M&M" in nifty and len(nifty) == 50
    for closes, volumes in nifty.values():
        c, v = np.array(closes), np.array(volumes)
        assert_same(rsi(c, 10), ref_rsi(closes, 10))
        assert_same(ema(c, 9), ref_ema(closes, 9))
        assert_same(ema(c, 200), ref_ema(closes, 200))
        assert_same(avg_volume(v, 50), ref_avg_volume(volumes, 50))


def test_panel_with_ragged_starts_matches_reference_per_symbol(nifty: dict) -> None:
    """JIOFIN and ETERNAL start years after the others: as a 2-D panel each column seeds at its own first bar."""
    n = max(len(c) for c, _ in nifty.values())
    closes, volumes = np.full((n, len(nifty)), np.nan), np.full((n, len(nifty)), np.nan)
    for j, (c, v) in enumerate(nifty.values()):
        closes[n - len(c):, j], volumes[n - len(v):, j] = c, v
    assert np.isnan(closes[0]).sum() == 2
    r, e9, e200, av = rsi(closes, 10), ema(closes, 9), ema(closes, 200), avg_volume(volumes, 50)
    for j, (c, v) in enumerate(nifty.values()):
        start = n - len(c)
        assert np.isnan(r[:start, j]).all()
        assert_same(r[start:, j], ref_rsi(c, 10))
        assert_same(e9[start:, j], ref_ema(c, 9))
        assert_same(e200[start:, j], ref_ema(c, 200))
        assert_same(av[start:, j], ref_avg_volume(v, 50))


# --- 2-D equals per-column 1-D -------------------------------------------------------------------------------------


def test_2d_with_leading_and_inner_gaps_equals_each_column_alone() -> None:
    rng = np.random.default_rng(7)
    panel = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (400, 12)), axis=0))
    for j in range(12):
        panel[: rng.integers(0, 300), j] = np.nan  # history starts later
    panel[rng.random(panel.shape) < 0.03] = np.nan  # sessions without a bar
    panel[:, 11] = np.nan  # a symbol with no bars at all
    for fn in (lambda x: rsi(x, 10), lambda x: ema(x, 9), lambda x: ema(x, 200), lambda x: avg_volume(x, 50)):
        both = fn(panel)
        for j in range(12):
            has = ~np.isnan(panel[:, j])
            assert np.isnan(both[~has, j]).all()
            np.testing.assert_array_equal(both[has, j], fn(panel[has, j]))


def test_rsi_state_is_the_wilder_averages() -> None:
    closes = [10.0, 11.0, 10.5, 10.5, 12.0, 11.0, 11.5, 12.5, 12.0, 13.0, 12.0, 12.5, 11.0]
    value, gain, loss = rsi_with_state(np.array(closes), 10)
    assert math.isnan(gain[9]) and math.isnan(value[9])
    assert gain[10] == pytest.approx((1 + 1.5 + 0.5 + 1 + 1) / 10)
    assert loss[10] == pytest.approx((0.5 + 1 + 0.5 + 1) / 10)
    assert value[10] == pytest.approx(100 * gain[10] / (gain[10] + loss[10]))
    assert gain[12] == pytest.approx(gain[11] * 0.9) and loss[12] == pytest.approx(loss[11] * 0.9 + 0.15)


def test_rsi_is_100_without_losses_and_nan_before_its_first_value() -> None:
    rising, flat = np.arange(1.0, 16.0), np.full(15, 5.0)
    assert np.isnan(rsi(rising, 10)[:10]).all()
    assert (rsi(rising, 10)[10:] == 100).all() and (rsi(flat, 10)[10:] == 100).all()
    assert np.isnan(rsi(rising[:10], 10)).all()  # too short: no value at all


def test_first_values_sit_where_ta_lib_puts_them() -> None:
    x = np.arange(1.0, 301.0)
    assert np.flatnonzero(~np.isnan(ema(x, 9)))[0] == 8 and ema(x, 9)[8] == 5.0
    assert np.flatnonzero(~np.isnan(ema(x, 200)))[0] == 199 and ema(x, 200)[199] == 100.5
    assert np.flatnonzero(~np.isnan(avg_volume(x, 50)))[0] == 50


def test_avg_volume_excludes_the_day_itself_and_ratio_uses_it() -> None:
    v = np.arange(1.0, 61.0)  # 1..60
    avg = avg_volume(v, 50)
    assert avg[50] == np.mean(v[:50]) == 25.5
    assert avg[59] == np.mean(v[9:59])
    assert volume_ratio(v, avg)[50] == 51 / 25.5


def test_provisional_values_equal_a_series_extended_by_the_price() -> None:
    closes = np.array([100, 102, 101, 99, 98, 100, 103, 104, 102, 101, 99, 97, 98, 96], dtype=float)
    ltp = 95.5
    extended = np.append(closes, ltp)
    assert ema_next(ltp, ema(closes, 9)[-1], 9) == pytest.approx(ema(extended, 9)[-1], abs=1e-12)
    assert ema_next(110.0, 100.0, 9) == pytest.approx(0.2 * 110 + 0.8 * 100)
    _, gain, loss = rsi_with_state(closes, 10)
    assert rsi_next(ltp, closes[-1], gain[-1], loss[-1], 10) == pytest.approx(rsi(extended, 10)[-1], abs=1e-12)
    assert rsi_next(200.0, closes[-1], gain[-1], 0.0, 10) == 100.0


def test_rejects_more_than_two_dimensions() -> None:
    with pytest.raises(ValueError, match="3 dimensions"):
        ema(np.zeros((3, 3, 3)), 9)
