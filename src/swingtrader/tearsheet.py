"""`simulate --report FILE.html`: a self-contained tearsheet of a simulation report against its benchmark, with
the sections traders know from quantstats: key metrics side by side, cumulative returns, the underwater
(drawdown) curve, monthly returns, the worst drawdowns, and the trades by exit reason and by symbol.

One HTML file with inline CSS and SVG: no script, no network, no chart library. Figures come from the report
(`swingtrader.performance`, `swingtrader.report_metrics`); the benchmark's are computed the same way from its
series. Every interpolated text is escaped."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np

from swingtrader.report_metrics import TRADING_DAYS, calmar, daily_returns, sortino
from swingtrader.report_types import GroupFigures, SimulationReport

__all__ = ["tearsheet_html", "write_tearsheet"]

_W, _H, _PAD = 900, 260, 56
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def write_tearsheet(report: SimulationReport, path: Path) -> None:
    """Write the tearsheet of `report` (a `simulate --json` report with its performance fields) to `path`."""
    path.write_text(tearsheet_html(report), encoding="utf-8")


def tearsheet_html(report: SimulationReport) -> str:
    """The tearsheet as one HTML document (see the module docstring)."""
    days = [date.fromisoformat(d) for d in report["equity_curve"]]
    capital = Decimal(report["headline"]["capital"])
    equity = [Decimal(v) for v in report["equity_curve"].values()]
    bench_series = report["benchmark"]["series"]
    bench = [Decimal(bench_series.get(d.isoformat(), capital)) for d in days]
    h = report["headline"]
    sections = [
        f"<h1>Tearsheet: simulation {_e(report['start'])} .. {_e(report['end'])}</h1>",
        f'<p class="verdict" id="verdict">{_e(h["verdict"])}</p>',
        f'<p class="muted">Benchmark: equal-weight buy-and-hold of {len(report["benchmark"]["symbols"])} symbols. '
        f"Universe: {_e(h['universe'])}. Capital {_e(h['capital'])}.</p>",
        *(f'<p class="caveat">Caveat: {_e(c)}</p>' for c in h["caveats"]),
        "<h2>Key metrics</h2>", _metrics_table(report, equity, bench, capital),
        "<h2>Cumulative returns</h2>", _lines_svg(days, [_cumulative(equity, capital), _cumulative(bench, capital)]),
        "<h2>Underwater (drawdown)</h2>", _underwater_svg(days, equity, capital),
        "<h2>Monthly returns</h2>", _monthly_table(days, equity, capital),
        "<h2>Worst drawdowns</h2>", _drawdowns_table(days, equity, capital),
        "<h2>Trades by exit reason</h2>", _groups_table(h["by_exit_reason"], "Exit reason", "by-exit-reason"),
        "<h2>Trades by symbol</h2>", _groups_table(h["by_symbol"], "Symbol", "by-symbol"),
    ]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>swingtrader tearsheet '
            f"{_e(report['start'])}..{_e(report['end'])}</title><style>{_CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def _metrics_table(report: SimulationReport, equity: Sequence[Decimal], bench: Sequence[Decimal],
                   capital: Decimal) -> str:
    h = report["headline"]
    strat, other = _series_metrics(equity, capital), _series_metrics(bench, capital)
    strat["Calmar"], other["Calmar"] = h["calmar"], calmar(other["CAGR"], other["Max drawdown"] or 0.0)
    rows = [(name, strat[name], other[name], kind) for name, kind in (
        ("Total return", "pct"), ("CAGR", "pct"), ("Sharpe", "num"), ("Sortino", "num"), ("Calmar", "num"),
        ("Max drawdown", "pct"), ("Volatility (ann.)", "pct"), ("Best day", "pct"), ("Worst day", "pct"))]
    trade_rows = [("Exposure (sessions holding)", report["exposure"]["sessions_with_position"], "pct"),
                  ("Capital deployed on average", report["exposure"]["average_deployed"], "pct"),
                  ("Closed trades", len(report["trades"]), "int"), ("Win rate", report["win_rate"], "pct"),
                  ("Profit factor", h["profit_factor"], "num"), ("Expectancy a trade", h["expectancy"], "text"),
                  ("Average holding days", h["average_holding_days"], "num"),
                  ("Final equity", h["final_equity"], "text"), ("Realised P&L", h["realised_pnl"], "text"),
                  ("Unrealised P&L", h["unrealised_pnl"], "text")]
    body = "".join(f'<tr><th>{_e(n)}</th><td class="num">{_fmt(s, k)}</td><td class="num">{_fmt(b, k)}</td></tr>'
                   for n, s, b, k in rows)
    body += "".join(f'<tr><th>{_e(n)}</th><td class="num">{_fmt(v, k)}</td><td class="num">-</td></tr>'
                    for n, v, k in trade_rows)
    return (f'<table id="metrics"><thead><tr><th>Metric</th><th class="num">Strategy</th>'
            f'<th class="num">Benchmark</th></tr></thead><tbody>{body}</tbody></table>')


def _series_metrics(values: Sequence[Decimal], capital: Decimal) -> dict[str, float | None]:
    """The key figures of a daily value series that started from `capital` (the definitions of
    `swingtrader.performance` and `swingtrader.report_metrics`)."""
    r = daily_returns(values, capital)
    total = float(values[-1] / capital - 1) if values else 0.0
    growth = 1 + total
    std = float(r.std(ddof=1)) if len(r) > 1 else 0.0
    drawdown = float(np.max(1 - _peaks_ratio(values, capital))) if values else 0.0
    return {
        "Total return": total,
        "CAGR": growth ** (TRADING_DAYS / len(values)) - 1 if values and growth > 0 else None,
        "Sharpe": float(r.mean()) / std * math.sqrt(TRADING_DAYS) if std > 0 else None,
        "Sortino": sortino(r) if len(r) else None,
        "Max drawdown": drawdown,
        "Volatility (ann.)": std * math.sqrt(TRADING_DAYS) if std > 0 else None,
        "Best day": float(r.max()) if len(r) else None,
        "Worst day": float(r.min()) if len(r) else None,
    }


def _peaks_ratio(values: Sequence[Decimal], capital: Decimal) -> np.ndarray:
    """Each value over the running peak (the capital counts as the first peak)."""
    v = np.array([float(x) for x in values])
    ratio: np.ndarray = v / np.maximum.accumulate(np.concatenate([[float(capital)], v]))[1:]
    return ratio


def _cumulative(values: Sequence[Decimal], capital: Decimal) -> list[float]:
    return [float(v / capital - 1) for v in values]


def _lines_svg(days: Sequence[date], series: Sequence[Sequence[float]]) -> str:
    """Cumulative returns: the strategy (solid) and the benchmark (dashed), x proportional to time."""
    if len(days) < 2:
        return '<p class="muted">Not enough sessions for a chart.</p>'
    lo, hi = min(0.0, *(min(s) for s in series)), max(0.0, *(max(s) for s in series))
    xy = _scale(days, lo, hi)
    lines = []
    for i, s in enumerate(series):
        cls = "strategy" if i == 0 else "benchmark"
        lines.append(f'<polyline class="{cls}" points="{" ".join(xy(d, v) for d, v in zip(days, s, strict=True))}"/>')
    zero = xy(days[0], 0.0).split(",")[1]
    return (f'<svg id="cumulative" viewBox="0 0 {_W} {_H}" role="img" aria-label="cumulative returns">'
            f'<line class="axis" x1="{_PAD}" y1="{zero}" x2="{_W - 10}" y2="{zero}"/>{"".join(lines)}'
            f'{_labels(days, lo, hi)}<text class="legend" x="{_PAD + 8}" y="16">strategy (solid) · benchmark '
            "(dashed)</text></svg>")


def _underwater_svg(days: Sequence[date], equity: Sequence[Decimal], capital: Decimal) -> str:
    if len(days) < 2:
        return '<p class="muted">Not enough sessions for a chart.</p>'
    under = [float(x) - 1 for x in _peaks_ratio(equity, capital)]
    lo = min(under) if min(under) < 0 else -0.01
    xy = _scale(days, lo, 0.0)
    top = xy(days[0], 0.0).split(",")[1]
    area = f"{_PAD},{top} " + " ".join(xy(d, v) for d, v in zip(days, under, strict=True)) + f" {_W - 10},{top}"
    return (f'<svg id="underwater" viewBox="0 0 {_W} {_H}" role="img" aria-label="drawdown from the running peak">'
            f'<polygon class="under" points="{area}"/>{_labels(days, lo, 0.0)}</svg>')


def _scale(days: Sequence[date], lo: float, hi: float) -> Callable[[date, float], str]:
    span, total = (hi - lo) or 1.0, (days[-1] - days[0]).days or 1

    def xy(d: date, v: float) -> str:
        x = _PAD + (d - days[0]).days / total * (_W - _PAD - 10)
        return f"{x:.1f},{10 + (hi - v) / span * (_H - 40):.1f}"
    return xy


def _labels(days: Sequence[date], lo: float, hi: float) -> str:
    return (f'<text class="label" x="{_PAD - 6}" y="16" text-anchor="end">{100 * hi:+.1f}%</text>'
            f'<text class="label" x="{_PAD - 6}" y="{_H - 28}" text-anchor="end">{100 * lo:+.1f}%</text>'
            f'<text class="label" x="{_PAD}" y="{_H - 8}">{days[0]}</text>'
            f'<text class="label" x="{_W - 10}" y="{_H - 8}" text-anchor="end">{days[-1]}</text>')


def monthly_returns(days: Sequence[date], equity: Sequence[Decimal], capital: Decimal) -> dict[tuple[int, int], float]:
    """(year, month) -> the month's return: its last close over the previous month's (the capital at first)."""
    out: dict[tuple[int, int], float] = {}
    before, last = capital, capital
    month = None
    for d, v in zip(days, equity, strict=True):
        if month is not None and (d.year, d.month) != month:
            out[month] = float(last / before - 1)
            before = last
        month, last = (d.year, d.month), v
    if month is not None:
        out[month] = float(last / before - 1)
    return out


def _monthly_table(days: Sequence[date], equity: Sequence[Decimal], capital: Decimal) -> str:
    months = monthly_returns(days, equity, capital)
    years = sorted({y for y, _ in months})
    head = "".join(f'<th class="num">{m}</th>' for m in _MONTHS)
    rows = []
    for y in years:
        cells = []
        for m in range(1, 13):
            r = months.get((y, m))
            tone = "" if r is None else "gain" if r > 0 else "loss" if r < 0 else ""
            cells.append(f'<td class="num {tone}">{"" if r is None else f"{100 * r:+.2f}%"}</td>')
        year = math.prod(1 + r for (yy, _), r in months.items() if yy == y) - 1
        rows.append(f'<tr><th>{y}</th>{"".join(cells)}<td class="num"><b>{100 * year:+.2f}%</b></td></tr>')
    return (f'<table id="monthly"><thead><tr><th>Year</th>{head}<th class="num">Year</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def worst_drawdowns(days: Sequence[date], equity: Sequence[Decimal], capital: Decimal, n: int = 5
                    ) -> list[tuple[date, date, date | None, float]]:
    """Up to `n` deepest drawdown periods: (peak day, trough day, recovery day or None, depth as a fraction)."""
    periods: list[tuple[date, date, date | None, float]] = []
    peak, peak_day = capital, days[0] if days else None
    trough_day, depth = None, 0.0
    for d, v in zip(days, equity, strict=True):
        if v >= peak:
            if depth > 0 and peak_day is not None and trough_day is not None:
                periods.append((peak_day, trough_day, d, depth))
            peak, peak_day, trough_day, depth = v, d, None, 0.0
        elif float(1 - v / peak) > depth:
            trough_day, depth = d, float(1 - v / peak)
    if depth > 0 and peak_day is not None and trough_day is not None:
        periods.append((peak_day, trough_day, None, depth))
    return sorted(periods, key=lambda p: -p[3])[:n]


def _drawdowns_table(days: Sequence[date], equity: Sequence[Decimal], capital: Decimal) -> str:
    rows = "".join(f'<tr><td>{p}</td><td>{t}</td><td>{r or "not recovered"}</td>'
                   f'<td class="num">{100 * depth:.2f}%</td></tr>'
                   for p, t, r, depth in worst_drawdowns(days, equity, capital))
    return ('<table id="drawdowns"><thead><tr><th>Peak</th><th>Trough</th><th>Recovered</th>'
            f'<th class="num">Depth</th></tr></thead><tbody>{rows or "<tr><td colspan=4>none</td></tr>"}</tbody>'
            "</table>")


def _groups_table(rows: Sequence[GroupFigures], title: str, table_id: str) -> str:
    if not rows:
        return '<p class="muted">No closed trades.</p>'
    body = "".join(f'<tr><td>{_e(g["key"])}</td><td class="num">{g["trades"]}</td><td class="num">{g["wins"]}</td>'
                   f'<td class="num">{_e(g["net_pnl"])}</td><td class="num">{_e(g["average_pnl"])}</td></tr>'
                   for g in rows)
    return (f'<table id="{table_id}"><thead><tr><th>{title}</th><th class="num">Trades</th><th class="num">Won'
            f'</th><th class="num">Net P&amp;L</th><th class="num">Per trade</th></tr></thead><tbody>{body}</tbody>'
            "</table>")


def _fmt(value: float | int | str | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{100 * float(value):.2f}%"
    if kind == "num":
        return f"{float(value):.2f}"
    return _e(str(value))


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 960px; color: #1f2430; }
h1 { font-size: 22px; } h2 { font-size: 16px; margin-top: 28px; border-bottom: 1px solid #dde1e8; }
.verdict { font-size: 18px; font-weight: 600; } .muted { color: #6b7280; } .caveat { color: #9a5b00; }
table { border-collapse: collapse; width: 100%; } th, td { padding: 4px 8px; border-bottom: 1px solid #eef0f4;
text-align: left; } .num { text-align: right; font-variant-numeric: tabular-nums; }
.gain { color: #0f7b3f; } .loss { color: #b42318; }
svg { width: 100%; height: auto; background: #fafbfc; } .axis { stroke: #c3c8d2; }
.strategy { fill: none; stroke: #2563eb; stroke-width: 2; }
.benchmark { fill: none; stroke: #9aa3b2; stroke-width: 1.5; stroke-dasharray: 5 4; }
.under { fill: #f4c7c3; stroke: #b42318; } .label, .legend { font-size: 11px; fill: #6b7280; }
"""
