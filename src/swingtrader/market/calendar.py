"""The NSE trading calendar: which days trade, and in which windows of IST time.

Three sources, later ones winning for the dates they list:

1. `pandas_market_calendars` (calendar "XNSE"): weekday holidays, regular hours by era, Muhurat sessions.
2. The override list shipped with the package (`swingtrader/data/nse_calendar_overrides.csv`).
3. An optional user override file in the same format, so a holiday announced at short notice needs no release.

Override files are CSV with the columns `date,kind,sessions,note,source`. `kind` is one of

- `holiday`: closed all day (`sessions` empty);
- `holiday_with_muhurat`: closed in normal hours, one "muhurat" session with the listed hours;
- `special_session`: a "special" session with the listed windows (weekend Budget days, split drill sessions);
- `special_session_unconfirmed`: provisional hours. It is still modelled as open, since missing a session is
  worse than a task finding the market shut: as "muhurat" when its note mentions Muhurat, else "special".

`sessions` is `HH:MM-HH:MM` windows joined by `;`. Weekends are closed unless listed.

Memory: pandas costs ~70 MB, more than an idle service may hold, so this module never imports it. The library
is run once in a short-lived child process (`python -m swingtrader.market.calendar OUT.json`) that writes every
year it knows to a small JSON file, kept in `cache_dir` (one file per library version) and read from then on.
"""

from __future__ import annotations

import csv
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import tempfile
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypedDict

from swingtrader.clock import IST

__all__ = ["CalendarDataMissing", "Session", "SessionKind", "TradingCalendar"]

log = logging.getLogger(__name__)

_LIBRARY = "pandas_market_calendars"
_CACHE_FORMAT = 1
_OVERRIDE_KINDS = ("holiday", "holiday_with_muhurat", "special_session", "special_session_unconfirmed")
_HOLIDAY_KINDS = ("holiday", "holiday_with_muhurat")

SessionKind = Literal["regular", "special", "muhurat"]
_Windows = tuple[tuple[time, time], ...]
_Day = tuple[SessionKind, _Windows] | None  # (kind, windows), or None for a closed day


class _LibraryData(TypedDict):
    """What the library says, as cached JSON (see `_compute_library_data`)."""

    library: str
    years: list[int]  # [first, last]
    regular: list[list[str]]  # [[since, "HH:MM-HH:MM"], ...]
    days: dict[str, tuple[Literal["special", "muhurat"], str] | None]  # ISO date -> [kind, windows] or closed


