"""Notifications through apprise (Telegram, email, Discord, ... any apprise URL).

`Notifier.notify(kind, title, body)` never blocks and never raises for a channel's sake: messages go
through a bounded queue to one background worker that sends them; a channel that fails or hangs is
logged and only ever delays later notifications, never the caller. Every title and body passes through
`redact` before anything else sees it. An alert identical to one sent less than `collapse_seconds` ago is
not sent; the next one sent after the window says how many were collapsed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from swingtrader.clock import Clock

log = logging.getLogger(__name__)



class NotificationKind(StrEnum):
    """What an alert is about; each kind has an apprise notification type (`KINDS`)."""

    TASK_FAILED = "task_failed"
    ORDER_REJECTED = "order_rejected"
    RELOGIN_FAILED = "relogin_failed"
    ORDER_FILLED = "order_filled"
    ORDER_LOST = "order_lost"  # a send of unknown outcome not found by its deadline: a person decides (order_path)
    ORDER_NOT_SENT = "order_not_sent"  # proven absent at the broker after the last allowed send: given up
    EXIT_SIGNAL = "exit_signal"
    SERVICE_STARTED = "service_started"
    SERVICE_STOPPED = "service_stopped"
    DAILY_SUMMARY = "daily_summary"
    DATA_MISSING = "data_missing"  # the analysis had no bars for its day (market/refresh.py)
    LEASE_TAKEN_OVER = "lease_taken_over"  # this process took an expired instance lease over (store/lease.py)
    HOLDINGS_MISMATCH = "holdings_mismatch"  # broker holdings differ from our positions (recovery.py)
    ORDER_ATTENTION = "order_attention"  # settling one order failed; retried with backoff (order_path, recovery.py)
    CALENDAR_ENDING = "calendar_ending"  # the exchange calendar's data runs out soon, or has (calendar_watch.py)


KINDS: dict[NotificationKind, str] = {
    NotificationKind.TASK_FAILED: "failure",
    NotificationKind.ORDER_REJECTED: "failure",
    NotificationKind.RELOGIN_FAILED: "failure",
    NotificationKind.ORDER_FILLED: "success",
    NotificationKind.ORDER_LOST: "failure",
    NotificationKind.ORDER_NOT_SENT: "warning",
    NotificationKind.EXIT_SIGNAL: "warning",
    NotificationKind.SERVICE_STARTED: "info",
    NotificationKind.SERVICE_STOPPED: "warning",
    NotificationKind.DAILY_SUMMARY: "info",
    NotificationKind.DATA_MISSING: "failure",
    NotificationKind.LEASE_TAKEN_OVER: "warning",
    NotificationKind.HOLDINGS_MISMATCH: "warning",
    NotificationKind.ORDER_ATTENTION: "warning",
    NotificationKind.CALENDAR_ENDING: "warning",
}
"""kind -> apprise notification type."""

Notify = Callable[[NotificationKind, str, str], None]
"""The shape of `Notifier.notify`, as the service and the tasks receive it."""
_STOP = object()


@dataclass
class _Seen:
    sent_at: datetime
    collapsed: int = 0


class Notifier:
    """Sends alerts to every configured apprise URL from a daemon worker thread.

    With no URLs it is a no-op (apprise is not even imported). Thread-safe. Call `close()` on shutdown
    to send what is queued.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        redact: Callable[[str], str],
        clock: Clock,
        collapse_seconds: float = 600,
        queue_size: int = 100,
    ) -> None:
        self._urls = [u for u in urls if u.strip()]
        self._redact = redact
        self._clock = clock
        self._window = timedelta(seconds=collapse_seconds)
        self._lock = threading.Lock()
        self._seen: dict[tuple[NotificationKind, str, str], _Seen] = {}
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._worker: threading.Thread | None = None
        self._closed = False
        self.dropped = 0

    def notify(self, kind: NotificationKind, title: str, body: str) -> None:
        """Queue one alert; returns at once and never raises. A `kind` not in `KINDS` is sent as info."""
        if kind not in KINDS:
            log.warning("unknown notification kind %r: sent as info", kind)
        if not self._urls or self._closed:
            return
        title, body = self._redact(title), self._redact(body)
        with self._lock:
            message = self._collapse(kind, title, body)
            if message is None:
                return
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="swingtrader-notify", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
            log.warning("notification queue full: dropped a %s alert (%d dropped so far)", kind, self.dropped)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop accepting alerts, send what is queued, and wait up to `timeout` s. True if all were sent."""
        self._closed = True
        worker = self._worker
        if worker is None:
            return True
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return False
        worker.join(timeout)
        return not worker.is_alive()

    def _collapse(self, kind: NotificationKind, title: str, body: str) -> tuple[NotificationKind, str, str] | None:
        """The message to send now, or None when an identical one went out within the window."""
        now = self._clock.now()
        key = (kind, title, body)
        seen = self._seen.get(key)
        if seen is not None and now - seen.sent_at < self._window:
            seen.collapsed += 1
            return None
        if len(self._seen) > 500:
            self._seen = {k: v for k, v in self._seen.items() if now - v.sent_at < self._window}
        self._seen[key] = _Seen(now)
        if seen is not None and seen.collapsed:
            minutes = self._window.total_seconds() / 60
            body = f"{body}\n(also {seen.collapsed} more time(s) in the {minutes:g} minutes before this)"
        return kind, title, body

    def _run(self) -> None:
        import apprise

        channels = apprise.Apprise()
        for number, url in enumerate(self._urls, 1):
            if not channels.add(url):
                log.warning("notification URL #%d is not a valid apprise URL; it is ignored", number)
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            kind, title, body = item
            try:
                delivered = bool(channels.notify(title=title, body=body, notify_type=KINDS.get(kind, "info")))
            except Exception as exc:  # a plugin bug must not kill the worker
                delivered = False
                log.warning("notification %s raised %s", kind, type(exc).__name__)
            if not delivered:
                log.warning("a %s notification was not delivered to every channel", kind)
