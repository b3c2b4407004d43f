"""Time sources. Only `LiveClock` reads the wall clock; everything else is handed a `Clock`.

All datetimes are timezone-aware. The trading day is reckoned in Asia/Kolkata (`IST`); storage uses UTC.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


__all__ = ["IST", "UTC", "Clock", "LiveClock", "SimClock", "ist_date"]


def ist_date(moment: datetime) -> date:
    """The IST calendar date of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: every time in swingtrader must be timezone-aware")
    return moment.astimezone(IST).date()


class Clock(Protocol):
    """What the service needs from time: read it, and wait for a moment (or a stop request)."""

    def now(self) -> datetime:
        """The current aware time, in IST."""
        ...

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        """Wait until `moment`; return False if `stop` was set first."""
        ...


class LiveClock:
    """The wall clock, in IST. Sleeps in short steps so a stop request is honoured within a second."""

    def now(self) -> datetime:
        return datetime.now(IST)

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        while True:
            remaining = (moment - self.now()).total_seconds()
            if remaining <= 0:
                return True
            step = min(remaining, 1.0)
            if stop is not None:
                if stop.wait(step):
                    return False
            else:
                time.sleep(step)


class SimClock:
    """Virtual time that never waits: `sleep_until` jumps straight to the moment.

    Time only moves forward; asking to sleep until a past moment is a no-op.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock needs an aware start time")
        self._now = start.astimezone(IST)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if moment > self._now:
            self._now = moment.astimezone(IST)
        return True
