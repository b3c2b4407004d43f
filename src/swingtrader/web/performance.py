"""The trades page's performance panel: max drawdown (value and dates), exposure, CAGR, Sharpe on daily equity
and the equal-weight buy-and-hold benchmark.

- A store that holds a simulation shows the performance its report recorded (`ServiceState.performance`),
  figure for figure: the benchmark needs the bars, which only the simulation had.
- Any other store (live, paper) gets what the store alone supports: a daily equity series over the sessions in
  the ledger, each session's value being the read model's equity now less the realised net P&L of trades that
  closed after it; drawdown, CAGR and Sharpe of that series as `swingtrader.performance` defines them. No
  exposure and no benchmark.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from swingtrader.account_view import AccountView
from swingtrader.clock import ist_date
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.state import RecordedPerformance, ServiceState

NO_BENCHMARK = "The buy-and-hold benchmark and exposure need a simulation (`swingtrader simulate --db FILE`)."


def performance(store: Store, account: AccountView) -> dict[str, Any]:
    """{"source": "simulation" | "store" | None, "note", "curve": [(session, equity, benchmark or None)],
    "headline" (a simulation's `report_types.Headline`), "max_drawdown" {value, fraction, peak_date,
    trough_date}, "cagr", "sharpe", "exposure" {sessions_with_position, average_deployed}, "benchmark" {symbols,
    final_value}}; each None where its source cannot give it. Ratios are fractions."""
    recorded = ServiceState(store).performance()
    if recorded is not None:
        return _recorded(recorded)
    return _from_store(store, account)


def _recorded(p: RecordedPerformance) -> dict[str, Any]:
    bench = dict(p.benchmark)
    dd = p.max_drawdown
    return {
        "source": "simulation", "note": None, "headline": p.headline,
        "max_drawdown": {"value": dd.value, "fraction": round(dd.pct / 100, 6), "peak_date": dd.peak_date,
                         "trough_date": dd.trough_date},
        "cagr": p.cagr, "sharpe": p.sharpe,
        "exposure": {"sessions_with_position": p.sessions_with_position, "average_deployed": p.average_deployed},
        "benchmark": {"symbols": len(p.benchmark_symbols), "final_value": p.benchmark_final},
        "curve": [(d, v, bench.get(d)) for d, v in p.equity],
    }


def _from_store(store: Store, account: AccountView) -> dict[str, Any]:
    if account.equity is None:
        return _none("No equity known yet (no reconciliation with the broker): no performance figures.")
    with store.connect() as conn:
        tr = t.task_runs
        sessions: list[date] = list(conn.execute(
            select(tr.c.trading_date).distinct().where(tr.c.trading_date <= ist_date(account.as_of))
            .order_by(tr.c.trading_date)).scalars())
    if not sessions:
        return _none("No sessions in the ledger yet: no performance figures.")
    later = account.realised_pnl
    capital = account.equity - later  # the equity before the first session, as realised P&L moved it
    if capital <= 0:
        return _none("The equity less realised P&L is not positive: no performance figures.")
    from swingtrader.performance import max_drawdown, summary

    equity, k = [], 0
    trades = account.trades  # oldest first
    for day in sessions:
        while k < len(trades) and trades[k]["exit_date"] <= day:
            later -= trades[k]["net_pnl"]
            k += 1
        equity.append(account.equity - later)
    dd = max_drawdown(sessions, equity, capital)
    return {
        "source": "store", "note": NO_BENCHMARK, "headline": None,
        "max_drawdown": {**dd, "value": Decimal(dd["value"]),
                         "peak_date": dd["peak_date"] and date.fromisoformat(dd["peak_date"]),
                         "trough_date": dd["trough_date"] and date.fromisoformat(dd["trough_date"])},
        **summary(equity, capital),
        "exposure": None, "benchmark": None,
        "curve": [(d, v, None) for d, v in zip(sessions, equity, strict=True)],
    }


def _none(note: str) -> dict[str, Any]:
    return {"source": None, "note": note, "headline": None, "max_drawdown": None, "cagr": None, "sharpe": None,
            "exposure": None, "benchmark": None, "curve": []}
