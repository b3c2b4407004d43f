"""The dashboard's Sweep page: a `swingtrader sweep` output directory (see `swingtrader.sweep.write`) shown as
its ranked table and, for each point, its equity curve against the equal-weight buy-and-hold benchmark."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from swingtrader.web.auth import CSRF_COOKIE, csrf_token
from swingtrader.web.format import money

_W, _H = 860, 220
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 86, 16, 14, 28


def load_sweep(directory: Path) -> dict[str, Any]:
    """{"directory", "meta", "rows", "curves"}: the rows of results.json in their order and, per row, the
    point's (date, equity, benchmark) series from its report. A missing directory gives no rows and an error."""
    results = directory / "results.json"
    if not results.is_file():
        return {"directory": str(directory), "meta": {}, "rows": [], "curves": [], "error": f"{results}: not found"}
    rows = json.loads(results.read_text())
    meta_file = directory / "sweep.json"
    curves = []
    for row in rows:
        report = json.loads((directory / row["report"]).read_text())
        bench = report.get("benchmark", {}).get("series", {})
        curves.append([(d, v, bench.get(d)) for d, v in report.get("equity_curve", {}).items()])
    return {"directory": str(directory), "meta": json.loads(meta_file.read_text()) if meta_file.is_file() else {},
            "rows": rows, "curves": curves, "error": None}


def equity_vs_benchmark_svg(points: Sequence[tuple[str, str, str | None]]) -> str:
    """Equity (solid) and benchmark (dashed) by date as an inline SVG; x proportional to time. Every interpolated
    value is a number or an ISO date, so the output needs no escaping."""
    if len(points) < 2:
        return '<p class="muted">Not enough sessions for a curve.</p>'
    days = [date.fromisoformat(d) for d, _, _ in points]
    equity = [float(v) for _, v, _ in points]
    bench = [None if b is None else float(b) for _, _, b in points]
    values = equity + [b for b in bench if b is not None]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    total = (days[-1] - days[0]).days or 1

    def xy(d: date, v: float) -> str:
        return f"{_PAD_L + (d - days[0]).days / total * inner_w:.1f},{_PAD_T + (hi - v) / span * inner_h:.1f}"

    line = " ".join(xy(d, v) for d, v in zip(days, equity, strict=True))
    bline = " ".join(xy(d, v) for d, v in zip(days, bench, strict=True) if v is not None)
    return (
        f'<svg class="equity" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="Equity {money(equity[-1])} against benchmark from {days[0]} to {days[-1]}">'
        f'<polyline class="benchmark" points="{bline}" fill="none" stroke="#9aa3b2" stroke-width="1.5" '
        f'stroke-dasharray="5 4"/>'
        f'<polyline class="line" points="{line}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        f'<text class="label" x="{_PAD_L - 8}" y="{_PAD_T + 4}" text-anchor="end">{money(hi)}</text>'
        f'<text class="label" x="{_PAD_L - 8}" y="{_PAD_T + inner_h + 4}" text-anchor="end">{money(lo)}</text>'
        f'<text class="label" x="{_PAD_L}" y="{_H - 8}">{days[0]}</text>'
        f'<text class="label" x="{_W - _PAD_R}" y="{_H - 8}" text-anchor="end">{days[-1]}</text>'
        "</svg>"
    )


def add_sweep_page(app: FastAPI, templates: Jinja2Templates, directory: Path, *, dependencies: Sequence[params.Depends],
                   nav: Sequence[tuple[str, str, str]], mode: Callable[[], str]) -> None:
    """Mount GET /sweep (the page, with `nav` and a link to itself) and GET /api/sweep (its data as JSON)."""
    nav = (*nav, ("sweep", "/sweep", "Sweep"))

    def page(request: Request) -> Response:
        data = load_sweep(directory)
        token, new = csrf_token(request)
        response = templates.TemplateResponse(request, "sweep.html", {
            "data": data, "charts": [equity_vs_benchmark_svg(c) for c in data["curves"]], "title": "Sweep",
            "active": "sweep", "nav": nav, "mode": mode(), "csrf_token": token})
        if new:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    def api(request: Request) -> JSONResponse:
        return JSONResponse({k: v for k, v in load_sweep(directory).items() if k != "curves"})

    app.add_api_route("/sweep", page, methods=["GET"], response_class=HTMLResponse, dependencies=dependencies,
                      name="sweep")
    app.add_api_route("/api/sweep", api, methods=["GET"], dependencies=dependencies, name="api_sweep")
