"""The dashboard: server-rendered pages, the JSON API behind each, actions, /metrics and health checks.

`create_app(store, ...)` builds a FastAPI app over a `Store`. Pages and `/api/<page>` share one loader,
so the API returns exactly what the page shows (money as exact strings). Every request runs in its own
worker thread and any exception is answered with a 500/503 and logged, never propagated: a fault in the
web part does not touch trading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from swingtrader.clock import Clock, LiveClock
from swingtrader.metrics import BrokerCallCounter, build_registry
from swingtrader.startup import StartupState
from swingtrader.store import Store
from swingtrader.store.state import ServiceState
from swingtrader.task_names import TASK_NAMES
from swingtrader.web import queries
from swingtrader.web.auth import CSRF_COOKIE, Guard, csrf_token
from swingtrader.web.chart import equity_svg, equity_vs_benchmark_svg
from swingtrader.web.control import ServiceControl
from swingtrader.web.format import FILTERS, to_jsonable
from swingtrader.web.guard import ErrorGuard
from swingtrader.web.hosts import HostGuard, allowed_hosts
from swingtrader.web.logtail import log_tail, newest_log

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["ServiceControl", "WebSettings", "create_app"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_R = TypeVar("_R", bound=Response)
_HERE = Path(__file__).parent
_MAX_PAGE = 10**9  # beyond any store; keeps the row offset inside SQLite's 64-bit integers
NAV = (
    ("overview", "/", "Overview"),
    ("orders", "/orders", "Orders"),
    ("positions", "/positions", "Positions"),
    ("trades", "/trades", "Trades"),
    ("analysis", "/analysis", "Analysis"),
    ("tasks", "/tasks", "Tasks"),
    ("logs", "/logs", "Logs"),
)


class WebSettings(Protocol):
    """The settings the dashboard reads (`swingtrader.config.Settings` has them). `web_host` and
    `web_allowed_hosts` are read too when present."""

    @property
    def web_password(self) -> SecretStr | None: ...

    @property
    def kill_switch(self) -> bool: ...

    @property
    def effective_log_dir(self) -> Path: ...


def create_app(
    store: Store,
    *,
    settings: WebSettings | None = None,
    control: ServiceControl | None = None,
    read_only: bool = False,
    log_file: Path | None = None,
    clock: Clock | None = None,
    broker_calls: BrokerCallCounter | None = None,
    heartbeat_max_age_s: float = 180.0,
    bind_host: str | None = None,
    sweep_dir: Path | None = None,
    startup: StartupState | None = None,
) -> FastAPI:
    """The dashboard app. Without `control`, or with `read_only`, it only reads the store.

    `settings` supplies `web_password`, `kill_switch`, `paper_max_price_age_days` (prices older show as stale)
    and, when `log_file` is not given, `effective_log_dir` for the Logs page. `broker_calls` is the service's
    counter exposed on /metrics. /readyz needs the service's heartbeat (`ServiceState.heartbeat`) fresher than
    `heartbeat_max_age_s` when a control is attached.
    Requests must be addressed to `bind_host` (default `settings.web_host`), loopback or
    `settings.web_allowed_hosts` (see `web.hosts`).
    `sweep_dir` adds the Sweep page over a `swingtrader sweep` output directory. While `startup` describes a
    start-up step (the first broker login), /healthz answers `{"status": "starting", "detail": ...}` (still 200).
    """
    clock = clock or LiveClock()
    password = settings.web_password if settings is not None else None
    kill_switch = bool(settings.kill_switch) if settings is not None else False
    max_price_age_days = getattr(settings, "paper_max_price_age_days", None)
    actions_off = "this dashboard is read-only" if control is None or read_only else None
    guard = Guard(password, actions_off=actions_off)
    if log_file is None and settings is not None and ServiceState(store).simulation() is None:
        log_file = newest_log(Path(settings.effective_log_dir))  # a simulation's store shows only its own log
    registry = build_registry(store, broker_calls, clock)
    env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters.update(FILTERS)
    templates = Jinja2Templates(env=env)

    app = FastAPI(title="swingtrader", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(ErrorGuard)
    settings_host: str = getattr(settings, "web_host", "127.0.0.1")
    extra_hosts: list[str] | tuple[()] = getattr(settings, "web_allowed_hosts", ())
    app.add_middleware(HostGuard, hosts=allowed_hosts(bind_host or settings_host, extra_hosts))
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    viewer = [Depends(guard.require_viewer)]

    def simulation() -> dict[str, str] | None:
        """The simulation this store holds, when the dashboard only reads it (no running service)."""
        return ServiceState(store).simulation() if control is None else None

    def mode() -> str:
        sim = simulation()
        if sim is not None:
            return f"simulation {sim.get('start')}..{sim.get('end')}"
        return "read-only" if control is None else _call(control.mode, "read-only")

    def session() -> dict[str, Any] | None:
        return None if control is None else _call(control.session_state, {"logged_in": None, "error": "unavailable"})

    def unknown_statuses() -> dict[str, int] | None:
        none_seen: dict[str, int] = {}
        return None if control is None else _call(control.unknown_statuses, none_seen)

    def page_number(request: Request) -> int:
        raw = request.query_params.get("page", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= _MAX_PAGE:
            raise HTTPException(400, f"page must be a whole number from 1 to {_MAX_PAGE}")
        return int(raw)

    loaders: dict[str, Callable[[Request], dict[str, Any]]] = {
        "overview": lambda r: {**queries.overview(store, clock.now(), session=session(),
                                                  unknown_statuses=unknown_statuses(),
                                                  max_price_age_days=max_price_age_days),
                               "mode": mode(), "kill_switch": kill_switch, "heartbeat_max_age_s": heartbeat_max_age_s},
        "orders": lambda r: queries.orders(store, page=page_number(r), status=r.query_params.get("status") or None),
        "positions": lambda r: queries.positions(store, clock.now()),
        "trades": lambda r: queries.trades(store, clock.now()),
        "analysis": lambda r: queries.analysis(store),
        "tasks": lambda r: queries.tasks(
            store, page=page_number(r), task=r.query_params.get("task") or None,
            status=r.query_params.get("status") or None,
        ),
        "logs": lambda r: _logs(log_file, simulation() is not None),
    }

    def add_page(name: str, path: str, title: str) -> None:
        def page(request: Request) -> Response:
            data = loaders[name](request)
            token, new = csrf_token(request)
            extra = _trades_charts(data) if name == "trades" else {}
            response = templates.TemplateResponse(request, f"{name}.html", {
                "data": data, "title": title, "active": name, "nav": NAV, "mode": mode(), "simulation": simulation(),
                "csrf_token": token, "actions_off": guard.actions_off, "tasks_all": TASK_NAMES,
                "query": dict(request.query_params), **extra,
            })
            return _with_csrf_cookie(response, token, new)

        def api(request: Request) -> JSONResponse:
            return JSONResponse(to_jsonable(loaders[name](request)))

        app.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse, dependencies=viewer, name=name)
        app.add_api_route(f"/api/{name}", api, methods=["GET"], dependencies=viewer, name=f"api_{name}")

    for name, path, title in NAV:
        add_page(name, path, title)
    if sweep_dir is not None:
        from swingtrader.web.sweep import add_sweep_page

        add_sweep_page(app, templates, sweep_dir, dependencies=viewer, nav=NAV, mode=mode)

    @app.get("/api/csrf", dependencies=viewer)
    def csrf(request: Request) -> JSONResponse:
        """A CSRF token for scripts: send it back as the X-CSRF-Token header with the cookie set here."""
        token, new = csrf_token(request)
        response = JSONResponse({"token": token, "header": "X-CSRF-Token", "cookie": CSRF_COOKIE})
        return _with_csrf_cookie(response, token, new)

    _add_actions(app, guard, control)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> JSONResponse:  # a plain response: no pydantic model (keeps pydantic.v1 out of `run`)
        starting = startup.describe() if startup is not None else None
        if starting is None:
            idle = _idle_reason(store)  # alive but idle at the calendar's end (issue 14): say why
            return JSONResponse({"status": "alive"} if not idle else {"status": "alive", "detail": idle})
        return JSONResponse({"status": "starting", "detail": starting})

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        checks = _readiness(store, control, clock, heartbeat_max_age_s)
        failing = [name for name, c in checks.items() if not c["ok"]]
        body = {"ready": not failing, "failing": failing, "checks": checks}
        return JSONResponse(body, status_code=503 if failing else 200)

    return app


def _idle_reason(store: Store) -> str:
    try:
        reach = ServiceState(store).calendar()
    except SQLAlchemyError:
        return ""
    return (reach or {}).get("idle", "")


def _add_actions(app: FastAPI, guard: Guard, control: ServiceControl | None) -> None:
    """The action routes; without `control` the guard refuses every action before it runs."""
    actor = [Depends(guard.require_actor)]

    def service() -> ServiceControl:
        if control is None:  # unreachable: `guard.actions_off` is set whenever there is no control
            raise HTTPException(403, "this dashboard is read-only")
        return control

    def act(what: str, fn: Callable[[], Any]) -> JSONResponse:
        log.info("dashboard action: %s", what)
        try:
            fn()
        except ValueError as exc:  # refused (a manual run outside its window, a non-trading day)
            return JSONResponse({"ok": False, "action": what, "error": str(exc)}, status_code=409)
        return JSONResponse({"ok": True, "action": what})

    @app.post("/api/actions/pause", dependencies=actor)
    def pause() -> JSONResponse:
        return act("pause", service().pause_new_orders)

    @app.post("/api/actions/resume", dependencies=actor)
    def resume() -> JSONResponse:
        return act("resume", service().resume_new_orders)

    @app.post("/api/actions/run-task/{task}", dependencies=actor)
    def run_task(request: Request) -> JSONResponse:
        task = request.path_params["task"]  # read here, not as a typed parameter: no pydantic field (or pydantic.v1)
        if task not in TASK_NAMES:
            raise HTTPException(404, f"unknown task {task!r}; tasks: {', '.join(TASK_NAMES)}")
        return act(f"run-task {task}", lambda: service().run_task_now(task))

    @app.post("/api/actions/relogin", dependencies=actor)
    def relogin() -> JSONResponse:
        return act("relogin", service().force_relogin)


def _logs(log_file: Path | None, simulation: bool) -> dict[str, Any]:
    """The Logs page: the log file's tail; a simulation's store shows only its own log (`simulate --db FILE`
    writes `FILE.log/`), never another process's."""
    if simulation and log_file is None:
        return {"file": None, "lines": [], "note": "this simulation's store has no log of its own"}
    return log_tail(log_file)


