"""What a backtest report leads with: total return against the benchmark's, a plain verdict, final equity split
into realised and unrealised parts, trade statistics, Sortino and Calmar, grouped tables and caveats.

Contracts (the same definitions as `empyrical`, checked against it in the tests):
- Returns are fractions; daily returns are day over day, the first against the starting capital.
- Sortino = mean(r) / sqrt(mean(min(r, 0)²)) × √252 (target 0); None without a losing day.
- Calmar = CAGR / max drawdown (a fraction); None without a drawdown.
- Profit factor = Σ winning net P&L / |Σ losing net P&L| of closed trades; None without a loss.
- Expectancy = mean net P&L per closed trade (rupees); holding days are calendar days from entry to exit.
- A caveat is given with fewer than `MIN_TRADES` closed trades or less than a year (252 sessions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

import numpy as np

from swingtrader.report_types import GroupFigures, Headline, ReportTrade

__all__ = ["MIN_TRADES", "TRADING_DAYS", "calmar", "caveats", "daily_returns", "grouped", "headline",
           "sortino", "trade_statistics", "verdict"]

TRADING_DAYS = 252
MIN_TRADES = 30
_CENT = Decimal("0.01")


def daily_returns(equity: Sequence[Decimal], capital: Decimal) -> np.ndarray:
    """Day-over-day returns of `equity`, the first against `capital`."""
    values = np.array([float(capital), *map(float, equity)])
    returns: np.ndarray = values[1:] / values[:-1] - 1
    return returns


def sortino(returns: np.ndarray) -> float | None:
    """Annualised Sortino ratio (target 0, see the module contract); None when no day lost."""
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2))) if len(returns) else 0.0
    return None if downside == 0 else round(float(returns.mean()) / downside * math.sqrt(TRADING_DAYS), 4)


def calmar(cagr: float | None, drawdown: float) -> float | None:
    """CAGR over the max drawdown (both fractions); None when either is missing or there was no fall."""
    return None if cagr is None or drawdown <= 0 else round(cagr / drawdown, 4)


def trade_statistics(trades: Sequence[ReportTrade]) -> tuple[float | None, Decimal | None, float | None]:
    """(profit factor, expectancy in rupees, average holding days) of closed trades (None where undefined)."""
    if not trades:
        return None, None, None
    pnl = [Decimal(t["net_pnl"]) for t in trades]
    won = sum((p for p in pnl if p > 0), Decimal(0))
    lost = -sum((p for p in pnl if p < 0), Decimal(0))
    factor = round(float(won / lost), 4) if lost else None
    expectancy = (sum(pnl, Decimal(0)) / len(pnl)).quantize(_CENT)
    days = [(date.fromisoformat(t["exit_date"]) - date.fromisoformat(t["entry_date"])).days for t in trades]
    return factor, expectancy, round(sum(days) / len(days), 2)


def grouped(trades: Sequence[ReportTrade], key: Callable[[ReportTrade], str]) -> list[GroupFigures]:
    """Closed trades per `key` (e.g. whatever exit reason a trade carries), the largest net P&L first."""
    groups: dict[str, list[Decimal]] = {}
    for t in trades:
        groups.setdefault(key(t), []).append(Decimal(t["net_pnl"]))
    rows: list[GroupFigures] = [
        {"key": k, "trades": len(v), "wins": sum(1 for p in v if p > 0), "net_pnl": str(sum(v, Decimal(0))),
         "average_pnl": str((sum(v, Decimal(0)) / len(v)).quantize(_CENT))}
        for k, v in groups.items()]
    return sorted(rows, key=lambda r: (-Decimal(r["net_pnl"]), r["key"]))


def verdict(total: float, benchmark: float | None) -> str:
    """One plain sentence: did the run make money, and did it beat holding the benchmark?"""
    made = f"{'made' if total >= 0 else 'lost'} {abs(total):.2%}"
    if benchmark is None:
        return f"{made}; no benchmark to compare with"
    gap = (total - benchmark) * 100
    if abs(gap) < 0.005:
        return f"{made}, the same as buy-and-hold ({benchmark:+.2%})"
    side = "beat" if gap > 0 else "lost to"
    return f"{made}: {side} buy-and-hold ({benchmark:+.2%}) by {abs(gap):.2f} percentage points"


def caveats(trades: int, sessions: int) -> list[str]:
    """Why the figures may say little: too few closed trades, or less than a year."""
    out = []
    if trades < MIN_TRADES:
        out.append(f"only {trades} closed trades (fewer than {MIN_TRADES}): win rate, profit factor and the ratios "
                   "are mostly chance")
    if sessions < TRADING_DAYS:
        out.append(f"only {sessions} sessions (less than a year of {TRADING_DAYS}): CAGR, Sharpe, Sortino and "
                   "Calmar extrapolate a short run")
    return out


def headline(*, capital: Decimal, final_equity: Decimal, realised: Decimal, equity: Sequence[Decimal],
             benchmark_final: Decimal | None, cagr: float | None, drawdown: float, trades: Sequence[ReportTrade],
             universe: str) -> Headline:
    """The report's leading figures (see the module contract); `equity` is the daily equity series, `drawdown`
    the max drawdown as a fraction, `universe` says which symbols could be traded."""
    total = float(final_equity / capital - 1)
    bench = None if benchmark_final is None else float(benchmark_final / capital - 1)
    factor, expectancy, holding = trade_statistics(trades)
    return {
        "total_return": round(total, 6),
        "benchmark_return": None if bench is None else round(bench, 6),
        "excess_return": None if bench is None else round(total - bench, 6),
        "verdict": verdict(total, bench),
        "final_equity": str(final_equity.quantize(_CENT)),
        "capital": str(capital.quantize(_CENT)),
        "realised_pnl": str(realised.quantize(_CENT)),
        "unrealised_pnl": str((final_equity - capital - realised).quantize(_CENT)),
        "sortino": sortino(daily_returns(equity, capital)) if equity else None,
        "calmar": calmar(cagr, drawdown),
        "profit_factor": factor,
        "expectancy": None if expectancy is None else str(expectancy),
        "average_holding_days": holding,
        "years": round(len(equity) / TRADING_DAYS, 4),
        "by_exit_reason": grouped(trades, lambda t: t["exit_reason"]),
        "by_symbol": grouped(trades, lambda t: t["symbol"]),
        "caveats": caveats(len(trades), len(equity)),
        "universe": universe,
    }
