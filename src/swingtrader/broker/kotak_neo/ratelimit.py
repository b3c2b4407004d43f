"""Client-side pacing and bounded retry timing for the Kotak Neo client.

Both take their sleep and randomness from the caller, so tests run fast and deterministically.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `per_second` calls per second, spaced evenly, shared by all threads.

    Each call reserves the next free slot and sleeps until it; it never spins, so a no-op `sleep` (a simulation)
    simply lets calls through."""

    def __init__(
        self,
        per_second: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"rate must be positive, got {per_second}")
        self._interval = 1.0 / per_second
        self._sleep = sleep
        self._monotonic = monotonic
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; return how long this call waited."""
        with self._lock:
            now = self._monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait


class Backoff:
    """Exponential backoff with full jitter for reads: attempt n waits uniform(0, min(cap, base * 2**n)).

    A server's `Retry-After` is honoured as given, up to `max_wait`; beyond that the caller gives up."""

    def __init__(
        self,
        *,
        attempts: int = 4,
        base: float = 0.25,
        cap: float = 4.0,
        max_wait: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.attempts = attempts
        self._base = base
        self._cap = cap
        self.max_wait = max_wait
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        if retry_after is not None:
            return retry_after
        with self._lock:
            return self._rng.uniform(0, min(self._cap, self._base * 2**attempt))