@dataclass(frozen=True)
class Session:
    """One trading session: its date, kind ("regular" | "special" | "muhurat") and aware IST windows, in order."""

    date: date
    kind: SessionKind
    windows: tuple[tuple[datetime, datetime], ...]

    @property
    def open(self) -> datetime:
        return self.windows[0][0]

    @property
    def close(self) -> datetime:
        return self.windows[-1][1]

    def contains(self, moment: datetime) -> bool:
        """True if the aware `moment` falls inside a window (start inclusive, end exclusive)."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime: every time in swingtrader must be timezone-aware")
        return any(start <= moment < end for start, end in self.windows)


class CalendarDataMissing(Exception):
    """No holiday list exists for `year`, so its sessions are unknown.

    The service refuses to guess (it would trade on holidays): commands exit 2 naming the year; the fix is to
    list the year's holidays in the calendar override file or upgrade the calendar library.
    """

    def __init__(self, year: int, known: range) -> None:
        self.year = year
        super().__init__(
            f"no NSE holiday list for {year} (calendar data covers {known.start}-{known.stop - 1}); "
            f"add {year}'s holidays to the calendar override file or upgrade {_LIBRARY}"
        )


class TradingCalendar:
    """Sessions by date; build it with `load`. Shared between threads: it changes only by `extend_with`, which
    adds years (a reload that found next year's holidays)."""

    def __init__(self, library: _LibraryData, overrides: dict[date, _Day], override_years: set[int]) -> None:
        first, last = library["years"]
        self._library_years = range(first, last + 1)
        self._regular = [(date.fromisoformat(since), _parse_windows(hours)) for since, hours in library["regular"]]
        self._days: dict[date, _Day] = {
            date.fromisoformat(day): None if rule is None else (rule[0], _parse_windows(rule[1]))
            for day, rule in library["days"].items()
        }
        self._days.update(overrides)
        self._known_years = set(self._library_years) | override_years

    @classmethod
    def load(cls, override_file: Path | None = None, cache_dir: Path | None = None) -> TradingCalendar:
        """Build the calendar from the library (cached in `cache_dir`), the shipped overrides and `override_file`.

        Raises `OSError` if a file cannot be read and `ValueError` (naming file and line) for a malformed row.
        """
        overrides: dict[date, _Day] = {}
        override_years: set[int] = set()
        shipped = resources.files("swingtrader") / "data" / "nse_calendar_overrides.csv"
        sources = [("nse_calendar_overrides.csv", shipped.read_text(encoding="utf-8"))]
        if override_file is not None:
            sources.append((str(override_file), Path(override_file).read_text(encoding="utf-8")))
        for name, text in sources:
            days, years = _parse_overrides(name, text)
            overrides.update(days)
            override_years |= years
        return cls(_library_data(cache_dir), overrides, override_years)

    def known_years(self) -> range:
        """The unbroken run of years with holiday data, around the library's own years."""
        first, stop = self._library_years.start, self._library_years.stop
        while first - 1 in self._known_years:
            first -= 1
        while stop in self._known_years:
            stop += 1
        return range(first, stop)

    def last_session(self) -> Session:
        """The last session with holiday data (in the last of `known_years`)."""
        return self._step(date(self.known_years().stop, 1, 1), timedelta(days=-1))

    def extend_with(self, newer: TradingCalendar) -> None:
        """Take `newer`'s data (a reload of the same sources that knows more years) in place, so every holder of
        this calendar sees the new years."""
        if not set(self._known_years) <= newer._known_years:
            raise ValueError("a calendar is only extended with one that knows every year it knows")
        self._regular, self._days = newer._regular, newer._days
        self._library_years, self._known_years = newer._library_years, newer._known_years

    def session(self, day: date) -> Session | None:
        """The session on `day`, or None if the market is closed. Raises `CalendarDataMissing`."""
        self._require_year(day.year)
        if day in self._days:
            rule = self._days[day]
        elif day.weekday() >= 5:
            rule = None
        else:
            rule = ("regular", self._regular_hours(day))
        if rule is None:
            return None
        kind, windows = rule
        return Session(day, kind, tuple((_at(day, start), _at(day, end)) for start, end in windows))

    def sessions(self, start: date, end: date) -> list[Session]:
        """Every session from `start` to `end`, both inclusive ([] if `end` < `start`)."""
        for year in range(start.year, end.year + 1):
            self._require_year(year)
        found = (self.session(start + timedelta(days=i)) for i in range((end - start).days + 1))
        return [s for s in found if s is not None]

    def is_trading_day(self, day: date) -> bool:
        """True if `day` has a session of any kind."""
        return self.session(day) is not None

    def next_session(self, after: date) -> Session:
        """The first session strictly after `after` (raises `CalendarDataMissing` on leaving the known years)."""
        return self._step(after, timedelta(days=1))

    def previous_session(self, before: date) -> Session:
        """The last session strictly before `before`."""
        return self._step(before, timedelta(days=-1))

    def _step(self, day: date, delta: timedelta) -> Session:
        while True:
            day += delta
            found = self.session(day)
            if found is not None:
                return found

    def _regular_hours(self, day: date) -> _Windows:
        index = bisect_right(self._regular, day, key=lambda period: period[0])
        return self._regular[max(index - 1, 0)][1]

    def _require_year(self, year: int) -> None:
        if year not in self._known_years:
            error = CalendarDataMissing(year, self.known_years())
            log.warning("%s", error)
            raise error


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=IST)


def _parse_windows(text: str) -> _Windows:
    """`"09:15-10:00;11:30-12:30"` -> ordered, non-overlapping (start, end) pairs; ValueError otherwise."""
    windows: list[tuple[time, time]] = []
    for part in text.split(";"):
        start_text, sep, end_text = part.strip().partition("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        if not sep or start >= end or (windows and start < windows[-1][1]):
            raise ValueError(f"bad session windows {text!r}")
        windows.append((start, end))
    return tuple(windows)


def _parse_overrides(name: str, text: str) -> tuple[dict[date, _Day], set[int]]:
    """Rules by date from an override CSV, and the years it gives holidays for."""
    rows = csv.DictReader(text.splitlines())
    missing = {"date", "kind", "sessions"} - set(rows.fieldnames or ())
    if missing:
        raise ValueError(f"{name}: missing column(s) {', '.join(sorted(missing))}")
    days: dict[date, _Day] = {}
    years: set[int] = set()
    for row in rows:
        try:
            day = date.fromisoformat((row["date"] or "").strip())
            if day in days:
                raise ValueError(f"{day} is listed twice")
            kind = (row["kind"] or "").strip()
            days[day] = _override_rule(kind, (row["sessions"] or "").strip(), row.get("note") or "")
        except ValueError as exc:
            raise ValueError(f"{name}:{rows.line_num}: {exc}") from None
        if kind in _HOLIDAY_KINDS:
            years.add(day.year)
    return days, years


def _override_rule(kind: str, sessions: str, note: str) -> _Day:
    if kind not in _OVERRIDE_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(_OVERRIDE_KINDS)}")
    if kind == "holiday":
        if sessions:
            raise ValueError("a holiday has no sessions")
        return None
    if not sessions:
        raise ValueError(f"a {kind} needs its sessions (HH:MM-HH:MM)")
    windows = _parse_windows(sessions)
    if kind == "holiday_with_muhurat" or (kind == "special_session_unconfirmed" and "muhurat" in note.lower()):
        return ("muhurat", windows)
    return ("special", windows)