def _trades_charts(data: dict[str, Any]) -> dict[str, str | None]:
    """The trades page's charts: cumulative net P&L by exit date, and with a simulation's report the daily
    equity against the benchmark."""
    perf = data["performance"]
    bench = equity_vs_benchmark_svg(perf["curve"]) if perf["benchmark"] is not None else None
    return {"equity_svg": equity_svg(data["equity_curve"]), "benchmark_svg": bench}


def _with_csrf_cookie(response: _R, token: str, new: bool) -> _R:
    if new:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def _readiness(store: Store, control: ServiceControl | None, clock: Clock, max_age_s: float) -> dict[str, Any]:
    """Store reachable; with a running service also a fresh scheduler heartbeat and a valid session."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        with store.connect() as conn:
            conn.execute(text("SELECT 1"))
            beat = ServiceState(store).heartbeat(conn)
        checks["store"] = {"ok": True}
    except SQLAlchemyError as exc:
        return {"store": {"ok": False, "detail": f"store unreachable: {type(exc).__name__}"}}
    if control is None:
        return checks
    age = None if beat is None else (clock.now() - beat).total_seconds()
    checks["heartbeat"] = {
        "ok": age is not None and age <= max_age_s,
        "detail": "no heartbeat recorded" if age is None else f"last tick {age:.0f} s ago (max {max_age_s:.0f})",
    }
    session: dict[str, Any] = _call(control.session_state, {})
    checks["session"] = {"ok": bool(session.get("logged_in")), "detail": to_jsonable(session)}
    return checks


def _call(fn: Callable[[], _T], fallback: _T) -> _T:
    """Ask the service something for display; a failure there shows as `fallback` and is logged."""
    try:
        return fn()
    except Exception:
        log.exception("dashboard: %s failed", getattr(fn, "__name__", fn))
        return fallback
