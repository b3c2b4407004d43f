"""Failed dashboard logins, counted per client address: after `free` failures in a row, each further attempt
must wait `2**(n - free)` seconds (at most `cap`) after the last failure, and is answered 429 meanwhile without
its password being checked. A successful login clears the client. Time is this host's monotonic clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_CLIENTS = 10_000
"""Clients remembered at once; past it the one whose last failure is oldest is forgotten."""


class LoginThrottle:
    def __init__(self, *, free: int = 5, cap: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._free, self._cap, self._monotonic = free, cap, monotonic
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (failures in a row, time of the last)
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds `client` must still wait before its next attempt is checked (0 when it may try now)."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
        if count < self._free:
            return 0.0
        return max(0.0, last + self._penalty(count) - self._monotonic())

    def failed(self, client: str) -> None:
        """Count a failed login; logs when the client starts being slowed down, and each slower step."""
        with self._lock:
            count = self._failures.get(client, (0, 0.0))[0] + 1
            self._failures[client] = (count, self._monotonic())
            if len(self._failures) > MAX_CLIENTS:
                del self._failures[min(self._failures, key=lambda c: self._failures[c][1])]
        if count >= self._free:
            log.warning("dashboard: %d failed logins in a row from %s; its next attempt waits %.0f s", count, client,
                        self._penalty(count))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _penalty(self, count: int) -> float:
        return float(min(self._cap, 2.0 ** (count - self._free)))
