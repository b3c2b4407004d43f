"""The trading calendar against the reference list of NSE holidays and special sessions, 2024-2026."""

from __future__ import annotations

import csv
import logging
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from swingtrader.clock import IST, UTC
from swingtrader.market.calendar import CalendarDataMissing, Session, TradingCalendar


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("calendar-cache")


@pytest.fixture(scope="module")
def calendar(cache_dir) -> TradingCalendar:
    return TradingCalendar.load(cache_dir=cache_dir)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=IST)


def windows(day: date, text: str) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((at(day, w[:5]), at(day, w[6:])) for w in text.split(";"))


def expected_from_reference(path: Path) -> dict[date, Session | None]:
    """Every day 2024-2026 as the reference CSV says: listed days as listed, weekdays 09:15-15:30, weekends shut."""
    expected: dict[date, Session | None] = {}
    day = date(2024, 1, 1)
    while day.year <= 2026:
        expected[day] = None if day.weekday() >= 5 else Session(day, "regular", windows(day, "09:15-15:30"))
        day += timedelta(days=1)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            day = date.fromisoformat(row["date"])
            if row["kind"] == "holiday":
                expected[day] = None
            else:
                muhurat = row["kind"] == "holiday_with_muhurat" or (
                    row["kind"] == "special_session_unconfirmed" and "Muhurat" in row["note"])
                expected[day] = Session(day, "muhurat" if muhurat else "special", windows(day, row["sessions"]))
    return expected


def test_every_day_of_2024_to_2026_matches_the_reference_list(calendar, test_data):
    expected = expected_from_reference(test_data / "nse-calendar-2024-2026.csv")
    actual = {s.date: s for s in calendar.sessions(date(2024, 1, 1), date(2026, 12, 31))}
    wrong = {day: (want, actual.get(day)) for day, want in expected.items() if actual.get(day) != want}
    assert wrong == {}
    assert len(actual) == sum(1 for s in expected.values() if s is not None)
    for day, want in expected.items():
        assert calendar.session(day) == want
        assert calendar.is_trading_day(day) is (want is not None)


def test_reference_rows_by_kind(calendar):
    assert calendar.session(date(2024, 1, 22)) is None  # special holiday (Maharashtra)
    saturday = date(2024, 1, 20)
    drill = calendar.session(saturday)  # a split drill session
    assert (drill.kind, drill.open, drill.close) == ("special", at(saturday, "09:15"), at(saturday, "12:30"))
    assert drill.windows == windows(saturday, "09:15-10:00;11:30-12:30")
    muhurat = calendar.session(date(2025, 10, 21))
    assert (muhurat.kind, muhurat.windows) == ("muhurat", windows(date(2025, 10, 21), "13:45-14:45"))
    provisional = calendar.session(date(2026, 11, 8))  # a Sunday Muhurat session not yet confirmed
    assert (provisional.kind, provisional.windows) == ("muhurat", windows(date(2026, 11, 8), "18:15-19:15"))
    for day in (date(2024, 7, 1), date(2025, 4, 16), date(2026, 1, 16), date(2023, 6, 1)):
        s = calendar.session(day)
        assert (s.kind, s.open, s.close) == ("regular", at(day, "09:15"), at(day, "15:30"))
        assert s.open.utcoffset() == timedelta(hours=5, minutes=30)


def test_years_before_the_reference_list_come_from_the_library(calendar):
    assert calendar.session(date(2023, 1, 26)) is None  # Republic Day
    diwali = calendar.session(date(2022, 10, 24))
    assert (diwali.kind, diwali.windows) == ("muhurat", windows(date(2022, 10, 24), "18:15-19:15"))
    early_era = calendar.session(date(2009, 5, 5))  # before NSE moved the open to 09:15 in October 2010
    assert (early_era.kind, early_era.open, early_era.close) == ("regular", at(date(2009, 5, 5), "09:55"),
                                                                 at(date(2009, 5, 5), "15:30"))


def test_contains_is_half_open_and_skips_the_break_of_a_split_session(calendar):
    drill = calendar.session(date(2024, 1, 20))
    day = drill.date
    assert drill.contains(at(day, "09:15")) and drill.contains(at(day, "09:59"))
    assert not drill.contains(at(day, "10:00")) and not drill.contains(at(day, "11:00"))
    assert drill.contains(at(day, "11:30")) and not drill.contains(at(day, "12:30"))
    assert drill.contains(datetime(2024, 1, 20, 4, 0, tzinfo=UTC))  # 09:30 IST
    assert not drill.contains(datetime(2024, 1, 20, 9, 30, tzinfo=UTC))  # 15:00 IST
    with pytest.raises(ValueError, match="naive"):
        drill.contains(datetime(2024, 1, 20, 9, 30))


