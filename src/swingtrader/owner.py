"""One owner per store, for the commands: the store's identity checked, then the instance lease taken
(`store/lease.py`); a second process exits 1 naming the holder."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from swingtrader.commands._common import fail
from swingtrader.store import Store, StoreError
from swingtrader.store.identity import WrongStore, account_id, ensure
from swingtrader.store.identity import read as read_identity
from swingtrader.store.lease import Lease, LeaseHeld, LeaseInfo

log = logging.getLogger(__name__)


def check_identity_or_exit(settings: Any, store: Store, clock: Any, mode: str | None = None) -> None:
    """Exit 2 if the store belongs to another mode or account; record them on a store nobody used yet."""
    mode = mode or settings.mode
    ucc = settings.kotak_ucc.get_secret_value() if mode == "live" and settings.kotak_ucc else None
    try:
        ensure(store, mode, account_id(ucc), clock.now())
    except WrongStore as exc:
        store.dispose()
        fail(str(exc))


def take_lease_or_exit(settings: Any, store: Store, clock: Any, *, control_url: str | None = None
                       ) -> tuple[Lease, LeaseInfo | None]:
    """Take the store's lease and fence its writes with it; exit 1 naming the holder if it is live.
    Returns the lease and the previous holder when an expired lease was taken over (logged here)."""
    lease = Lease(store, clock, mode=settings.mode, expiry=timedelta(seconds=settings.lease_expiry_seconds),
                  control_url=control_url)
    try:
        previous = lease.acquire()
    except LeaseHeld as exc:
        store.dispose()
        fail(str(exc), 1)
    lease.install()
    return lease, previous


def store_mode_or_exit(store: Store, default: str, *, live: bool) -> str:
    """The mode a command that follows the store runs in (`run-task`): the store's own (the settings' for a
    store nobody used yet). Exits 2 for a simulation's store, for a live one without `live`, and for `live`
    on a paper store."""
    found = read_identity(store)
    mode = found.mode if found else ("live" if live else default)
    problem = None
    if mode == "simulation":
        problem = f"the store at {store.location} is a simulation's store; run-task does not touch it"
    elif mode == "live" and not live:
        problem = f"the store at {store.location} is a live store; pass --live to run a task on it"
    elif mode != "live" and live:
        problem = f"--live given but the store at {store.location} is a {mode} store"
    if problem:
        store.dispose()
        fail(problem)
    return mode


def existing_store_or_exit(settings: Any) -> None:
    """Exit 1 if the settings' SQLite store does not exist (`status` reads a store, never creates one)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        from pathlib import Path

        path = Path(url.database)
        if not path.is_file() or path.stat().st_size == 0:
            fail(f"no store at {path}: nothing to show (has `swingtrader run` been started with these settings?)", 1)


def simulation_store_or_exit(db: Any, clock: Any) -> None:
    """Exit 2 unless the SQLite file `db` is a simulation's store (or a new one, which becomes one)."""
    from swingtrader.store.db import sqlite_url

    try:
        store = Store.open(sqlite_url(db))
    except StoreError as exc:
        fail(str(exc))
    try:
        ensure(store, "simulation", None, clock.now())
    except WrongStore as exc:
        fail(f"--db: {exc}")
    finally:
        store.dispose()


def start_control(service: Any, lease: Lease, settings: Any) -> Any:
    """Serve the owner's control endpoint (run a task, reset the login breaker) and record its URL in the lease
    row; returns the server."""
    from swingtrader.control_server import ControlServer, Refused, UnsafeFile
    from swingtrader.manual_runs import ManualRunRefused, run_manual
    from swingtrader.schedule import TASKS

    def run_task(task: str, day: Any, force: bool) -> tuple[str, str]:
        if task not in TASKS:
            raise Refused(f"unknown task {task!r}")
        log.info("run-task %s %s requested through the control endpoint", task, day)
        try:
            slot, status = run_manual(service, task, day, force=force)
        except ManualRunRefused as exc:
            raise Refused(str(exc)) from None
        return slot, status.value

    def reset_login() -> bool:
        blocked = bool(service.broker.login_blocked)
        service.broker.reset_failures()
        return blocked

    server = ControlServer(run_task, settings.data_dir, reset_login)
    try:
        url = server.start()
    except UnsafeFile as exc:
        lease.release()
        service.store.dispose()
        fail(str(exc))
    lease.publish(url)
    return server


def delegate_to_owner(settings: Any, store: Store, clock: Any, task: str, day: Any, force: bool) -> int | None:
    """While another process owns the store, ask it to run the task (printing its answer) and return the exit
    code; None when no owner is running. Exits 1 if the owner cannot be asked."""
    from swingtrader.control_server import request_run_task
    from swingtrader.store.lease import current

    holder, now = current(store), clock.now()
    if holder is None or not holder.live(now):
        return None
    if not holder.control_url:
        fail(f"the store is in use: {holder.describe(now)}; it takes no requests", 1)
    try:
        code, body = request_run_task(holder.control_url, settings.data_dir, task, day, force)
    except OSError as exc:
        fail(f"the store is in use: {holder.describe(now)}; cannot reach it at {holder.control_url}: {exc}", 1)
    if code != 200:
        fail(f"the running service (pid {holder.pid}) refused: {body.get('error', code)}", 1)
    print(f"{task} {day} {body['slot']}: {body['status']} (run by the running service, pid {holder.pid})")
    return 0 if body["status"] == "succeeded" else 1