def _library_data(cache_dir: Path | None) -> _LibraryData:
    """The library's calendar as JSON data, from `cache_dir` or computed by a child process (and then cached)."""
    name = f"xnse-v{_CACHE_FORMAT}-{_LIBRARY}-{importlib.metadata.version(_LIBRARY)}.json"
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="swingtrader-calendar-") as tmp:
            out = Path(tmp) / name
            _run_child(out)
            data: _LibraryData = json.loads(out.read_text(encoding="utf-8"))
            return data
    path = Path(cache_dir) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{name}.{os.getpid()}.partial")
        _run_child(partial)
        partial.replace(path)
    cached: _LibraryData = json.loads(path.read_text(encoding="utf-8"))
    return cached


def _run_child(out: Path) -> None:
    log.info("computing NSE sessions with %s in a child process", _LIBRARY)
    command = [sys.executable, "-m", __name__, str(out)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError("calendar child process did not finish in 120 s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"calendar child process failed (exit {done.returncode}): {tail[0]}")


def _compute_library_data() -> _LibraryData:
    """Run the library (imports pandas: child process only) and reduce it to what differs from plain weekdays.

    `days` maps each weekday without a session to None, and each session on a weekend or with hours other than
    its era's regular hours to (kind, windows); a late opening is a Muhurat session in XNSE's data.
    """
    import pandas_market_calendars as mcal

    cal = mcal.get_calendar("XNSE")
    holidays = cal.holidays().holidays
    first, last = int(str(min(holidays))[:4]), int(str(max(holidays))[:4])
    regular = _regular_periods(cal.regular_market_times, date(first, 1, 1))
    schedule = cal.schedule(f"{first}-01-01", f"{last}-12-31", tz=IST.key)
    opens, closes = (schedule[column].dt.strftime("%H:%M") for column in ("market_open", "market_close"))
    sessions = dict(zip(schedule.index.strftime("%Y-%m-%d"), zip(opens, closes, strict=True), strict=True))
    days: dict[str, tuple[Literal["special", "muhurat"], str] | None] = {}
    day = date(first, 1, 1)
    while day.year <= last:
        key = day.isoformat()
        hours = sessions.get(key)
        regular_hours = [period for since, period in regular if since <= key][-1]
        if hours is None and day.weekday() < 5:
            days[key] = None
        elif hours is not None and (day.weekday() >= 5 or "-".join(hours) != regular_hours):
            days[key] = ("muhurat" if hours[0] > regular_hours[:5] else "special", "-".join(hours))
        day += timedelta(days=1)
    return {"library": f"{_LIBRARY} {mcal.__version__}", "years": [first, last], "regular": regular, "days": days}


def _regular_periods(times: Mapping[str, Any], origin: date) -> list[list[str]]:
    """[[since, "HH:MM-HH:MM"], ...] from the library's `regular_market_times` (entries `(since | None, time)`)."""
    start = origin.isoformat()
    changes = sorted({e[0] for key in ("market_open", "market_close") for e in times[key] if e[0] and e[0] > start})

    def on(key: str, day: str) -> str:
        moment: time = [entry[1] for entry in times[key] if entry[0] is None or entry[0] <= day][-1]
        return moment.strftime("%H:%M")

    return [[since, f"{on('market_open', since)}-{on('market_close', since)}"]
            for since in [start, *changes]]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m swingtrader.market.calendar OUT.json")
    Path(sys.argv[1]).write_text(json.dumps(_compute_library_data()), encoding="utf-8")