def test_next_and_previous_session_skip_weekends_and_holidays(calendar):
    assert calendar.next_session(date(2024, 1, 19)).date == date(2024, 1, 20)  # the Saturday session
    assert calendar.next_session(date(2024, 1, 20)).date == date(2024, 1, 23)  # Sunday, then a holiday
    assert calendar.previous_session(date(2024, 1, 23)).date == date(2024, 1, 20)
    assert calendar.next_session(date(2025, 10, 20)).kind == "muhurat"
    assert calendar.previous_session(date(2026, 11, 9)).date == date(2026, 11, 8)


def test_a_year_without_holiday_data_is_an_explicit_error(calendar, caplog):
    assert calendar.known_years()[-1] == 2026 and 2024 in calendar.known_years()
    with caplog.at_level(logging.WARNING), pytest.raises(CalendarDataMissing) as raised:
        calendar.sessions(date(2026, 12, 28), date(2027, 1, 8))
    assert raised.value.year == 2027 and "2027" in str(raised.value)
    assert "2027" in caplog.text
    with pytest.raises(CalendarDataMissing):
        calendar.session(date(2027, 1, 4))
    with pytest.raises(CalendarDataMissing) as raised:
        calendar.next_session(date(2026, 12, 31))
    assert raised.value.year == 2027


def test_a_user_override_file_adds_a_year_and_replaces_shipped_rows(calendar, cache_dir, tmp_path):
    overrides = tmp_path / "calendar.csv"
    overrides.write_text(
        "date,kind,sessions,note,source\n"
        "2027-01-26,holiday,,Republic Day,user\n"
        "2025-02-01,holiday,,budget session cancelled (hypothetical),user\n"
        "2025-12-24,special_session_unconfirmed,10:00-12:00,provisional half day,user\n"
    )
    custom = TradingCalendar.load(overrides, cache_dir=cache_dir)
    assert custom.known_years()[-1] == 2027
    assert custom.session(date(2027, 1, 26)) is None
    assert custom.session(date(2027, 1, 25)).windows == windows(date(2027, 1, 25), "09:15-15:30")
    assert custom.session(date(2027, 1, 23)) is None  # a Saturday
    assert custom.session(date(2025, 2, 1)) is None
    half_day = custom.session(date(2025, 12, 24))
    assert (half_day.kind, half_day.windows) == ("special", windows(date(2025, 12, 24), "10:00-12:00"))
    assert calendar.session(date(2025, 2, 1)).kind == "special"  # the shipped calendar is untouched


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("2025-13-01,holiday,,,", "month must be in 1..12"),
        ("2025-12-01,closed,,,", "kind 'closed'"),
        ("2025-12-01,special_session,,,", "needs its sessions"),
        ("2025-12-01,special_session,12:00-10:00,,", "bad session windows"),
        ("2025-12-01,holiday,09:15-15:30,,", "no sessions"),
    ],
)
def test_a_malformed_override_row_names_file_and_line(cache_dir, tmp_path, row, problem):
    overrides = tmp_path / "bad.csv"
    overrides.write_text(f"date,kind,sessions,note,source\n2025-11-28,holiday,,,\n{row}\n")
    with pytest.raises(ValueError, match=rf"bad\.csv:3: .*{re.escape(problem)}"):
        TradingCalendar.load(overrides, cache_dir=cache_dir)


def test_a_date_listed_twice_is_rejected(cache_dir, tmp_path):
    overrides = tmp_path / "twice.csv"
    overrides.write_text("date,kind,sessions,note,source\n2025-11-28,holiday,,,\n2025-11-28,holiday,,,\n")
    with pytest.raises(ValueError, match=r"twice\.csv:3: 2025-11-28 is listed twice"):
        TradingCalendar.load(overrides, cache_dir=cache_dir)


def test_the_library_runs_once_per_cache_dir(calendar, cache_dir, monkeypatch):
    (cached,) = cache_dir.iterdir()
    written = cached.stat().st_mtime_ns
    monkeypatch.setattr(sys, "executable", str(cache_dir / "no-python-here"))  # a child process would fail
    again = TradingCalendar.load(cache_dir=cache_dir)
    assert again.session(date(2024, 1, 20)) == calendar.session(date(2024, 1, 20))
    assert [p.name for p in cache_dir.iterdir()] == [cached.name]
    assert cached.stat().st_mtime_ns == written


def test_the_calendar_never_imports_pandas(calendar, cache_dir):
    probe = (
        "import sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "import swingtrader.market.calendar as m\n"
        "assert 'pandas' not in sys.modules, 'import'\n"
        f"cal = m.TradingCalendar.load(cache_dir=Path({str(cache_dir)!r}))\n"
        "assert len(cal.sessions(date(2024, 1, 1), date(2024, 12, 31))) == 249\n"
        "assert not {'pandas', 'numpy', 'pandas_market_calendars'} & set(sys.modules), 'use'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
