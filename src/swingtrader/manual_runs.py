"""Guards for manual runs (`run-task` and the dashboard's run button), and the rule that a task whose every
order was refused failed.

- A task outside its window is refused: `analysis` before the session's close, `place_buy_orders` outside
  the AMO window (after the close, until the pre-open of the next session), `premarket_retry` after the open.
- A forced run always goes to a `manual-HHMM` slot, in its window or not: a manual run never takes a
  scheduled slot, which stays for its scheduled run.
- A `--date` after today (by the running clock, a test clock's today included) is refused for every task.
- An order-placing task for a `--date` more than one session old is refused (stale signals), force or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from swingtrader.clock import ist_date
from swingtrader.order_path.state import LocalStatus

ORDER_PLACING = frozenset({"premarket_retry", "place_sell_orders", "place_buy_orders"})
PREOPEN_LEAD = timedelta(minutes=15)  # AMOs are not accepted in the pre-open (NSE_MARKET_RULES.md)


class ManualRunRefused(Exception):
    """A manual run that the guards refuse; the message says why and whether `--force` would help."""


class AllOrdersRefused(Exception):
    """Every order the task tried was refused (by the broker or a risk check): the run failed."""


@dataclass(frozen=True)
class Decision:
    """Run in the scheduled slot (`manual_slot` False) or in a `manual-HHMM` slot of its own."""

    manual_slot: bool


def check(task: str, day: date, now: datetime, calendar: Any, *, force: bool) -> Decision:
    """Decide how a manual run of `task` for trading date `day` at `now` goes; raises `ManualRunRefused`."""
    today = ist_date(now)
    if day > today:
        raise ManualRunRefused(f"{task} for {day}: that day has not come yet (today is {today})")
    if task in ORDER_PLACING and _sessions_since(calendar, day, today) > 1:
        raise ManualRunRefused(f"{task} for {day}: more than one session old; its signals are stale")
    if force:
        return Decision(manual_slot=True)
    outside = _outside_window(task, day, now, calendar)
    if outside is None:
        return Decision(manual_slot=False)
    raise ManualRunRefused(f"{task} for {day}: {outside}; --force runs it now in a manual slot")


def _outside_window(task: str, day: date, now: datetime, calendar: Any) -> str | None:
    session = calendar.session(day)
    if session is None:
        return None
    if task == "analysis" and now < session.close:
        return f"the session closes at {session.close:%H:%M}; analysis needs the close"
    if task == "place_buy_orders":
        next_open = calendar.next_session(day).open
        if not session.close <= now < next_open - PREOPEN_LEAD:
            return (f"outside the AMO window ({session.close:%H:%M} to {next_open - PREOPEN_LEAD:%d %b %H:%M}), "
                    f"its orders would be refused")
    if task == "premarket_retry" and now >= session.open:
        return f"the session opened at {session.open:%H:%M}"
    return None


def _sessions_since(calendar: Any, day: date, today: date) -> int:
    """Trading sessions after `day` up to and including `today`."""
    if day >= today:
        return 0
    return len(calendar.sessions(day + timedelta(days=1), today))


def check_outcome(ctx: Any, task: str, trading_date: date, detail: Any) -> None:
    """Raise `AllOrdersRefused` with the reasons when the task placed nothing and every order it sent (or was
    stopped from sending by a risk check) was refused. Orders kept back for lack of cash are not refusals."""
    if not isinstance(detail, dict) or "placed" not in detail or detail["placed"] or not detail.get("failed"):
        return
    refused = [o for o in ctx.orders.for_day(trading_date, task)
               if o.status is LocalStatus.REJECTED
               or (o.status is LocalStatus.FAILED and o.reason != "insufficient_funds")]
    if refused and len(refused) == len(detail["failed"]):
        raise AllOrdersRefused("every order was refused: " + "; ".join(f"{o.symbol} {o.reason}" for o in refused))


def run_manual(service: Any, task: str, day: date, *, force: bool) -> tuple[str, Any]:
    """Run `task` for `day` now through the service's scheduler (its ledger, under its run lock): the
    scheduled daily slot, or a `manual-HHMM` one for intraday tasks and forced runs outside the window.
    Returns (slot name, `RunStatus`); raises `ManualRunRefused`."""
    from swingtrader.schedule import Slot

    now = service.clock.now()
    decision = check(task, day, now, service.calendar, force=force)
    session = service.calendar.session(day)
    if session is None:
        raise ManualRunRefused(f"{day} is not a trading day")
    planned = [s for s in service.plan.slots(day) if s.task == task]
    if planned and not planned[0].intraday and not decision.manual_slot:
        slot = planned[0]
    else:
        slot = Slot(task, day, f"manual-{now:%H%M}", now, now, None, True, session.close)
    return slot.slot, service.scheduler.execute(slot, manual=True)
