"""Equity curves as inline SVG strings: no JavaScript, no chart library, no build step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from swingtrader.web.format import money

_W, _H = 860, 240
_BENCH_H = 220
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 86, 16, 14, 28


def equity_svg(points: list[tuple[date, Decimal]]) -> str:
    """A line of cumulative net P&L over exit dates (x proportional to time), with a zero line and
    min/max/first/last labels.

    `points` are (date, cumulative value) in date order. Fewer than two points gives a short note instead.
    Every interpolated value is a number or a date, so the output needs no escaping.
    """
    if len(points) < 2:
        return '<p class="muted">Not enough closed trades for a curve yet.</p>'
    values = [float(v) for _, v in points]
    lo, hi = min([*values, 0.0]), max([*values, 0.0])
    span = (hi - lo) or 1.0
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    first, days = points[0][0], ((points[-1][0] - points[0][0]).days or 1)

    def x(d: date) -> float:
        return _PAD_L + (d - first).days / days * inner_w

    def y(v: float) -> float:
        return _PAD_T + (hi - v) / span * inner_h

    coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for (d, _), v in zip(points, values, strict=True))
    last = values[-1]
    tone = "gain" if last >= 0 else "loss"
    zero = y(0.0)
    area = f"{_PAD_L:.1f},{zero:.1f} {coords} {_PAD_L + inner_w:.1f},{zero:.1f}"
    return (
        f'<svg class="equity {tone}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="Cumulative net P&amp;L from {points[0][0]} to {points[-1][0]}: {money(last)}">'
        f'<line class="axis" x1="{_PAD_L}" y1="{zero:.1f}" x2="{_W - _PAD_R}" y2="{zero:.1f}"/>'
        f'<polygon class="area" points="{area}"/>'
        f'<polyline class="line" points="{coords}"/>'
        f'<text class="label" x="{_PAD_L - 8}" y="{y(hi) + 4:.1f}" text-anchor="end">{money(hi)}</text>'
        f'<text class="label" x="{_PAD_L - 8}" y="{y(lo) + 4:.1f}" text-anchor="end">{money(lo)}</text>'
        f'<text class="label" x="{_PAD_L}" y="{_H - 8}">{points[0][0]}</text>'
        f'<text class="label" x="{_W - _PAD_R}" y="{_H - 8}" text-anchor="end">{points[-1][0]}</text>'
        "</svg>"
    )


def equity_vs_benchmark_svg(points: Sequence[tuple[date, Decimal, Decimal | None]]) -> str:
    """Equity (solid) and the benchmark (dashed, where it has a value) by session date as an inline SVG; x
    proportional to time. Every interpolated value is a number or a date, so the output needs no escaping."""
    if len(points) < 2:
        return '<p class="muted">Not enough sessions for a curve.</p>'
    days = [d for d, _, _ in points]
    equity = [float(v) for _, v, _ in points]
    bench = [None if b is None else float(b) for _, _, b in points]
    values = equity + [b for b in bench if b is not None]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _BENCH_H - _PAD_T - _PAD_B
    total = (days[-1] - days[0]).days or 1

    def xy(d: date, v: float) -> str:
        return f"{_PAD_L + (d - days[0]).days / total * inner_w:.1f},{_PAD_T + (hi - v) / span * inner_h:.1f}"

    line = " ".join(xy(d, v) for d, v in zip(days, equity, strict=True))
    bline = " ".join(xy(d, v) for d, v in zip(days, bench, strict=True) if v is not None)
    return (
        f'<svg class="equity vs-benchmark" viewBox="0 0 {_W} {_BENCH_H}" role="img" '
        f'aria-label="Equity {money(equity[-1])} against benchmark from {days[0]} to {days[-1]}">'
        f'<polyline class="benchmark" points="{bline}" fill="none" stroke="#9aa3b2" stroke-width="1.5" '
        f'stroke-dasharray="5 4"/>'
        f'<polyline class="line" points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        f'<text class="label" x="{_PAD_L - 8}" y="{_PAD_T + 4}" text-anchor="end">{money(hi)}</text>'
        f'<text class="label" x="{_PAD_L - 8}" y="{_PAD_T + inner_h + 4}" text-anchor="end">{money(lo)}</text>'
        f'<text class="label" x="{_PAD_L}" y="{_BENCH_H - 8}">{days[0]}</text>'
        f'<text class="label" x="{_W - _PAD_R}" y="{_BENCH_H - 8}" text-anchor="end">{days[-1]}</text>'
        "</svg>"
    )
