"""The dip-buy strategy: entry rule and rejection reasons, causality of the cached analysis, and order rules."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from swingtrader.market.bars import BarSource, Panel, open_bar_source
from swingtrader.strategy.dip_buy import (
    REJECTION_REASONS,
    DipBuyStrategy,
    add_level_for,
    buy_limit_price,
    order_quantity,
    provisional_ema,
    provisional_rsi,
    sell_target,
)
from swingtrader.strategy.indicators import ema, rsi
from swingtrader.strategy.params import StrategyParams

N = 300
DAYS = np.busday_offset(np.datetime64("2023-01-02"), np.arange(N), roll="forward")
AS_OF = DAYS[-1].item()


def dip(n: int = N) -> np.ndarray:
    """A steady climb and then six falling closes: oversold, still above the 200-day EMA."""
    up = 100 * 1.003 ** np.arange(n - 6)
    return np.concatenate([up, up[-1] * 0.98 ** np.arange(1, 7)])


def volume(level: float, last: float | None = None) -> np.ndarray:
    v = np.full(N, level)
    v[-1] = level if last is None else last
    return v


def tail(values: np.ndarray) -> np.ndarray:
    """Right-align a shorter history on the N-day calendar (NaN before it starts)."""
    out = np.full(N, np.nan)
    out[N - len(values):] = values
    return out


def fixture_source(with_volume: bool = True) -> BarSource:
    columns = {
        "CAND": (dip(), volume(1e6, 2e6)),
        "HELD": (dip(), volume(1e6, 2e6)),
        "PEND": (dip(), volume(1e6, 2e6)),
        "LOWVOL": (dip(), volume(1e5, 2e5)),
        "LOWRATIO": (dip(), volume(1e6, 5e5)),
        "DOWN": (200 * 0.997 ** np.arange(N), volume(1e6, 2e6)),
        "UP": (100 * 1.003 ** np.arange(N), volume(1e6, 2e6)),
        "H250": (tail(dip(250)), volume(1e6, 2e6)),
        "H249": (tail(dip(249)), volume(1e6, 2e6)),
        "NOBAR": (np.append(dip(N - 1), np.nan), volume(1e6, 2e6)),
    }
    symbols = tuple(sorted(columns))
    close = np.column_stack([columns[s][0] for s in symbols])
    vol = np.column_stack([columns[s][1] for s in symbols])
    vol[np.isnan(close)] = np.nan
    panel = Panel(DAYS, symbols, close, close * 1.01, close * 0.99, close, vol if with_volume else None)
    return BarSource(panel, name="fixture")


# --- the entry rule ------------------------------------------------------------------------------------------------


def test_every_symbol_is_a_candidate_or_rejected_for_the_first_rule_it_fails() -> None:
    report = DipBuyStrategy().analyse(fixture_source(), AS_OF, held=frozenset({"HELD"}), pending=frozenset({"PEND"}))
    assert {c.symbol for c in report.candidates} == {"CAND", "H250"}
    assert report.rejected == {
        "no_bar_on_as_of": ["NOBAR"],
        "insufficient_history": ["H249"],
        "already_held": ["HELD"],
        "pending_buy": ["PEND"],
        "rsi_not_oversold": ["UP"],
        "below_ema200": ["DOWN"],
        "low_avg_volume": ["LOWVOL"],
        "low_volume_ratio": ["LOWRATIO"],
    }
    assert list(report.rejected) == list(REJECTION_REASONS)
    assert report.symbols_analysed == 10 and report.warnings == []
    cand = next(c for c in report.candidates if c.symbol == "CAND")
    closes = dip()
    assert cand.close == closes[-1]
    assert cand.rsi10 == pytest.approx(rsi(closes, 10)[-1], abs=1e-9) and cand.rsi10 < 30
    assert cand.ema_exit == pytest.approx(ema(closes, 9)[-1]) and cand.ema200 == pytest.approx(ema(closes, 200)[-1])
    assert cand.close > cand.ema200
    assert cand.avg_volume_50 == 1e6 and cand.volume_ratio == 2.0
    assert report.candidates == sorted(report.candidates, key=lambda c: -c.score)


def test_without_volume_the_liquidity_checks_are_skipped_and_the_report_says_so() -> None:
    report = DipBuyStrategy().analyse(fixture_source(with_volume=False), AS_OF)
    assert {c.symbol for c in report.candidates} == {"CAND", "HELD", "PEND", "LOWVOL", "LOWRATIO", "H250"}
    assert all(c.avg_volume_50 is None and c.volume_ratio is None for c in report.candidates)
    assert any("no volume" in w and "liquidity" in w for w in report.warnings)


def test_a_day_without_a_session_rejects_everything_with_a_warning() -> None:
    saturday = date(2024, 2, 3)
    report = DipBuyStrategy().analyse(fixture_source(), saturday)
    assert report.candidates == [] and report.rejected == {"no_bar_on_as_of": sorted(fixture_source().symbols())}
    assert any("no bars on 2024-02-03" in w for w in report.warnings)


def test_params_change_the_rule() -> None:
    strict = replace(StrategyParams(), rsi_entry=5, rsi_add_levels=(4, 2))
    report = DipBuyStrategy(strict).analyse(fixture_source(), AS_OF)
    assert report.candidates == [] and "CAND" in report.rejected["rsi_not_oversold"]


def test_report_json_has_the_documented_shape() -> None:
    report = DipBuyStrategy().analyse(fixture_source(), AS_OF)
    data = json.loads(json.dumps(report.to_json_dict()))
    assert set(data) == {"as_of", "symbols_analysed", "candidates", "rejected", "warnings"}
    assert data["as_of"] == AS_OF.isoformat()
    for c in data["candidates"]:
        assert {"symbol", "close", "rsi10", "ema9", "ema200", "avg_volume_50", "volume_ratio", "score"} <= set(c)
        assert set(c["score_detail"]) >= {"depth", "backtest_trades", "backtest_win_rate", "confidence"}


def test_score_rewards_depth_and_a_backtest_that_worked() -> None:
    source = open_bar_source("bundled")
    report = DipBuyStrategy().analyse(source, date(2022, 1, 27))
    assert len(report.candidates) >= 5
    for c in report.candidates:
        d = c.score_detail
        assert d["depth"] == pytest.approx((30 - c.rsi10) / 30, abs=1e-4)
        assert d["confidence"] == pytest.approx(d["backtest_trades"] / (d["backtest_trades"] + 5), abs=1e-4)
        assert c.score == pytest.approx(d["depth"] + d["confidence"] * d["edge"], abs=1e-3)


# --- the cached table is causal ------------------------------------------------------------------------------------


def truncated(source: BarSource, day: date) -> BarSource:
    p = source.panel()
    r = int(np.searchsorted(p.dates, np.datetime64(day), side="right"))
    return BarSource(Panel(p.dates[:r], p.symbols, p.open[:r], p.high[:r], p.low[:r], p.close[:r], p.volume[:r]),
                     name=source.name)


def test_analysis_on_full_history_equals_analysis_on_history_cut_at_the_day() -> None:
    source, strategy = open_bar_source("bundled"), DipBuyStrategy()
    for day in (date(2021, 11, 26), date(2022, 1, 27), date(2023, 3, 20), date(2024, 6, 4), date(2025, 9, 30)):
        full = strategy.analyse(source, day).to_json_dict()
        cut = DipBuyStrategy().analyse(truncated(source, day), day).to_json_dict()
        assert full == cut


def test_analysis_per_day_is_cheap_once_the_table_is_built() -> None:
    source, strategy = open_bar_source("bundled"), DipBuyStrategy()
    days = source.panel().dates[-400:].tolist()
    strategy.analyse(source, days[0])
    start = time.perf_counter()
    found = sum(len(strategy.analyse(source, d).candidates) for d in days)
    per_call = (time.perf_counter() - start) / len(days)
    assert found > 0 and per_call < 0.005, f"{per_call * 1000:.2f} ms per analyse"


def test_synthetic_data_gives_the_strategy_trades() -> None:
    source, strategy = open_bar_source("synthetic", seed=3), DipBuyStrategy()
    days = source.panel().dates[300:].tolist()
    assert sum(len(strategy.analyse(source, d).candidates) for d in days) > 100


# --- snapshots for the intraday tasks ------------------------------------------------------------------------------


def test_snapshot_is_the_last_bar_on_or_before_the_day() -> None:
    source, strategy = open_bar_source("bundled"), DipBuyStrategy()
    snap = strategy.indicator_snapshot(source, "RELIANCE", date(2024, 6, 8))  # a Saturday
    assert snap.date == date(2024, 6, 7)
    bars = source.bars("RELIANCE")
    closes = bars.close[: int(np.searchsorted(bars.dates, np.datetime64("2024-06-07"), side="right"))]
    assert snap.close == closes[-1]
    assert snap.rsi10 == pytest.approx(rsi(closes, 10)[-1], abs=1e-9)
    assert snap.ema_exit == pytest.approx(ema(closes, 9)[-1]) and snap.ema200 == pytest.approx(ema(closes, 200)[-1])
    assert snap.avg_volume_50 == pytest.approx(float(np.mean(bars.volume[len(closes) - 51: len(closes) - 1])))
    ltp = snap.close * 0.97
    assert provisional_rsi(ltp, snap) == pytest.approx(rsi(np.append(closes, ltp), 10)[-1], abs=1e-9)
    assert provisional_ema(ltp, snap.ema_exit, 9) == pytest.approx(ema(np.append(closes, ltp), 9)[-1])


def test_snapshot_errors() -> None:
    source, strategy = open_bar_source("bundled"), DipBuyStrategy()
    with pytest.raises(KeyError, match="NOSUCH"):
        strategy.indicator_snapshot(source, "NOSUCH", date(2024, 6, 7))
    with pytest.raises(ValueError, match="JIOFIN on or before 2023-01-02"):
        strategy.indicator_snapshot(source, "JIOFIN", date(2023, 1, 2))
    assert math.isnan(strategy.indicator_snapshot(source, "JIOFIN", date(2023, 8, 21)).rsi10)


# --- order rules, exact --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("close", "on", "expected"),
    [
        (1060.55, date(2025, 6, 2), "1071.10"),  # 1071.1555 down to the 0.10 tick (1,000-5,000 from April 2025)
        (1060.55, date(2024, 1, 2), "1071.15"),  # 0.05 everywhere before June 2024
        (Decimal("200"), date(2024, 7, 1), "202.00"),  # 0.01 below 250
        (Decimal("99.99"), date(2024, 7, 1), "100.98"),  # 100.9899 down
    ],
)
def test_buy_limit_is_close_plus_one_percent_rounded_down(close: float | Decimal, on: date, expected: str) -> None:
    price = buy_limit_price(close, on)
    assert price == Decimal(expected) and str(price) == expected


@pytest.mark.parametrize(
    ("ema9_now", "on", "expected"),
    [
        (Decimal("1071.1201"), date(2025, 6, 2), "1071.20"),
        (245.123, date(2024, 7, 1), "245.13"),
        (Decimal("245.10"), date(2024, 7, 1), "245.10"),  # already on the tick
        (102.00000000000001, date(2024, 1, 2), "102.05"),  # a float is taken at its shortest repr
        (101.99999999999999, date(2024, 1, 2), "102.00"),
    ],
)
def test_sell_target_is_ema9_now_rounded_up(ema9_now: float | Decimal, on: date, expected: str) -> None:
    assert str(sell_target(ema9_now, on)) == expected


@pytest.mark.parametrize(
    ("price", "avg_volume", "expected"),
    [
        ("1060.55", None, 94),  # floor(100000 / 1060.55)
        ("250", None, 400),  # exact division
        ("1060.55", 5_000_000, 94),  # cap far away
        ("1060.55", 1_000, 50),  # 5% of 1,000 at >= 1,000
        ("999.95", 1_000, 100),  # 10% band below 1,000: floor(100.005) = 100
        ("500", 1_999, 199),  # 10% of 1,999 = 199.9
        ("6000", 500, 10),  # 2% at >= 5,000
        ("100", 4_000, 800),  # 20% below 500
        ("100", 150_000.0, 1000),
        ("100000", None, 1),
        ("100000.05", None, 0),  # above capital_per_trade: no trade
    ],
)
def test_order_quantity(price: str, avg_volume: float | None, expected: int) -> None:
    assert order_quantity(Decimal(price), avg_volume, StrategyParams()) == expected


def test_order_quantity_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="positive"):
        order_quantity(Decimal(0), None, StrategyParams())
    with pytest.raises(ValueError, match="NaN"):
        order_quantity(Decimal(100), float("nan"), StrategyParams())


def test_provisional_ema_weights_the_last_price_by_two_over_n_plus_one() -> None:
    assert provisional_ema(110.0, 100.0, 9) == pytest.approx(102.0, abs=1e-12)
    assert provisional_ema(110.0, 100.0, 5) == pytest.approx(110.0 / 3 + 200.0 / 3, abs=1e-12)


@pytest.mark.parametrize(
    ("rsi10", "used", "expected"),
    [(25, (), None), (19.9, (), 20), (8, (), 20), (8, (20,), 10), (15, (20,), None), (5, (20, 10), None)],
)
def test_add_levels_are_taken_in_order_once_per_cycle(rsi10: float, used: tuple, expected: float | None) -> None:
    assert add_level_for(rsi10, used, StrategyParams()) == expected


def test_params_reject_add_levels_out_of_order() -> None:
    with pytest.raises(ValueError, match="rsi_add_levels"):
        StrategyParams(rsi_add_levels=(10, 20))
