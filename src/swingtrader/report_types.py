"""The JSON shapes of a simulation report (`simulate --json`), below both `performance` and `simulate`.

Money is a decimal string, dates are ISO strings, ratios and returns are fractions (0.042 is 4.2 %)."""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = ["Benchmark", "Drawdown", "Exposure", "GroupFigures", "Growth", "Headline", "Performance", "Pnl",
           "ReportTrade", "SimulationReport"]


class ReportTrade(TypedDict):
    symbol: str
    entry_date: str
    entry_price: str
    quantity: int
    exit_date: str
    exit_price: str
    exit_reason: str
    net_pnl: str


class Pnl(TypedDict):
    gross: str
    charges: str
    net: str


class Drawdown(TypedDict):
    value: str
    fraction: float  # of the running peak
    peak_date: str | None  # the first session when the peak was the starting capital; None with no session
    trough_date: str | None  # None: no fall


class Exposure(TypedDict):
    sessions_with_position: float
    average_deployed: float


class Growth(TypedDict):
    cagr: float | None
    sharpe: float | None


class Benchmark(TypedDict):
    symbols: list[str]
    final_value: str
    series: dict[str, str]  # ISO date -> value


class GroupFigures(TypedDict):
    """Closed trades grouped by one key (an exit reason or a symbol)."""

    key: str
    trades: int
    wins: int
    net_pnl: str
    average_pnl: str


class Headline(TypedDict):
    """What a report leads with (`swingtrader.report_metrics.headline`)."""

    total_return: float
    benchmark_return: float | None
    excess_return: float | None
    verdict: str
    final_equity: str
    capital: str
    realised_pnl: str
    unrealised_pnl: str
    sortino: float | None
    calmar: float | None
    profit_factor: float | None
    expectancy: str | None
    average_holding_days: float | None
    years: float
    by_exit_reason: list[GroupFigures]
    by_symbol: list[GroupFigures]
    caveats: list[str]
    universe: str


class Performance(Growth):
    """The performance fields of a simulation report (JSON-ready)."""

    headline: Headline
    max_drawdown: Drawdown
    exposure: Exposure
    win_rate: float | None
    benchmark: Benchmark
    equity_curve: dict[str, str]  # ISO date -> equity


class SimulationReport(TypedDict):
    """`simulate --json`. The performance fields (`Performance`, `headline` first) are there whenever the range
    holds a trading day; `broker_calls` and `faults` when the run went through the fake Kotak Neo server."""

    headline: NotRequired[Headline]
    start: str
    end: str
    trading_days: int
    logins: int
    task_runs: dict[str, dict[str, int]]
    orders: dict[str, int]
    open_orders: int
    open_positions: int
    duplicate_client_tags: int
    trades: list[ReportTrade]
    pnl: Pnl
    final_equity: str
    broker_calls: NotRequired[dict[str, int]]
    faults: NotRequired[dict[str, int]]
    max_drawdown: NotRequired[Drawdown]
    exposure: NotRequired[Exposure]
    cagr: NotRequired[float | None]
    sharpe: NotRequired[float | None]
    win_rate: NotRequired[float | None]
    benchmark: NotRequired[Benchmark]
    equity_curve: NotRequired[dict[str, str]]
