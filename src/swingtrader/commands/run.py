"""`swingtrader run`: the continuous service. Prints today's plan, runs until SIGINT/SIGTERM, then stops at
a safe point (between tasks; the clock's sleep wakes within a second) and exits 0; a task still in flight
1 s after the request (a broker call) is abandoned, its outcome resolved at the next start.

Around the scheduler: notifications (apprise), the dashboard with /metrics in its own thread (a fault there
never stops trading), systemd READY/STATUS/WATCHDOG/STOPPING, and a heartbeat in the store for /readyz."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, settings_or_exit

if TYPE_CHECKING:
    from swingtrader.clock import Clock
    from swingtrader.config import Settings
    from swingtrader.logs import RedactionFilter
    from swingtrader.metrics import BrokerCallCounter
    from swingtrader.notify import Notifier, Notify
    from swingtrader.schedule import Slot
    from swingtrader.service import Service
    from swingtrader.startup import StartupState
    from swingtrader.store import Store
    from swingtrader.store.lease import Lease
    from swingtrader.web.server import WebHandle

log = logging.getLogger("swingtrader.run")


def main(args: argparse.Namespace) -> int:
    overrides = {"mode": args.mode} if args.mode else {}
    settings = settings_or_exit(args, **overrides)
    if settings.needs_broker is not None:
        missing = settings.missing_live_credentials()
        if missing:
            what = "live trading needs" if settings.mode == "live" else "paper prices from the broker need"
            fail(f"{what} every Kotak credential; missing: " + ", ".join(missing))
    from swingtrader.clock import ist_date, service_clock
    from swingtrader.deploy.systemd import SystemdNotifier, Watchdog, watchdog_interval
    from swingtrader.logs import setup_logging
    from swingtrader.market.calendar import CalendarDataMissing
    from swingtrader.notify import NotificationKind
    from swingtrader.runtime import assemble, mode_label, open_store
    from swingtrader.service import HEARTBEAT, ServiceHooks
    from swingtrader.store import StoreError

    if settings.web_enabled:
        from swingtrader.web.auth import BindRefused, check_bind

        try:
            check_bind(settings.web_host, settings.web_password)
        except BindRefused as exc:
            fail(str(exc))
    if args.standby:
        from swingtrader.standby import refuse_on_sqlite

        refuse_on_sqlite(settings.effective_database_url)
    redactor = setup_logging(settings)
    try:
        clock = service_clock()  # the wall clock; a paced test clock only when a test sets SWINGTRADER_TEST_CLOCK
    except ValueError as exc:
        fail(str(exc))
    try:
        store = open_store(settings, migrate_in_child=True)  # keeps Alembic out of the long-running process
    except StoreError as exc:
        fail(str(exc))
    from swingtrader.owner import check_identity_or_exit, take_lease_or_exit  # issue 9: one owner per store
    from swingtrader.store.lease import LeaseLost

    check_identity_or_exit(settings, store, clock)
    calendar = calendar_or_exit(settings)
    from swingtrader.market.refresh import LiveBars, attach_feed

    bars = LiveBars(bars_or_exit(settings.data, settings, parse_in_child=True))  # keeps pandas out of the service
    if args.standby:  # wait for the owner to stop renewing, then take over (PostgreSQL)
        from swingtrader.standby import wait_as_standby

        taken = wait_as_standby(settings, store, clock)
        if taken is None:
            store.dispose()
            return 0
        lease, previous = taken
    else:
        lease, previous = take_lease_or_exit(settings, store, clock)  # before the first write, after slow parts
    notifier = _notifier(settings, redactor, clock)
    systemd = SystemdNotifier()
    beat = _Heartbeat(store, clock)
    beat_every = min(HEARTBEAT, timedelta(seconds=settings.lease_expiry_seconds / 3))
    from swingtrader.metrics import BrokerCallCounter

    calls = BrokerCallCounter()
    from swingtrader.memory import release_memory

    hooks = ServiceHooks(redact=redactor.redact, on_secret=redactor.add_secret, on_call=calls.record, heartbeat=beat,
                         heartbeat_every=beat_every, announce=systemd.status, idle=release_memory)
    if notifier is not None:
        hooks = replace(hooks, notify=notifier.notify)
    service = assemble(settings, clock, store=store, calendar=calendar, bars=bars, hooks=hooks)
    beat.alert = service.notify
    lost: list[LeaseLost] = []

    def on_lost(exc: LeaseLost) -> None:
        lost.append(exc)
        service.request_stop()

    halt_renewal = lease.keep_renewed(settings.lease_expiry_seconds / 3, on_lost)  # never starved by work
    feed = attach_feed(service, settings, bars)  # refreshed before every task; the analysis requires its day's bars
    print(feed.banner(mode_label(settings)), flush=True)  # issue 14: what the data means for this run
    try:
        print_plan(service, ist_date(clock.now()))
    except CalendarDataMissing as exc:
        fail(str(exc))
    from swingtrader.owner import start_control
    from swingtrader.startup import StartupState

    control = start_control(service, lease, settings)  # other writers' requests, run under this lease
    startup = StartupState()
    web = (_start_web(settings, service, store, calls, mode_label(settings), clock, startup)
           if settings.web_enabled else None)
    service.install_signal_handlers()
    watchdog = None
    code = 0
    abandoned = False
    try:
        if not _first_login(service, startup):
            if lost:
                raise lost[0]
            return 0  # stopped while logging in: the clean-up below still runs
        from swingtrader.recovery import arm_at_start

        arm_at_start(service.context)  # the first reconcile settles what happened while the service was down
        watchdog = Watchdog(systemd, heartbeat=lambda: beat.monotonic, interval_s=watchdog_interval(),
                            max_age_s=120.0).start()
        systemd.ready("scheduler running")
        log.info("swingtrader started in %s mode; store %s", mode_label(settings), store.location)
        service.notify(NotificationKind.SERVICE_STARTED, "swingtrader started", f"mode {mode_label(settings)}")
        if previous is not None:
            service.notify(NotificationKind.LEASE_TAKEN_OVER, "swingtrader took the store over",
                           previous.describe(clock.now()))
        abandoned = not _run_scheduler(service)
        if lost:
            raise lost[0]
    except CalendarDataMissing as exc:
        log.error("%s: trading stops here; add the holidays with SWINGTRADER_CALENDAR_OVERRIDE_FILE or upgrade "
                  "pandas_market_calendars, then start again", exc)
        service.notify(NotificationKind.TASK_FAILED, "swingtrader stopped: no exchange calendar", str(exc))
        code = 1
    except LeaseLost as exc:
        log.error("trading stops here: %s", exc)
        service.notify(NotificationKind.TASK_FAILED, "swingtrader stopped: lease lost", str(exc))
        code = 1
    finally:
        systemd.stopping()
        if watchdog is not None:
            watchdog.stop()
        control.stop()
        log.info("swingtrader stopped")
        service.notify(NotificationKind.SERVICE_STOPPED, "swingtrader stopped", "stopped on request")
        if web is not None:
            web.stop()
        if notifier is not None:
            notifier.close(5.0)
        halt_renewal()
        if abandoned:  # its buffered ledger rows are not flushed: those slots run again, as after a crash
            lease.release_quietly()
        else:
            _release(service, lease)
        store.dispose()
    return code


def _first_login(service: Service, startup: StartupState) -> bool:
    """Log in once at start, so bad credentials show at once; a failure is reported and retried by the first
    task that needs the broker (after three refusals the session manager waits for a human). The login (bounded
    by the broker's deadline) runs on a worker thread while this one waits for it or for SIGINT/SIGTERM; False
    when a stop was requested first (the login thread is then left to end on its own)."""
    from swingtrader.broker.errors import BrokerError
    from swingtrader.notify import NotificationKind

    done = threading.Event()

    def login() -> None:
        try:
            service.broker.login()
        except BrokerError as exc:
            log.error("broker login failed at start: %s", exc)
            service.notify(NotificationKind.RELOGIN_FAILED, "broker login failed at start", str(exc))
        except Exception:  # reported, never silent: the first task that needs the broker tries again
            log.exception("broker login failed at start")
        finally:
            done.set()

    startup.begin("logging in")
    threading.Thread(target=login, name="first-login", daemon=True).start()
    try:
        while not done.wait(0.2):
            if service.stop_event.is_set():
                log.warning("stop requested during the first broker login: stopping without waiting for it")
                return False
        return True
    finally:
        startup.finish()


STOP_GRACE_S = 1.0
"""How long a stop request waits for the task in flight before abandoning it."""


def _run_scheduler(service: Service) -> bool:
    """Run the scheduler on a worker thread until it ends (its exception raised here), or until a stop request:
    then wait `STOP_GRACE_S` for the task in flight and abandon it if still running (a broker call's outcome is
    then in doubt and resolved at the next start by the usual tag lookup; the lease, given up, fences off
    anything it would still write). False when a task was abandoned."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            service.scheduler.run()
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="scheduler", daemon=True)
    worker.start()
    while worker.is_alive() and not service.stop_event.is_set():
        worker.join(0.2)
    worker.join(STOP_GRACE_S)
    if failure:
        raise failure[0]
    if worker.is_alive():
        log.warning("stopping without waiting for the task in flight; an order it was sending is looked up by "
                    "its tag at the next start")
        return False
    return True


