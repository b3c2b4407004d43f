"""What `run` is doing before its scheduler starts, for `/healthz` ("starting: logging in (12 s)")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
