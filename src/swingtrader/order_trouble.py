"""Failures settling single orders: each is recorded against its order and retried with a bounded backoff, so
one bad reply never stops the rest of a reconcile (or the start-up recovery) and never the monitor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _Trouble:
    attempts: int
    next_at: datetime


class Troubles:
    """Which orders failed to settle, and when each is due again (`base * 2**(attempts-1)`, at most `cap`)."""

    def __init__(self, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(minutes=15)) -> None:
        self._base, self._cap = base, cap
        self._by_key: dict[object, _Trouble] = {}

    def due(self, key: object, now: datetime) -> bool:
        trouble = self._by_key.get(key)
        return trouble is None or now >= trouble.next_at

    def failed(self, key: object, now: datetime) -> int:
        """Record one more failure; returns how many in a row."""
        trouble = self._by_key.get(key)
        attempts = 1 if trouble is None else trouble.attempts + 1
        self._by_key[key] = _Trouble(attempts, now + min(self._base * 2 ** (attempts - 1), self._cap))
        return attempts

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def cleared(self, key: object) -> bool:
        """Forget `key`'s failures; True if it had any."""
        return self._by_key.pop(key, None) is not None
