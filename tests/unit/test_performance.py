"""Performance figures from fills and bars, checked against an independent pandas computation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from swingtrader.market.bars import BarSource, Panel
from swingtrader.performance import Fill, daily_equity, performance_report

CAPITAL = Decimal(100_000)
DAYS = [date(2024, 1, d) for d in (1, 2, 3, 4, 5, 8, 9, 10)]
# two symbols; B has no bar on 01-04 (valued at its last close then)
OPEN = np.array([[100, 50], [101, 51], [99, 52], [97, 50], [95, 49], [98, 50], [102, 48], [104, 47]], float)
CLOSE = np.array([[101, 51], [99, 52], [97, np.nan], [95, 49], [98, 50], [102, 48], [104, 47], [103, 49]], float)
FILLS = [
    Fill(date(2024, 1, 2), "A", "BUY", 200, Decimal("100.50"), Decimal("25.10")),
    Fill(date(2024, 1, 3), "B", "BUY", 300, Decimal("52.00"), Decimal("18.00")),
    Fill(date(2024, 1, 9), "A", "SELL", 200, Decimal("103.00"), Decimal("30.40")),
]
TRADES = [{"net_pnl": "444.50"}]


@pytest.fixture
def bars() -> BarSource:
    dates = np.array(DAYS, dtype="datetime64[D]")
    panel = Panel(dates, ("A", "B"), OPEN.copy(), np.fmax(OPEN, CLOSE), np.fmin(OPEN, CLOSE), CLOSE.copy(), None)
    return BarSource(panel, name="test")


def _independent_equity() -> pd.Series:
    closes = pd.DataFrame(CLOSE, index=pd.to_datetime(DAYS), columns=["A", "B"]).ffill()
    flows = pd.DataFrame(0.0, index=closes.index, columns=["cash", "A", "B"])
    for f in FILLS:
        sign = 1 if f.side == "BUY" else -1
        flows.loc[pd.Timestamp(f.day), f.symbol] += sign * f.quantity
        flows.loc[pd.Timestamp(f.day), "cash"] -= sign * float(f.price) * f.quantity + float(f.charges)
    held = flows[["A", "B"]].cumsum()
    return float(CAPITAL) + flows["cash"].cumsum() + (held * closes).sum(axis=1)


def test_equity_curve_matches_cash_plus_holdings_at_close(bars):
    equity, invested = daily_equity(FILLS, CAPITAL, DAYS, bars)
    expected = _independent_equity()
    assert [float(v) for v in equity] == pytest.approx(expected.round(2).tolist(), abs=0.005)
    assert invested[0] == 0 and invested[-1] == 300 * 49  # A sold on the 9th, B still held


def test_drawdown_cagr_sharpe_and_benchmark_match_pandas(bars):
    report = performance_report(FILLS, capital=CAPITAL, sessions=DAYS, bars=bars, trades=TRADES)
    eq = _independent_equity().round(2)
    with_start = pd.concat([pd.Series([float(CAPITAL)]), eq.reset_index(drop=True)], ignore_index=True)
    peak = with_start.cummax()
    dd = (peak - with_start) / peak
    trough = int(dd.idxmax())
    peak_at = int(with_start[:trough + 1].idxmax())
    mdd = report["max_drawdown"]
    assert mdd["pct"] == pytest.approx(100 * dd.max(), abs=1e-4)
    assert Decimal(mdd["value"]) == Decimal(f"{peak[trough] - with_start[trough]:.2f}")
    assert mdd["trough_date"] == DAYS[trough - 1].isoformat()
    assert mdd["peak_date"] == (None if peak_at == 0 else DAYS[peak_at - 1].isoformat())
    assert dd.max() > 0.01  # the example has a real drawdown

    growth = eq.iloc[-1] / float(CAPITAL)
    assert report["cagr"] == pytest.approx(growth ** (252 / len(DAYS)) - 1, abs=1e-6)
    returns = with_start.pct_change().dropna()
    assert report["sharpe"] == pytest.approx(returns.mean() / returns.std() * np.sqrt(252), abs=1e-4)

    closes = pd.DataFrame(CLOSE, index=DAYS, columns=["A", "B"]).ffill()
    shares = (float(CAPITAL) / 2) / pd.Series(OPEN[0], index=["A", "B"])
    bench = (closes * shares).sum(axis=1)
    series = report["benchmark"]["series"]
    assert [float(series[d.isoformat()]) for d in DAYS] == pytest.approx(bench.round(2).tolist(), abs=0.005)
    assert Decimal(report["benchmark"]["final_value"]) == Decimal(f"{bench.iloc[-1]:.2f}")
    assert report["benchmark"]["symbols"] == ["A", "B"]

    assert report["exposure"]["sessions_with_position"] == pytest.approx(7 / 8)  # flat only on the first day
    assert report["win_rate"] == 1.0
    assert report["equity_curve"][DAYS[-1].isoformat()] == f"{eq.iloc[-1]:.2f}"


def test_no_fills_is_flat_with_no_drawdown(bars):
    report = performance_report([], capital=CAPITAL, sessions=DAYS, bars=bars)
    assert set(report["equity_curve"].values()) == {"100000.00"}
    assert report["max_drawdown"] == {"value": "0.00", "pct": 0.0, "peak_date": None, "trough_date": None}
    assert report["cagr"] == 0.0 and report["sharpe"] is None and report["win_rate"] is None
