"""`swingtrader run-task TASK [--date D]`: the manual fallback, through the same ledger.

A daily task claims that day's slot: it runs if the slot is empty, failed, missed or skipped, and refuses
(exit 1) if it already succeeded or is running. An intraday task runs in a `manual-HHMM` slot."""

from __future__ import annotations

import argparse

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, parse_date, settings_or_exit


def main(args: argparse.Namespace) -> int:
    from swingtrader.schedule import TASKS

    if args.task not in TASKS:
        fail(f"unknown task {args.task!r}; tasks are: {', '.join(TASKS)}")
    settings = settings_or_exit(args)
    from swingtrader.clock import LiveClock, ist_date
    from swingtrader.logs import setup_logging
    from swingtrader.runtime import assemble, open_store
    from swingtrader.schedule import Slot
    from swingtrader.service import ServiceHooks
    from swingtrader.store import StoreError
    from swingtrader.store.ledger import RunStatus

    redactor = setup_logging(settings)
    clock = LiveClock()
    day = parse_date(args.date, "--date") if args.date else ist_date(clock.now())
    calendar = calendar_or_exit(settings)
    session = calendar.session(day)
    if session is None:
        fail(f"{day} is not a trading day")
    try:
        store = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    bars = bars_or_exit(settings.data, settings)
    service = assemble(settings, clock, store=store, calendar=calendar, bars=bars,
                       hooks=ServiceHooks(redact=redactor.redact, on_secret=redactor.add_secret))
    planned = [s for s in service.plan.slots(day) if s.task == args.task]
    now = clock.now()
    if planned and not planned[0].intraday:
        slot = planned[0]
    else:
        slot = Slot(args.task, day, f"manual-{now:%H%M}", now, now, None, True, session.close)
    status = service.scheduler.execute(slot, manual=True)
    print(f"{args.task} {day} {slot.slot}: {status.value}")
    store.dispose()
    return 0 if status is RunStatus.SUCCEEDED else 1
