"""Issue 14: `kotak-fake` beside a paced `run` follows the time that `run`'s `PacedClock` publishes to a file, so
the two share one virtual time and the fake never runs ahead of a stopped service."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from swingtrader.clock import IST, TEST_CLOCK_FILE_ENV, FollowedClock, LiveClock, PacedClock, follower_clock

START = datetime(2024, 12, 31, 9, 0, tzinfo=IST)


def test_the_followed_clock_reads_what_the_paced_clock_published(tmp_path):
    path = tmp_path / "clock"
    paced = PacedClock(START, speed=1e6, publish=path)
    followed = FollowedClock(path)
    assert followed.now() == START  # published at once, before any wait
    assert paced.sleep_until(START + timedelta(days=2, minutes=5))
    assert followed.now() == paced.now() == START + timedelta(days=2, minutes=5)
    assert followed.now().tzinfo is not None


def test_the_followed_clock_waits_for_the_published_time_and_honours_a_stop(tmp_path):
    path = tmp_path / "clock"
    paced = PacedClock(START, speed=1e6, publish=path)
    followed = FollowedClock(path)
    stop = threading.Event()
    stop.set()
    assert not followed.sleep_until(START + timedelta(hours=1), stop)  # the publisher has not moved: no run-ahead
    assert followed.now() == START
    waiter = threading.Thread(target=paced.sleep_until, args=(START + timedelta(hours=1),))
    waiter.start()
    assert followed.sleep_until(START + timedelta(hours=1), threading.Event())
    waiter.join()
    assert followed.now() == START + timedelta(hours=1)


def test_kotak_fake_follows_the_file_only_when_the_variable_names_one(tmp_path, monkeypatch):
    monkeypatch.delenv(TEST_CLOCK_FILE_ENV, raising=False)
    assert isinstance(follower_clock(), LiveClock)
    monkeypatch.setenv(TEST_CLOCK_FILE_ENV, str(tmp_path / "clock"))
    with pytest.raises(ValueError, match="no such file"):
        follower_clock()
    (tmp_path / "clock").write_text(START.isoformat())
    clock = follower_clock()
    assert isinstance(clock, FollowedClock) and clock.now() == START
