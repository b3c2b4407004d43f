"""The first minutes of a process: what `run` is doing before its scheduler starts, for `/healthz` ("starting:
logging in (12 s)"); the start banner naming the market data and what it means (`data_banner`); and the stop
signals of the helper servers (`stop_on_signals`)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import date


class StartupState:
    """Thread-safe: `run` calls `begin(activity)` and `finish()`; the dashboard reads `describe()`. Elapsed time is
    measured on the monotonic clock."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._activity: str | None = None
        self._since = 0.0

    def begin(self, activity: str) -> None:
        with self._lock:
            self._activity, self._since = activity, self._monotonic()

    def finish(self) -> None:
        with self._lock:
            self._activity = None

    def describe(self) -> str | None:
        """"starting: <activity> (<n> s)" while starting, None once the service runs."""
        with self._lock:
            if self._activity is None:
                return None
            return f"starting: {self._activity} ({self._monotonic() - self._since:.0f} s)"


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, handlers installed explicitly so that a process started with SIGINT
    ignored (nohup, CI) still stops on it. Main thread only."""
    stop = threading.Event()

    def handler(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def data_banner(source: str, static: bool, newest: date, age_days: int, mode: str) -> str:
    """One line at start: the data source, its newest day, and what that means for this run."""
    kind = "a file that does not change" if static else "refreshed before every task"
    text = f"market data: {source} ({kind}); newest bars {newest}"
    if age_days <= 1:
        return f"{text}: current"
    text += f", {age_days} trading days old"
    if mode.startswith("paper"):
        text += ": paper orders will not fill"
    return (f"{text}; the analysis has no bars for today; `make demo` replays history; "
            "SWINGTRADER_DATA=yfinance for current prices")
