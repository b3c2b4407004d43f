"""`swingtrader dashboard --db FILE [--sweep DIR] [--host H] [--port N]`: the dashboard, read-only, over any
store; with `--sweep` also the Sweep page (without `--db`, over an empty store)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from swingtrader.commands._common import fail, settings_or_exit


def main(args: Any) -> int:
    settings = settings_or_exit(args)
    sweep = Path(args.sweep) if args.sweep else None
    if sweep is not None and not (sweep / "results.json").is_file():
        fail(f"--sweep {args.sweep}: no results.json (the --out directory of `swingtrader sweep`)")
    if args.db is None and sweep is None:
        fail("--db FILE is required (or --sweep DIR)")
    migrate = args.db is None
    db = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="swingtrader-dashboard-")) / "empty.sqlite"
    if not migrate and not db.is_file():
        fail(f"--db {args.db}: no such file")
    from swingtrader.store import Store, StoreError
    from swingtrader.store.db import sqlite_url
    from swingtrader.web import BindRefused, check_bind, create_app, start_web_in_thread

    try:
        check_bind(args.host, settings.web_password)
    except BindRefused as exc:
        fail(str(exc))
    try:
        store = Store.open(sqlite_url(db.resolve()), migrate=migrate)
    except StoreError as exc:
        fail(str(exc))
    from swingtrader.commands.simulate import sim_log_dir
    from swingtrader.web.logtail import newest_log

    # a simulation's own log (`simulate --db`); None for other stores, whose log is the service's
    own_log = newest_log(sim_log_dir(settings.effective_log_dir, db)) if args.db else None
    app = create_app(store, settings=settings, read_only=True, clock=_clock_for(store), bind_host=args.host,
                     sweep_dir=sweep, log_file=own_log)
    try:
        handle = start_web_in_thread(app, args.host, args.port)
    except (OSError, RuntimeError) as exc:
        fail(str(exc), 1)
    from swingtrader.startup import stop_on_signals

    stop = stop_on_signals()  # before saying it is up; also when started with SIGINT ignored (nohup, CI)
    print(f"dashboard for {args.db or sweep} at {handle.url}/ (read-only; Ctrl-C stops it)", flush=True)
    try:
        while not stop.wait(0.5) and handle.alive:
            pass
        handle.stop()
    finally:
        store.dispose()
    return 0


def _clock_for(store: Any) -> Any:
    """Live time; a simulation's store is shown as of its last recorded moment (the last finished task run),
    so "today" and the countdown mean what they meant in the simulation."""
    from sqlalchemy import func, select

    from swingtrader.clock import LiveClock, SimClock
    from swingtrader.store import tables as t
    from swingtrader.store.state import ServiceState

    at = None
    if ServiceState(store).simulation() is not None:
        with store.connect() as conn:
            at = conn.execute(select(func.max(t.task_runs.c.finished_at))).scalar()
    return SimClock(at) if at is not None else LiveClock()