def _release(service: Service, lease: Lease) -> None:
    """Flush the ledger and give the lease up; a store fault (locked, full) is logged, never raised: the lease
    then expires by itself."""
    from sqlalchemy.exc import DBAPIError

    from swingtrader.store import StoreError

    if not lease.held:
        return
    try:
        service.ledger.close()
        lease.release()
    except (StoreError, DBAPIError) as exc:
        log.error("the store's lease was not released (it expires by itself): %s", str(exc).splitlines()[0])


class _Heartbeat:
    """Called by the scheduler between tasks and every few seconds while it waits. A locked or full store
    skips the beat (logged once) and never stops the service; `alert(kind, title, body)` hears when orders
    stop for a full disk and when they resume."""

    def __init__(self, store: Store, clock: Clock) -> None:
        from swingtrader.store.state import ServiceState

        self._store, self._state, self._clock = store, ServiceState(store), clock
        self.monotonic = time.monotonic()
        self._lock = threading.Lock()
        self._failing = False
        self._degraded: str | None = None
        self.alert: Notify | None = None

    def __call__(self) -> None:
        from swingtrader.store import StoreError

        with self._lock:
            now = time.monotonic()
            if now - self.monotonic >= 1.0:
                try:
                    self._state.set_heartbeat(self._clock.now())
                    self._failing = False
                except StoreError as exc:
                    if not self._failing:
                        log.error("heartbeat not written (the service carries on): %s", exc)
                    self._failing = True
                self._report(self._store.degraded)
            self.monotonic = now

    def _report(self, degraded: str | None) -> None:
        from swingtrader.notify import NotificationKind

        if (degraded is None) == (self._degraded is None) or self.alert is None:
            return
        self._degraded = degraded
        if degraded is not None:
            self.alert(NotificationKind.SERVICE_STOPPED, "no new orders: the store's disk is full", degraded)
        else:
            self.alert(NotificationKind.SERVICE_STARTED, "orders resume: the store is writable again", "")


