"""Logging: a console and a daily file on the root logger, with every secret redacted from every record.

The file `<log dir>/swingtrader.log` rotates at midnight IST to `swingtrader.log.YYYY-MM-DD` (the IST day it
covers) and keeps `log_retention_days` rotated files. Log lines carry IST timestamps with their offset.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from datetime import time as dtime
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from urllib.parse import quote

from swingtrader.clock import IST
from swingtrader.config import Settings
from swingtrader.notify_secrets import url_secrets

__all__ = [
    "MIN_SECRET_LENGTH",
    "ISTFormatter",
    "ISTMidnightRotatingFileHandler",
    "RedactionFilter",
    "next_ist_midnight",
    "setup_logging",
]

MIN_SECRET_LENGTH = 4
"""Shorter values are never redacted (they would blank out ordinary text); a 4-digit MPIN is redacted."""

REDACTED = "***"
LOG_FILE_NAME = "swingtrader.log"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
_OWN_HANDLERS = ("swingtrader.file", "swingtrader.console")


class RedactionFilter(logging.Filter):
    """Replaces every registered secret (of at least `MIN_SECRET_LENGTH` characters, also URL-encoded) and
    every JWT-shaped string with `***` in a record's message, arguments, traceback and stack.

    The record is rewritten in place: the message is merged with its arguments and the exception is kept
    only as redacted text (`exc_info` is cleared), so no handler can format the raw values later.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._longest_first: tuple[str, ...] = ()
        self._lock = threading.Lock()
        for value in secrets:
            self.add_secret(value)

    def add_secret(self, value: str) -> None:
        """Redact `value` from now on (e.g. a session token learned at run time)."""
        if len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            self._secrets.update({value, quote(value, safe="")})
            self._longest_first = tuple(sorted(self._secrets, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """`text` with every secret (longest first) and JWT replaced by `***`.

        Plain substring replacement, not one regex of all secrets: a long-running service learns a token at every
        login, and compiling a new alternation each time filled `re`'s pattern cache (hundreds of MB in weeks)."""
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _JWT.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # mismatched format and arguments: keep both, redacted, rather than fail the caller
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class ISTFormatter(logging.Formatter):
    """Formats `asctime` as ISO 8601 in IST with its offset, e.g. `2026-03-02T23:59:59.123+05:30`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, IST).isoformat(timespec="milliseconds")


def next_ist_midnight(timestamp: float) -> int:
    """The first midnight Asia/Kolkata strictly after `timestamp` (both POSIX seconds)."""
    day = datetime.fromtimestamp(timestamp, IST).date() + timedelta(days=1)
    return int(datetime.combine(day, dtime.min, IST).timestamp())


class ISTMidnightRotatingFileHandler(TimedRotatingFileHandler):
    """A file rotated at every midnight IST whatever the server's time zone, keeping `backup_count` old files.

    `now` is the time source (POSIX seconds), injectable so tests can drive the rotation.
    """

    def __init__(self, filename: str | Path, backup_count: int, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._failing = self._failed_now = False
        existing = os.path.exists(filename)
        super().__init__(filename, when="midnight", backupCount=backup_count, encoding="utf-8", utc=True)
        # A file written before a restart rolls over at the first midnight after its last write.
        self.rolloverAt = self.computeRollover(os.stat(filename).st_mtime if existing else now())

    def computeRollover(self, currentTime: float) -> int:
        return next_ist_midnight(currentTime)

    def emit(self, record: logging.LogRecord) -> None:
        self._failed_now = False
        super().emit(record)
        if not self._failed_now:
            self._failing = False

    def handleError(self, record: logging.LogRecord) -> None:
        """A write that fails (a full disk) is said once on stderr, without a traceback, until one succeeds."""
        self._failed_now = True
        if not self._failing:
            self._failing = True
            sys.stderr.write(f"swingtrader: cannot write the log file {self.baseFilename} ({sys.exc_info()[1]}); "
                             "records reach only the console until it can\n")

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        return self._now() >= self.rolloverAt

    def doRollover(self) -> None:
        if self.stream:
            self.stream.close()
            self.stream = None
        covered = datetime.fromtimestamp(self.rolloverAt, IST).date() - timedelta(days=1)
        target = self.rotation_filename(f"{self.baseFilename}.{covered.isoformat()}")
        if os.path.exists(target):
            os.remove(target)
        self.rotate(self.baseFilename, target)
        if self.backupCount > 0:
            for old in self.getFilesToDelete():
                os.remove(old)
        if not self.delay:
            self.stream = self._open()
        self.rolloverAt = self.computeRollover(self._now())


def setup_logging(settings: Settings, *, console: bool = True, extra_secrets: Iterable[str] = ()) -> RedactionFilter:
    """Configure the root logger: level `log_level`, a stderr handler (if `console`) and the rotating file.

    The returned filter, with `settings.secret_values()`, the secret parts of every notification URL (see
    `notify_secrets`) and `extra_secrets`, is attached to every handler on the root logger, including ones added
    before this call, so third-party records (apprise, urllib3 at DEBUG) are redacted too. Records that never
    reach a root handler (a logger with `propagate=False` and its own handlers) are not covered. Calling it
    again replaces what an earlier call installed.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.name in _OWN_HANDLERS:
            root.removeHandler(handler)
            handler.close()
        for old in [f for f in handler.filters if isinstance(f, RedactionFilter)]:
            handler.removeFilter(old)

    redaction = RedactionFilter([*settings.secret_values(), *_notification_secrets(settings), *extra_secrets])
    settings.effective_log_dir.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [
        ISTMidnightRotatingFileHandler(settings.effective_log_dir / LOG_FILE_NAME, settings.log_retention_days)
    ]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler, name in zip(handlers, _OWN_HANDLERS, strict=False):
        handler.set_name(name)
        handler.setFormatter(ISTFormatter(_FORMAT))
        root.addHandler(handler)
    for handler in root.handlers:
        handler.addFilter(redaction)
    root.setLevel(settings.log_level)
    return redaction


def _notification_secrets(settings: Settings) -> list[str]:
    if settings.notify_urls is None:
        return []
    urls = re.split(r"[,\s]+", settings.notify_urls.get_secret_value())
    return [secret for url in urls for secret in url_secrets(url)]
