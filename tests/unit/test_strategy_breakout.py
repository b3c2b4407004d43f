"""`AtrBreakout`'s decisions on hand-made bars, and the protective exits any strategy can use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np

from swingtrader.market.bars import BarSource, Panel
from swingtrader.strategy.base import ExitReason
from swingtrader.strategy.breakout import AtrBreakout, BreakoutParams
from swingtrader.strategy.dip_buy import DipBuyStrategy
from swingtrader.strategy.exits import protective_exit
from swingtrader.strategy.params import StrategyParams

PARAMS = StrategyParams(min_history=10, ema_trend=5)
BREAKOUT = BreakoutParams(window=5, atr_period=3, atr_multiple=Decimal(2))


@dataclass(frozen=True)
class _Position:
    symbol: str
    quantity: int
    average_price: Decimal
    entry_date: date
    add_levels: tuple[float, ...] = ()


def _source(closes: dict[str, list[float]]) -> BarSource:
    """Bars with high = close + 1 and low = close - 1 (true range 2 on flat days)."""
    n = len(next(iter(closes.values())))
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n)
    close = np.array(list(closes.values()), dtype=float).T
    return BarSource(Panel(dates, tuple(closes), close.copy(), close + 1, close - 1, close.copy(), None), name="hand")


def _day(i: int) -> date:
    return date(2024, 1, 1 + i)


def test_a_close_above_the_prior_high_is_a_candidate_and_a_flat_one_is_not() -> None:
    flat = [100.0] * 12
    source = _source({"UP": [*flat[:-1], 105.0], "FLAT": flat})
    report = AtrBreakout(PARAMS, BREAKOUT).analyse(source, _day(11))
    assert [c.symbol for c in report.candidates] == ["UP"]
    # prior 5 highs are 101; ATR(3) of true ranges 2, 2, 2 -> 2 on day 10, then (2*2 + 6)/3 on day 11
    assert report.candidates[0].score_detail["breakout_high"] == 101.0
    assert report.candidates[0].score_detail["atr"] == round((2 * 2 + 6) / 3, 4)
    assert report.rejected == {"no_breakout": ["FLAT"]}
    held = AtrBreakout(PARAMS, BREAKOUT).analyse(source, _day(11), held={"UP"})
    assert held.candidates == [] and held.rejected["already_held"] == ["UP"]


def test_the_chandelier_stop_trails_the_highest_close_since_entry() -> None:
    closes = [100.0] * 6 + [110.0, 120.0, 118.0, 116.0]
    source, strategy = _source({"X": closes}), AtrBreakout(PARAMS, BREAKOUT)
    position = _Position("X", 10, Decimal(110), _day(6))
    snap = strategy.indicator_snapshot(source, "X", _day(9))
    stop = strategy.stop_level(source, position, _day(9))
    assert stop is not None and stop < Decimal(120)
    assert strategy.exit_reason(source, snap, position, stop + Decimal("0.05"), 3) is None
    assert strategy.exit_reason(source, snap, position, stop, 3) is ExitReason.TRAILING_STOP
    assert strategy.target(snap, Decimal(200)) is None  # no target sell: winners run


def test_protective_exits_are_off_by_default_and_fire_in_order_when_set() -> None:
    source = _source({"X": [100.0, 120.0, 110.0]})
    position = _Position("X", 10, Decimal(100), _day(0))
    assert protective_exit(StrategyParams(), source, position, Decimal(50), _day(2), 99) is None
    both = StrategyParams(stop_loss_pct=Decimal(10), trailing_stop_pct=Decimal(5), max_holding_days=2)
    assert protective_exit(both, source, position, Decimal(90), _day(2), 0) is ExitReason.STOP_LOSS
    assert protective_exit(both, source, position, Decimal(114), _day(2), 0) is ExitReason.TRAILING_STOP
    assert protective_exit(both, source, position, Decimal("114.05"), _day(2), 1) is None
    assert protective_exit(both, source, position, Decimal("114.05"), _day(2), 2) is ExitReason.MAX_HOLDING


def test_the_default_strategy_uses_the_same_protective_exits() -> None:
    source = _source({"X": [100.0] * 12})
    position = _Position("X", 10, Decimal(100), _day(0))
    strategy = DipBuyStrategy(StrategyParams(min_history=10, stop_loss_pct=Decimal(3)))
    snap = strategy.indicator_snapshot(source, "X", _day(11))
    assert strategy.exit_reason(source, snap, position, Decimal(97), 5) is ExitReason.STOP_LOSS
    assert DipBuyStrategy().exit_reason(source, snap, position, Decimal(97), 5) is None
