"""`swingtrader run-task TASK [--date D] [--live] [--force]`: the manual fallback, through the same ledger.

It follows the store's mode, and needs `--live` to touch a live store. It refuses while another process owns
the store (the holder is named), and otherwise takes the store's lease for the length of the task. A task
outside its window is refused unless `--force`; a forced run always goes to a `manual-HHMM` slot (the scheduled
slot stays for its run); a date after today is refused, and an order-placing task for a date more than one
session old (`manual_runs`). Today is the wall clock's (a test clock's with `SWINGTRADER_TEST_CLOCK`).
A daily task claims that day's slot: it runs if the slot is empty, failed, missed or skipped, and refuses
(exit 1) if it already succeeded. An intraday task runs in a `manual-HHMM` slot."""

from __future__ import annotations

import argparse

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, parse_date, settings_or_exit


def main(args: argparse.Namespace) -> int:
    from swingtrader.schedule import TASKS

    if args.task not in TASKS:
        fail(f"unknown task {args.task!r}; tasks are: {', '.join(TASKS)}")
    settings = settings_or_exit(args)
    from swingtrader.clock import ist_date, service_clock
    from swingtrader.logs import setup_logging
    from swingtrader.manual_runs import ManualRunRefused, check, run_manual
    from swingtrader.owner import (
        check_identity_or_exit,
        delegate_to_owner,
        store_mode_or_exit,
        take_lease_or_exit,
    )
    from swingtrader.runtime import assemble, open_store
    from swingtrader.service import ServiceHooks
    from swingtrader.store import StoreError
    from swingtrader.store.lease import LeaseLost
    from swingtrader.store.ledger import RunStatus

    try:
        clock = service_clock()  # the wall clock; a test clock only when a test sets SWINGTRADER_TEST_CLOCK
    except ValueError as exc:
        fail(str(exc))
    now = clock.now()
    day = parse_date(args.date, "--date") if args.date else ist_date(now)
    calendar = calendar_or_exit(settings)
    session = calendar.session(day)
    if session is None:
        fail(f"{day} is not a trading day")
    try:
        check(args.task, day, now, calendar, force=args.force)  # refused before touching the store
    except ManualRunRefused as exc:
        fail(str(exc), 1)
    try:
        store = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    mode = store_mode_or_exit(store, settings.mode, live=args.live)
    if mode != settings.mode:
        settings = settings_or_exit(args, mode=mode)
    if settings.needs_broker is not None and settings.missing_live_credentials():
        what = "live trading needs" if mode == "live" else "paper prices from the broker need"
        fail(f"{what} every Kotak credential; missing: " + ", ".join(settings.missing_live_credentials()))
    check_identity_or_exit(settings, store, clock)
    delegated = delegate_to_owner(settings, store, clock, args.task, day, args.force)
    if delegated is not None:
        store.dispose()
        return delegated
    redactor = setup_logging(settings)
    bars = bars_or_exit(settings.data, settings)
    lease, _ = take_lease_or_exit(settings, store, clock)  # exits 1 naming the owner if one just started
    halt_renewal = lease.keep_renewed(settings.lease_expiry_seconds / 3)  # a slow broker cannot starve it
    try:
        service = assemble(settings, clock, store=store, calendar=calendar, bars=bars,
                           hooks=ServiceHooks(redact=redactor.redact, on_secret=redactor.add_secret))
        slot, status = run_manual(service, args.task, day, force=args.force)
        service.ledger.close()
    except (LeaseLost, ManualRunRefused) as exc:
        fail(str(exc), 1)
    finally:
        halt_renewal()
        if lease.held:
            lease.release()
        store.dispose()
    print(f"{args.task} {day} {slot}: {status.value}")
    return 0 if status is RunStatus.SUCCEEDED else 1
