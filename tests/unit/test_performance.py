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
TRADES = [{"symbol": "A", "entry_date": "2024-01-02", "entry_price": "100.50", "quantity": 200,
           "exit_date": "2024-01-09", "exit_price": "103.00", "exit_reason": "target", "net_pnl": "444.50"}]


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
    assert mdd["fraction"] == pytest.approx(dd.max(), abs=1e-6)
    assert Decimal(mdd["value"]) == Decimal(f"{peak[trough] - with_start[trough]:.2f}")
    assert mdd["trough_date"] == DAYS[trough - 1].isoformat()
    assert mdd["peak_date"] == DAYS[max(peak_at - 1, 0)].isoformat()  # the capital's peak is the first session
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
    assert report["max_drawdown"] == {"value": "0.00", "fraction": 0.0, "peak_date": None, "trough_date": None}
    assert report["cagr"] == 0.0 and report["sharpe"] is None and report["win_rate"] is None


# --- the headline (report_metrics): checked by hand and against empyrical -----------------------------------------

HAND_EQUITY = [Decimal(v) for v in ("102000", "99960", "101959.20", "104000")]  # from 100,000: +2%, -2%, +2%, ~+2%
HAND_TRADES = [
    {"symbol": "A", "entry_date": "2024-01-01", "entry_price": "100", "quantity": 10, "exit_date": "2024-01-05",
     "exit_price": "130", "exit_reason": "target", "net_pnl": "300.00"},
    {"symbol": "B", "entry_date": "2024-01-02", "entry_price": "100", "quantity": 10, "exit_date": "2024-01-03",
     "exit_price": "90", "exit_reason": "stop_loss", "net_pnl": "-100.00"},
    {"symbol": "A", "entry_date": "2024-01-03", "entry_price": "100", "quantity": 10, "exit_date": "2024-01-10",
     "exit_price": "95", "exit_reason": "target_below_cost", "net_pnl": "-50.00"},
]


def test_headline_figures_by_hand():
    from swingtrader.report_metrics import headline

    h = headline(capital=CAPITAL, final_equity=Decimal("104000"), realised=Decimal("150"), equity=HAND_EQUITY,
                 benchmark_final=Decimal("110000"), cagr=0.5, drawdown=0.02, trades=HAND_TRADES, universe="u")
    assert h["total_return"] == 0.04 and h["benchmark_return"] == 0.10 and h["excess_return"] == pytest.approx(-0.06)
    assert h["verdict"] == "made 4.00%: lost to buy-and-hold (+10.00%) by 6.00 percentage points"
    assert (h["realised_pnl"], h["unrealised_pnl"], h["final_equity"]) == ("150.00", "3850.00", "104000.00")
    assert h["profit_factor"] == 2.0  # 300 won / 150 lost
    assert h["expectancy"] == "50.00"  # 150 / 3
    assert h["average_holding_days"] == pytest.approx((4 + 1 + 7) / 3, abs=0.01)
    assert h["calmar"] == 25.0  # 0.5 / 0.02
    assert [(g["key"], g["trades"], g["net_pnl"]) for g in h["by_exit_reason"]] == [
        ("target", 1, "300.00"), ("target_below_cost", 1, "-50.00"), ("stop_loss", 1, "-100.00")]
    assert [(g["key"], g["trades"], g["wins"], g["net_pnl"], g["average_pnl"]) for g in h["by_symbol"]] == [
        ("A", 2, 1, "250.00", "125.00"), ("B", 1, 0, "-100.00", "-100.00")]
    # returns 0.02, -0.02, 0.02, 0.02 (to 1e-4): mean 0.01, downside sqrt(0.0004 / 4) = 0.01
    assert h["sortino"] == pytest.approx(1.0 * np.sqrt(252), rel=2e-3)
    assert len(h["caveats"]) == 2 and "only 3 closed trades" in h["caveats"][0]
    beat = headline(capital=CAPITAL, final_equity=Decimal("112000"), realised=Decimal(0), equity=HAND_EQUITY,
                    benchmark_final=Decimal("110000"), cagr=None, drawdown=0.0, trades=[], universe="u")
    assert beat["verdict"] == "made 12.00%: beat buy-and-hold (+10.00%) by 2.00 percentage points"
    assert beat["profit_factor"] is None and beat["calmar"] is None and beat["expectancy"] is None


def test_ratios_match_empyrical(bars):
    empyrical = pytest.importorskip("empyrical")
    report = performance_report(FILLS, capital=CAPITAL, sessions=DAYS, bars=bars, trades=TRADES)
    equity = [Decimal(v) for v in report["equity_curve"].values()]
    returns = pd.Series(np.array([float(CAPITAL), *map(float, equity)]), index=range(len(equity) + 1)).pct_change()
    returns = returns.dropna()
    assert report["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns), abs=1e-3)
    assert report["headline"]["sortino"] == pytest.approx(empyrical.sortino_ratio(returns), abs=1e-3)
    assert report["cagr"] == pytest.approx(empyrical.annual_return(returns), abs=1e-5)
    # empyrical's drawdown starts at the first return: prepend the capital's flat day so both count it as a peak
    with_capital = pd.concat([pd.Series([0.0]), returns], ignore_index=True)
    assert report["max_drawdown"]["fraction"] == pytest.approx(-empyrical.max_drawdown(with_capital), abs=1e-6)
    assert report["headline"]["calmar"] == pytest.approx(
        empyrical.annual_return(returns) / -empyrical.max_drawdown(with_capital), rel=1e-3)
    assert report["headline"]["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), abs=1e-6)
