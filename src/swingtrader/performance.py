"""Backtest performance: a daily equity series rebuilt from the paper exchange's fills, and what a backtest user
reads first (the headline of `report_metrics`, max drawdown with dates, exposure, CAGR, Sharpe, an equal-weight
buy-and-hold benchmark).

Contracts:
- Equity at the close of session d = starting capital − Σ buys (quantity × price + charges) + Σ sells
  (quantity × price − charges) over fills up to d (IST date), + Σ holdings × the symbol's last close on or
  before d. Money is `Decimal` (strings in the report); ratios and returns are float fractions.
- Returns are day over day, the first against the starting capital; Sharpe = mean / sample std × √252 (rf = 0).
- CAGR = (final / capital) ** (252 / sessions) − 1: a year is 252 sessions.
- The benchmark puts capital / N into each of the N symbols that have a bar on the first session, at that
  session's open (fractional quantities, no costs), and values them at each close (last close when a symbol
  has no bar that day).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from swingtrader.report_metrics import TRADING_DAYS, headline
from swingtrader.report_types import Benchmark, Drawdown, Exposure, Growth, Performance, ReportTrade

if TYPE_CHECKING:
    from swingtrader.market.bars import BarSource
    from swingtrader.store import Store

__all__ = ["Benchmark", "Drawdown", "Exposure", "Fill", "Growth", "Performance", "benchmark", "daily_equity",
           "fills_from_store", "max_drawdown", "performance_from_store", "performance_report", "summary"]

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Fill:
    day: date
    symbol: str
    side: str  # "BUY" | "SELL"
    quantity: int
    price: Decimal
    charges: Decimal


def fills_from_store(store: Store) -> list[Fill]:
    """The paper exchange's fills in the order they happened, dated in IST."""
    from swingtrader.broker import paper_store
    from swingtrader.clock import IST

    with store.connect() as conn:
        rows = paper_store.fills_since(conn)
    return [Fill(r.at.astimezone(IST).date(), r.symbol, r.side, r.quantity, r.price, r.charges) for r in rows]


class _Closes:
    """Last close on or before each session, per symbol, forward-filled over the source's dates."""

    def __init__(self, bars: BarSource, sessions: Sequence[date]) -> None:
        p = bars.panel()
        close = p.close
        valid = ~np.isnan(close)
        idx = np.where(valid, np.arange(len(p.dates))[:, None], -1)
        np.maximum.accumulate(idx, axis=0, out=idx)
        rows = np.searchsorted(p.dates, np.array(sessions, dtype="datetime64[D]"), side="right") - 1
        self.symbols = p.symbols
        self.column = {s: i for i, s in enumerate(p.symbols)}
        self.ffilled = np.full((len(sessions), len(p.symbols)), np.nan)
        ok = rows >= 0
        last = idx[rows[ok]]
        self.ffilled[ok] = np.where(last >= 0, close[np.maximum(last, 0), np.arange(len(p.symbols))], np.nan)
        first_row = rows[0] if len(rows) else -1
        on_first = first_row >= 0 and len(sessions) and p.dates[first_row] == np.datetime64(sessions[0], "D")
        self.first_open = p.open[first_row] if on_first else np.full(len(p.symbols), np.nan)

    def price(self, i: int, symbol: str) -> Decimal | None:
        x = self.ffilled[i, self.column[symbol]] if symbol in self.column else math.nan
        return None if math.isnan(x) else Decimal(repr(round(float(x), 2)))


def daily_equity(fills: Iterable[Fill], capital: Decimal, sessions: Sequence[date], bars: BarSource
                 ) -> tuple[list[Decimal], list[Decimal]]:
    """(equity, holdings value) at the close of each session (see the module contract)."""
    closes = _Closes(bars, sessions)
    pending = sorted(fills, key=lambda f: f.day)
    cash, k = capital, 0
    held: dict[str, int] = {}
    cost: dict[str, Decimal] = {}  # last buy price, for a holding with no close yet
    equity, invested = [], []
    for i, day in enumerate(sessions):
        while k < len(pending) and pending[k].day <= day:
            f = pending[k]
            value = f.price * f.quantity
            if f.side == "BUY":
                cash -= value + f.charges
                cost[f.symbol] = f.price
                held[f.symbol] = held.get(f.symbol, 0) + f.quantity
            else:
                cash += value - f.charges
                held[f.symbol] = held.get(f.symbol, 0) - f.quantity
            k += 1
        value = sum(((closes.price(i, s) or cost[s]) * q for s, q in held.items() if q), Decimal(0))
        equity.append((cash + value).quantize(_CENT))
        invested.append(value.quantize(_CENT))
    return equity, invested


