"""Logging pieces: IST-midnight rotation and retention, IST timestamps, the redaction filter, idempotent setup."""

from __future__ import annotations

import io
import logging
import os
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from swingtrader.config import Settings
from swingtrader.logs import (
    ISTFormatter,
    ISTMidnightRotatingFileHandler,
    RedactionFilter,
    next_ist_midnight,
    setup_logging,
)

MPIN4 = "4829"
MOBILE = "+919812345678"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJaUTdLMyIsImV4cCI6MTc3MjQ4MjYwMH0"
    ".Xk3v9Q2mT8rW1pL6nB4cY7zD0aF5gH2jK9sE3uV8wIo"
)


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


class FakeTime:
    """A settable time source in POSIX seconds."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def emit(handler: logging.Handler, message: str) -> None:
    handler.handle(logging.makeLogRecord({"msg": message, "levelno": logging.INFO, "levelname": "INFO"}))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 3, 2, 18, 29, 59), utc(2026, 3, 2, 18, 30)),
        (utc(2026, 3, 2, 18, 30), utc(2026, 3, 3, 18, 30)),
        (utc(2026, 3, 2, 0, 0), utc(2026, 3, 2, 18, 30)),
        (utc(2026, 12, 31, 19, 0), utc(2027, 1, 1, 18, 30)),
    ],
)
def test_next_rollover_is_the_next_midnight_in_ist(now: float, expected: float) -> None:
    assert next_ist_midnight(now) == expected


def test_file_rolls_over_at_ist_midnight_named_for_the_ist_day(tmp_path: Path) -> None:
    clock = FakeTime(utc(2026, 3, 2, 18, 29, 59))
    handler = ISTMidnightRotatingFileHandler(tmp_path / "swingtrader.log", 30, now=clock)
    try:
        emit(handler, "last line of 2 March IST")
        clock.now += 2
        emit(handler, "first line of 3 March IST")
    finally:
        handler.close()
    assert (tmp_path / "swingtrader.log.2026-03-02").read_text() == "last line of 2 March IST\n"
    assert (tmp_path / "swingtrader.log").read_text() == "first line of 3 March IST\n"


def test_retention_keeps_the_newest_files(tmp_path: Path) -> None:
    clock = FakeTime(utc(2026, 1, 1, 6, 0))
    handler = ISTMidnightRotatingFileHandler(tmp_path / "swingtrader.log", 30, now=clock)
    try:
        for _ in range(36):
            emit(handler, "a day's work")
            clock.now += 86400
    finally:
        handler.close()
    rotated = sorted(p.name for p in tmp_path.iterdir() if p.name != "swingtrader.log")
    days = [(datetime(2026, 1, 6) + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(30)]
    assert rotated == [f"swingtrader.log.{day}" for day in days]


def test_a_file_left_from_an_earlier_day_rolls_over_on_the_first_record(tmp_path: Path) -> None:
    path = tmp_path / "swingtrader.log"
    path.write_text("from before the restart\n")
    last_write = utc(2026, 3, 1, 12, 0)  # 17:30 IST on 1 March
    os.utime(path, (last_write, last_write))
    handler = ISTMidnightRotatingFileHandler(path, 30, now=FakeTime(utc(2026, 3, 4, 4, 0)))
    try:
        emit(handler, "after the restart")
    finally:
        handler.close()
    assert (tmp_path / "swingtrader.log.2026-03-01").read_text() == "from before the restart\n"
    assert path.read_text() == "after the restart\n"


def test_timestamps_are_ist_with_offset() -> None:
    record = logging.makeLogRecord({"msg": "hello", "name": "swingtrader.test", "levelname": "INFO"})
    record.created = utc(2026, 3, 2, 18, 29, 59) + 0.25
    line = ISTFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    assert line == "2026-03-02T23:59:59.250+05:30 INFO swingtrader.test: hello"


def test_filter_redacts_secrets_of_four_characters_and_more() -> None:
    redaction = RedactionFilter([MPIN4, "abc", MOBILE])
    assert redaction.redact(f"mpin={MPIN4} code=abc") == "mpin=*** code=abc"
    assert redaction.redact("mobileNumber=%2B919812345678&x=1") == "mobileNumber=***&x=1"
    assert redaction.redact(f"Auth: {JWT}") == "Auth: ***"
    redaction.add_secret("sid-7f3a9c2e")
    assert redaction.redact("sid=sid-7f3a9c2e") == "sid=***"


def test_a_token_learned_at_every_login_for_months_keeps_memory_flat() -> None:
    """The live service adds its session token at each login (a year of daily logins and expiries: hundreds of
    tokens). Redaction still covers every one, the oldest included, and memory grows by the tokens, not by
    a compiled pattern of all tokens per login (which filled `re`'s cache: ~100 MB in the 64-session soak)."""
    redaction = RedactionFilter([MPIN4])
    tokens = [f"session-token-{i:04d}-" + "q7Zx" * 60 for i in range(400)]  # 259 characters each
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for token in tokens:
            redaction.add_secret(token)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1_000_000, grown  # 800 strings of ~260 characters, and their tuple: ~0.3 MB
    line = f"login ok token={tokens[0]} old={tokens[-1]}&t={quote(tokens[7], safe='')} pin {MPIN4} {JWT}"
    assert redaction.redact(line) == "login ok token=*** old=***&t=*** pin *** ***"


def test_filter_merges_arguments_and_survives_a_bad_format() -> None:
    redaction = RedactionFilter([MPIN4])
    good = logging.makeLogRecord({"msg": "mpin %s for %s", "args": (MPIN4, "ZQ7K3")})
    bad = logging.makeLogRecord({"msg": "mpin %s %s", "args": (MPIN4,)})
    assert redaction.filter(good) and redaction.filter(bad)
    assert (good.getMessage(), good.args) == ("mpin *** for ZQ7K3", None)
    assert MPIN4 not in bad.getMessage() and "mpin" in bad.getMessage()


def test_setup_is_idempotent_and_covers_handlers_already_on_root(tmp_path: Path, root_logger: logging.Logger) -> None:
    foreign_stream = io.StringIO()
    foreign = logging.StreamHandler(foreign_stream)
    root_logger.addHandler(foreign)
    settings = Settings(data_dir=tmp_path, kotak_mpin=MPIN4, log_level="debug")
    setup_logging(settings, console=False)
    redaction = setup_logging(settings)
    ours = [h for h in root_logger.handlers if h.name in ("swingtrader.file", "swingtrader.console")]
    assert sorted(h.name for h in ours) == ["swingtrader.console", "swingtrader.file"]
    assert [f for f in foreign.filters if isinstance(f, RedactionFilter)] == [redaction]
    assert root_logger.level == logging.DEBUG
    logging.getLogger("somelib").debug("pin is %s", MPIN4)
    assert foreign_stream.getvalue() == "pin is ***\n"


def test_filter_redacts_tracebacks_and_stacks() -> None:
    redaction = RedactionFilter([MPIN4])
    try:
        raise PermissionError(f"mpin {MPIN4} rejected")
    except PermissionError:
        record = logging.makeLogRecord({"msg": "login failed", "stack_info": f"Stack:\n  mpin = {MPIN4}"})
        record.exc_info = sys.exc_info()
    redaction.filter(record)
    text = logging.Formatter().format(record)
    assert "PermissionError: mpin *** rejected" in text and "mpin = ***" in text
    assert MPIN4 not in text and record.exc_info is None


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full, a device that is always full")
def test_a_full_disk_under_the_log_file_is_said_once_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    handler = ISTMidnightRotatingFileHandler("/dev/full", 30, now=lambda: 0.0)  # every write: ENOSPC
    try:
        try:
            raise RuntimeError("an exception being handled while the record is written")
        except RuntimeError:
            for n in range(3):
                emit(handler, f"record {n}")
    finally:
        try:
            handler.close()
        except OSError:
            pass
    err = capsys.readouterr().err
    assert err.count("cannot write the log file /dev/full") == 1, err
    assert "No space left on device" in err
    assert "Traceback" not in err and "RuntimeError" not in err
