"""`swingtrader run`: the continuous service. Prints today's plan, runs until SIGINT/SIGTERM, then stops at
a safe point (between tasks; the clock's sleep wakes within a second) and exits 0."""

from __future__ import annotations

import logging
import sys
from typing import Any

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, settings_or_exit

log = logging.getLogger("swingtrader.run")


def main(args: Any) -> int:
    overrides = {"mode": args.mode} if args.mode else {}
    settings = settings_or_exit(args, **overrides)
    if settings.mode == "live":
        missing = settings.missing_live_credentials()
        if missing:
            fail("live trading needs every Kotak credential; missing: " + ", ".join(missing))
    from swingtrader.clock import LiveClock, ist_date
    from swingtrader.logs import setup_logging
    from swingtrader.market.calendar import CalendarDataMissing
    from swingtrader.runtime import assemble, open_store
    from swingtrader.store import StoreError

    redactor = setup_logging(settings)
    clock = LiveClock()
    try:
        store = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    calendar = calendar_or_exit(settings)
    bars = bars_or_exit(settings.data, settings)
    service = assemble(settings, clock, store=store, calendar=calendar, bars=bars, redact=redactor.redact,
                       on_secret=redactor.add_secret)
    today = ist_date(clock.now())
    try:
        print_plan(service, today)
    except CalendarDataMissing as exc:
        fail(str(exc))
    service.install_signal_handlers()
    log.info("swingtrader started in %s mode; store %s", settings.mode, store.location)
    service.notify("service_started", "swingtrader started", f"mode {settings.mode}")
    service.scheduler.run()
    log.info("swingtrader stopped")
    service.notify("service_stopped", "swingtrader stopped", "stopped on request")
    store.dispose()
    return 0


def print_plan(service: Any, day: Any) -> None:
    """Today's slots, the per-minute monitor summarised in one line."""
    slots = service.plan.slots(day)
    if not slots:
        nxt = service.calendar.next_session(day)
        print(f"{day}: no trading session; next session {nxt.date} {nxt.open:%H:%M}-{nxt.close:%H:%M} IST")
        return
    print(f"plan for {day} (IST):")
    intraday: dict[str, list] = {}
    for s in slots:
        if s.intraday:
            intraday.setdefault(s.task, []).append(s)
        else:
            print(f"  {s.at:%H:%M}  {s.task}")
    for task, runs in intraday.items():
        print(f"  {runs[0].at:%H:%M}-{runs[-1].at:%H:%M}  {task} ({len(runs)} runs)")
    sys.stdout.flush()
