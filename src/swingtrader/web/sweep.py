"""The dashboard's Sweep page: a `swingtrader sweep` output directory (see `swingtrader.sweep.write`) shown as
its ranked table and, for each point, its equity curve against the equal-weight buy-and-hold benchmark."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates

from swingtrader.web.auth import CSRF_COOKIE, csrf_token
from swingtrader.web.chart import equity_vs_benchmark_svg


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
        curves.append([(date.fromisoformat(d), Decimal(v), None if bench.get(d) is None else Decimal(bench[d]))
                       for d, v in report.get("equity_curve", {}).items()])
    return {"directory": str(directory), "meta": json.loads(meta_file.read_text()) if meta_file.is_file() else {},
            "rows": rows, "curves": curves, "error": None}


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
