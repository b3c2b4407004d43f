"""Time sources. Only `LiveClock` reads the wall clock; everything else is handed a `Clock`.

All datetimes are timezone-aware. The trading day is reckoned in Asia/Kolkata (`IST`); storage uses UTC.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


__all__ = ["IST", "TEST_CLOCK_ENV", "TEST_CLOCK_FILE_ENV", "UTC", "Clock", "FollowedClock", "LiveClock", "PacedClock",
           "SimClock", "follower_clock", "ist_date", "service_clock"]


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


# --- test only: a fast clock for the whole service in one process (issue 10) -------------------------------------

TEST_CLOCK_ENV = "SWINGTRADER_TEST_CLOCK"
"""`START@SPEED`, e.g. `2024-03-04T09:00+05:30@7200`: `run` uses a `PacedClock`. Only tests set it."""


class PacedClock:
    """Test only: virtual time that starts at `start` and moves only while the service waits, each wait taking
    `1/speed` of its length in real time (stoppable like `LiveClock`). Work between waits takes no virtual time,
    so every slot runs at its exact time, as in a simulation, while another process can watch and act."""

    def __init__(self, start: datetime, speed: float, publish: Path | None = None) -> None:
        if start.tzinfo is None or not speed > 0:
            raise ValueError("PacedClock needs an aware start time and a positive speed")
        self._now, self._speed, self._publish = start.astimezone(IST), speed, publish
        self._lock = threading.Lock()
        self._write(self._now)

    def now(self) -> datetime:
        return self._now

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        while True:
            with self._lock:
                remaining = (moment - self._now).total_seconds()
                if remaining <= 0:
                    return True
                step = min(remaining, self._speed)  # at most one real second per step
            if stop is not None:
                if stop.wait(step / self._speed):
                    return False
            else:
                time.sleep(step / self._speed)
            with self._lock:
                self._now = max(self._now, min(moment, self._now + timedelta(seconds=step)))
                self._write(self._now)

    def _write(self, now: datetime) -> None:
        """Publish `now` to the `publish` file (atomically) for a `FollowedClock` in another process."""
        if self._publish is not None:
            tmp = self._publish.with_name(self._publish.name + ".tmp")
            tmp.write_text(now.isoformat())
            os.replace(tmp, self._publish)


class FollowedClock:
    """Test only: the virtual time another process's `PacedClock` publishes to `path` (`kotak-fake` beside a
    paced `run`). It moves only when that clock does, so it never runs ahead of a stopped (SIGSTOP) service."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def now(self) -> datetime:
        return datetime.fromisoformat(self._path.read_text()).astimezone(IST)

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        while self.now() < moment:
            if stop is not None:
                if stop.wait(0.01):
                    return False
            else:
                time.sleep(0.01)
        return True


TEST_CLOCK_FILE_ENV = "SWINGTRADER_TEST_CLOCK_FILE"
"""A file: `run`'s `PacedClock` publishes its time there, and `kotak-fake` follows it (`follower_clock`)."""


def service_clock() -> Clock:
    """The clock of `run`: `LiveClock`, or a `PacedClock` when `SWINGTRADER_TEST_CLOCK` is set (tests only),
    publishing its time to `SWINGTRADER_TEST_CLOCK_FILE` when that is set too."""
    spec = os.environ.get(TEST_CLOCK_ENV)
    if not spec:
        return LiveClock()
    start, _, speed = spec.rpartition("@")
    publish = os.environ.get(TEST_CLOCK_FILE_ENV)
    try:
        return PacedClock(datetime.fromisoformat(start), float(speed), Path(publish) if publish else None)
    except ValueError as exc:
        raise ValueError(f"{TEST_CLOCK_ENV}={spec!r}: expected START@SPEED, e.g. 2024-03-04T09:00+05:30@7200") from exc


def follower_clock() -> Clock:
    """The clock of `kotak-fake`: `LiveClock`, or a `FollowedClock` of the file `SWINGTRADER_TEST_CLOCK_FILE`
    names (tests only: a paced `run` publishes its time there; the file must exist)."""
    path = os.environ.get(TEST_CLOCK_FILE_ENV)
    if not path:
        return LiveClock()
    if not Path(path).is_file():
        raise ValueError(f"{TEST_CLOCK_FILE_ENV}={path!r}: no such file (start the paced `run` first)")
    return FollowedClock(Path(path))