def max_drawdown(dates: Sequence[date], equity: Sequence[Decimal], capital: Decimal) -> Drawdown:
    """The largest fall from a running peak (the starting capital, on the first session, counts as the first peak)
    as a fraction of that peak: {"value", "fraction", "peak_date", "trough_date"}; the dates are None when
    nothing fell."""
    peak, peak_day = capital, dates[0] if dates else None
    best: Drawdown = {"value": "0.00", "fraction": 0.0, "peak_date": None, "trough_date": None}
    worst = 0.0
    for day, value in zip(dates, equity, strict=True):
        if value > peak:
            peak, peak_day = value, day
            continue
        pct = float((peak - value) / peak)
        if pct > worst:
            worst = pct
            best = {"value": str((peak - value).quantize(_CENT)), "fraction": round(pct, 6),
                    "peak_date": None if peak_day is None else peak_day.isoformat(), "trough_date": day.isoformat()}
    return best


def summary(equity: Sequence[Decimal], capital: Decimal) -> Growth:
    """CAGR and annualised Sharpe of a daily equity series that started from `capital` (None when undefined)."""
    if not equity:
        return {"cagr": None, "sharpe": None}
    values = np.array([float(capital), *map(float, equity)])
    returns = values[1:] / values[:-1] - 1
    growth = float(equity[-1] / capital)
    cagr = growth ** (TRADING_DAYS / len(equity)) - 1 if growth > 0 else -1.0
    std = float(returns.std(ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(returns.mean()) / std * math.sqrt(TRADING_DAYS) if std > 0 else None
    return {"cagr": round(cagr, 6), "sharpe": None if sharpe is None else round(sharpe, 4)}


def benchmark(bars: BarSource, sessions: Sequence[date], capital: Decimal) -> Benchmark:
    """Equal-weight buy-and-hold of the source's symbols over `sessions` (see the module contract)."""
    closes = _Closes(bars, sessions)
    held = ~np.isnan(closes.first_open)
    if not sessions or not held.any():
        return {"symbols": [], "final_value": str(capital.quantize(_CENT)), "series": {}}
    shares = float(capital) / held.sum() / closes.first_open[held]
    values = (closes.ffilled[:, held] * shares).sum(axis=1)
    series = {d.isoformat(): str(Decimal(repr(round(float(v), 2))).quantize(_CENT)) for d, v in zip(
        sessions, values, strict=True)}
    return {"symbols": [s for s, h in zip(closes.symbols, held, strict=True) if h],
            "final_value": series[sessions[-1].isoformat()], "series": series}


def performance_report(fills: Iterable[Fill], *, capital: Decimal, sessions: Sequence[date], bars: BarSource,
                       trades: Sequence[ReportTrade] = (), final_equity: Decimal | None = None,
                       universe: str = "") -> Performance:
    """The report's performance fields for a run over `sessions` (its trading days, in order): headline
    (`report_metrics.headline`; `final_equity` defaults to the last session's equity, realised P&L is the sum
    over `trades`, the report's closed trades), max_drawdown, exposure, cagr, sharpe, win_rate, benchmark,
    equity_curve."""
    equity, invested = daily_equity(fills, capital, sessions, bars)
    exposure: Exposure = {
        "sessions_with_position": round(sum(1 for v in invested if v) / len(sessions), 6) if sessions else 0.0,
        "average_deployed": round(sum(float(v / e) for v, e in zip(invested, equity, strict=True) if e > 0)
                                  / len(sessions), 6) if sessions else 0.0,
    }
    won = sum(1 for tr in trades if Decimal(tr["net_pnl"]) > 0)
    drawdown, growth, bench = max_drawdown(sessions, equity, capital), summary(equity, capital), benchmark(
        bars, sessions, capital)
    final = final_equity if final_equity is not None else equity[-1] if equity else capital
    return {
        "headline": headline(capital=capital, final_equity=final,
                             realised=sum((Decimal(tr["net_pnl"]) for tr in trades), Decimal(0)), equity=equity,
                             benchmark_final=Decimal(bench["final_value"]) if bench["symbols"] else None,
                             cagr=growth["cagr"], drawdown=drawdown["fraction"], trades=trades, universe=universe),
        "max_drawdown": drawdown,
        "exposure": exposure,
        **growth,
        "win_rate": round(won / len(trades), 6) if trades else None,
        "benchmark": bench,
        "equity_curve": {d.isoformat(): str(v) for d, v in zip(sessions, equity, strict=True)},
    }


def performance_from_store(store: Store, *, capital: Decimal, sessions: Sequence[date], bars: BarSource,
                           trades: Sequence[ReportTrade] = (), final_equity: Decimal | None = None,
                           universe: str = "") -> Performance:
    """`performance_report` over the fills of the paper exchange kept in `store`."""
    return performance_report(fills_from_store(store), capital=capital, sessions=sessions, bars=bars, trades=trades,
                              final_equity=final_equity, universe=universe)
