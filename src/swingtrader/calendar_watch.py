"""The end of the exchange calendar's data, without a cliff (issue 14).

The holiday data (the calendar library's years and the override files) ends with some year's last session.
`CalendarWatch` is the scheduler's hook for it:
- `new_day(day)`: publishes how far the data reaches (`ServiceState.calendar`: the last session, the sessions
  left from `day`) for `status`, the dashboard and `/metrics`; from `WARN_DAYS` before the last session it logs a
  warning and notifies `CALENDAR_ENDING` once a session day.
- `wait_for_data(exc)`: at the end the service does not exit: it stays up, healthy but idle (the reason is
  published as `idle`, shown on `/healthz` and the dashboard), re-reads the override file and the library's data
  every `RELOAD_EVERY`, and returns True once the next year is known (the calendar is extended in place), or
  False on a stop request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from swingtrader.clock import Clock, ist_date
from swingtrader.market.calendar import CalendarDataMissing, TradingCalendar
from swingtrader.notify import NotificationKind
from swingtrader.store.state import ServiceState

if TYPE_CHECKING:
    from swingtrader.notify import Notify

log = logging.getLogger(__name__)

WARN_DAYS = 30
"""Calendar days before the last known session from which the service warns once a day."""
RELOAD_EVERY = timedelta(hours=1)
"""How often an idle service re-reads the calendar's sources."""
ADD_HOLIDAYS = ("list next year's NSE holidays in SWINGTRADER_CALENDAR_OVERRIDE_FILE (README: \"Adding a year's "
                "holidays\") or upgrade pandas_market_calendars; the service resumes by itself")


def reach_text(value: Mapping[str, str] | None) -> str | None:
    """The published reach as one line ("exchange calendar data reaches 2026-12-31: 22 sessions left", or the
    idle reason); None when nothing is published."""
    if not value or "last_session" not in value:
        return None
    if value.get("idle"):
        return f"{value['idle']}; {ADD_HOLIDAYS}"
    return f"exchange calendar data reaches {value['last_session']}: {value.get('sessions_left', '?')} sessions left"


def ending_soon(value: Mapping[str, str] | None, today: date) -> bool:
    """Whether the published reach calls for attention: idle, or within `WARN_DAYS` of its end."""
    if not value or "last_session" not in value:
        return False
    return bool(value.get("idle")) or date.fromisoformat(value["last_session"]) - today <= timedelta(days=WARN_DAYS)


class CalendarWatch:
    """See the module docstring. `reload()` builds the calendar anew from its sources."""

    def __init__(
        self, calendar: TradingCalendar, reload: Callable[[], TradingCalendar], *, clock: Clock,
        state: ServiceState, notify: Notify, stop: threading.Event,
        heartbeat: Callable[[], None] = lambda: None, heartbeat_every: timedelta = timedelta(seconds=5),
    ) -> None:
        self._calendar, self._reload, self._clock, self._state = calendar, reload, clock, state
        self._notify, self._stop, self._heartbeat, self._beat = notify, stop, heartbeat, heartbeat_every
        self._warned: date | None = None

    def new_day(self, day: date) -> None:
        """Publish the calendar's reach as seen on `day`, or today when the loop catches up on an earlier
        session; near its end warn once a session day, not for a day caught up on (the next one warns)."""
        today = ist_date(self._clock.now())
        last = self._calendar.last_session().date
        left = len(self._calendar.sessions(max(day, today), last))
        self._publish(last, left, idle="")
        if day >= today and last - day <= timedelta(days=WARN_DAYS) and self._warned != day:
            self._warned = day
            text = f"exchange calendar data ends with the session of {last}: {left} sessions left"
            log.warning("%s; %s", text, ADD_HOLIDAYS)
            self._notify(NotificationKind.CALENDAR_ENDING, text, ADD_HOLIDAYS)

    def wait_for_data(self, exc: CalendarDataMissing) -> bool:
        """Idle until the year `exc` names has holiday data (True), or a stop request (False)."""
        last = self._calendar.last_session().date
        reason = f"idle: no exchange calendar after {last} ({exc.year} has no holiday data)"
        log.warning("%s; %s", reason, ADD_HOLIDAYS)
        self._notify(NotificationKind.CALENDAR_ENDING, f"swingtrader idle: {reason}", ADD_HOLIDAYS)
        self._publish(last, 0, idle=reason)
        problem = ""
        while True:
            if not self._sleep(self._clock.now() + RELOAD_EVERY):
                return False
            try:
                newer = self._reload()
            except (OSError, ValueError, RuntimeError) as error:  # a half-edited override file: try again later
                if str(error) != problem:
                    log.warning("calendar not reloaded (trying again in %s): %s", RELOAD_EVERY, error)
                problem = str(error)
                continue
            problem = ""
            if exc.year in newer.known_years():
                self._calendar.extend_with(newer)
                log.info("exchange calendar now reaches %s: trading resumes", self._calendar.last_session().date)
                self._notify(NotificationKind.CALENDAR_ENDING, "swingtrader resumes",
                             f"holiday data found for {exc.year}")
                self.new_day(ist_date(self._clock.now()))
                return True

    def _publish(self, last: date, left: int, idle: str) -> None:
        self._state.set_calendar({"last_session": last.isoformat(), "sessions_left": str(left), "idle": idle},
                                 self._clock.now())

    def _sleep(self, moment: datetime) -> bool:
        while self._clock.now() < moment:
            if not self._clock.sleep_until(min(moment, self._clock.now() + self._beat), self._stop):
                return False
            self._heartbeat()
        return True