def _notifier(settings: Settings, redactor: RedactionFilter, clock: Clock) -> Notifier | None:
    if settings.notify_urls is None:
        return None
    from swingtrader.notify import Notifier

    urls = [u for u in settings.notify_urls.get_secret_value().replace(",", " ").split() if u]
    return Notifier(urls, redact=redactor.redact, clock=clock) if urls else None


def _start_web(
    settings: Settings, service: Service, store: Store, calls: BrokerCallCounter, mode: str, clock: Clock,
    startup: StartupState,
) -> WebHandle | None:
    from swingtrader.control import LiveControl
    from swingtrader.web.app import create_app
    from swingtrader.web.server import start_web_in_thread

    app = create_app(store, settings=settings, control=LiveControl(service, mode), read_only=settings.read_only,
                     log_file=settings.effective_log_dir / "swingtrader.log", clock=clock, broker_calls=calls,
                     startup=startup)
    try:
        handle = start_web_in_thread(app, settings.web_host, settings.web_port)
    except OSError as exc:  # the dashboard is optional: trading goes on without it
        log.error("dashboard not started on %s:%s: %s", settings.web_host, settings.web_port, exc)
        return None
    print(f"dashboard: {handle.url}")
    return handle


def print_plan(service: Service, day: date) -> None:
    """Today's slots, the per-minute monitor summarised in one line."""
    slots = service.plan.slots(day)
    if not slots:
        nxt = service.calendar.next_session(day)
        print(f"{day}: no trading session; next session {nxt.date} {nxt.open:%H:%M}-{nxt.close:%H:%M} IST")
        sys.stdout.flush()
        return
    print(f"plan for {day} (IST):")
    intraday: dict[str, list[Slot]] = {}
    for s in slots:
        if s.intraday:
            intraday.setdefault(s.task, []).append(s)
        else:
            print(f"  {s.at:%H:%M}  {s.task}")
    for task, runs in intraday.items():
        print(f"  {runs[0].at:%H:%M}-{runs[-1].at:%H:%M}  {task} ({len(runs)} runs)")
    sys.stdout.flush()
