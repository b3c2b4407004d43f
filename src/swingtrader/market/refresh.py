"""The service's daily data refresh: keep the bars of a long-running process current with their source.

- `LiveBars` is the `BarSource` the service holds; `adopt` swaps in newer bars (its `generation` counts swaps).
- `DataFeed.refresh()` re-reads a file or directory source when it changed (size and mtime of the file, or of
  every `*.csv` of the directory: the `bar_cache` key), parsing in a child process as at start-up, so the
  service never imports pandas. A directory is read only when settled (its files agree on the newest day, or
  did not change between two looks `settle` seconds apart), and a copy whose files changed while parsed is
  dropped: a half-written day never reaches the analysis. The cache keeps two entries per source (`prune`);
  `yfinance` is fetched (in a child) only when a wanted day is missing. A source
  that cannot be read keeps the bars held so far.
- `DataFeed.require(day, deadline)` is the analysis' precondition: it refreshes until `day` has bars, retrying
  every `RETRY` until `data_wait_minutes` after the call or the slot's deadline, whichever is first; then it
  notifies `DATA_MISSING` and raises `DataMissing("no_data_for_as_of: DAY")`, so the analysis is `failed`.
  A source that cannot change (generated, `bundled`, a single file) is not waited on, and a day after its
  newest bar is `skipped` (`SlotSkipped("prices end DAY: nothing new to analyse ...")`), not failed: a day
  it lacks within its span is still a failure. The wait is published
  (`ServiceState.waiting`, with the real next slot) for `status` and the dashboard; a stop request during it
  raises `StopRequested`, which leaves the slot to run again at the next start.
- `FreshPath` is the paper exchange's price path over `LiveBars`: it follows each swap, and has no price (so no
  fill and no quote) on a day whose newest bar is more than `paper_max_price_age_days` trading days old.
- After each refresh the newest bar's day and its age in trading days are published in the store
  (`ServiceState.prices`) for `status` and the dashboard.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from swingtrader.broker.prices import BarLookup, IntradayPath
from swingtrader.clock import IST, ist_date
from swingtrader.market import bar_cache
from swingtrader.market.bar_cache import PARSE_MODULE
from swingtrader.market.bars import open_bar_source
from swingtrader.market.panel import BarSource, DataFileError
from swingtrader.market.panel import select_symbols as _select
from swingtrader.notify import NotificationKind
from swingtrader.schedule import Plan, SlotSkipped, StopRequested

if TYPE_CHECKING:
    from swingtrader.clock import Clock
    from swingtrader.config import Settings
    from swingtrader.market.calendar import TradingCalendar
    from swingtrader.store.db import Store

log = logging.getLogger(__name__)

RETRY = timedelta(minutes=5)
"""How often `require` tries again while the day's bars are missing."""


class DataMissing(Exception):
    """The bars of the day an analysis needs were not there by its deadline."""


class LiveBars(BarSource):
    """A `BarSource` whose content can be replaced while the service holds it (one task at a time does)."""

    def __init__(self, source: BarSource) -> None:
        super().__init__(source.panel(), name=source.name, warnings=source.warnings)
        self.generation = 0

    def adopt(self, source: BarSource) -> None:
        """Hold `source`'s bars from now on."""
        super().__init__(source.panel(), name=self.name, warnings=source.warnings)
        self.generation += 1

    def last_day(self) -> date:
        return date.fromisoformat(str(self.panel().dates[-1]))

    def has_day(self, day: date) -> bool:
        """Whether any symbol has a bar on `day`."""
        return day in self._row


class DataFeed:
    """Keeps `bars` current with the source `spec` (see the module docstring)."""

    def __init__(
        self, spec: str, bars: LiveBars, *, clock: Clock, calendar: TradingCalendar, cache_dir: Path,
        symbols: list[str] | None = None, wait: timedelta = timedelta(minutes=90),
        fetch: Callable[[], BarSource] | None = None,
    ) -> None:
        """`fetch` loads the whole source anew (default: from `spec`); it is called for `yfinance` only when a
        wanted day is missing, for a file source whenever its size or mtime changed."""
        self.bars, self.wait = bars, wait
        self._clock, self._calendar, self._cache_dir, self._symbols = clock, calendar, cache_dir, symbols
        self._path = _path_of(spec)
        self._spec, self._remote, self._bundled = spec, spec == "yfinance", spec == "bundled"
        self._fetch = fetch or (self._fetch_yfinance if self._remote else self._load_path)
        self._seen = self._key() if self._path is not None else None
        self.notify: Callable[[NotificationKind, str, str], None] = lambda _k, _t, _b: None
        self.heartbeat: Callable[[], None] = lambda: None
        self.heartbeat_every = timedelta(seconds=5)  # how often `heartbeat` is called while waiting
        self.publish: Callable[[date, int], None] = lambda _d, _n: None
        self.waiting: Callable[[date, datetime], None] = lambda _d, _u: None  # `require` waits for `day` until
        self.waited: Callable[[], None] = lambda: None
        self.on_change: Callable[[], None] = lambda: None
        self.stop: threading.Event | None = None
        self.settle = 1.0  # real seconds between two looks at a directory whose files disagree on the newest day
        self._bad: str | None = None

    # ---- refresh -----------------------------------------------------------------------------------------------
    def refresh(self, want: date | None = None) -> bool:
        """Re-read the source if it changed (a remote one: if `want` has no bars); True if new bars came in.
        `DataFileError` if the source cannot be read (the bars held so far stay)."""
        if self._remote:
            if want is None or self.bars.has_day(want):
                return False
            self._adopt(self._fetch())
            return True
        if self._path is None:  # generated bars never change
            return False
        key = self._key()
        if key == self._seen:
            return False
        if key is None or not self._settled(key):
            return False  # a downloader is still writing: the next refresh looks again
        source = self._fetch()
        if self._key() != key:  # files changed while they were parsed: drop that copy, keep the bars held
            log.info("market data in %s changed while read; keeping the bars up to %s", self._path,
                     self.bars.last_day())
            bar_cache.remove(key)
            return False
        self._adopt(source)
        self._seen = key
        self.prune()
        return True

    def prune(self) -> None:
        """Remove the source's older cache entries (current and one before stay; see `bar_cache.prune`)."""
        if self._path is not None and self._seen is not None:
            bar_cache.prune(self._path, self._cache_dir, self._seen)

    def _settled(self, key: Path) -> bool:
        """Whether the directory source is safe to read: every file's newest day is the same, or the files did
        not change between two looks `settle` seconds apart (a symbol may rightly lack the newest day)."""
        assert self._path is not None
        if not self._path.is_dir() or newest_days_agree(self._path):
            return True
        pause = self.stop if self.stop is not None else threading.Event()
        if pause.wait(self.settle):
            return False
        settled = self._key() == key
        if not settled:
            log.info("market data in %s is being written; reading it when it settles", self._path)
        return settled

    def refresh_quietly(self) -> None:
        """`refresh`, a failure logged once (before each task: intraday prices follow the file)."""
        try:
            self.refresh()
            self._bad = None
        except DataFileError as exc:
            if str(exc) != self._bad:
                log.warning("market data not refreshed, keeping the bars up to %s: %s", self.bars.last_day(), exc)
            self._bad = str(exc)
        self.publish_age()

    def require(self, day: date, deadline: datetime) -> None:
        """Return once `day` has bars; else keep refreshing until `wait` from now or `deadline`, then notify
        and raise `DataMissing`. A source that cannot change (`static`) is not waited on, and raises
        `SlotSkipped` (no notification) for a day after its newest bar. While waiting,
        `waiting(day, until)` is told, and `waited()` after; a stop request raises `StopRequested`."""
        until = self._clock.now() if self.static else min(deadline, self._clock.now() + self.wait)
        problem, told = "", False
        try:
            while True:
                try:
                    self.refresh(want=day)
                    problem = ""
                except DataFileError as exc:
                    problem = f" ({exc})"
                self.publish_age()
                if self.bars.has_day(day):
                    return
                retry_at = self._clock.now() + RETRY
                if retry_at > until:
                    break
                if not told:
                    log.info("analysis of %s waits for its bars in %s until %s", day, self.bars.name,
                             f"{until.astimezone(IST):%Y-%m-%d %H:%M} IST")
                    self.waiting(day, until)
                    told = True
                if not self._sleep(retry_at):
                    raise StopRequested(f"stopped while the analysis of {day} waited for its bars")
        finally:
            if told:
                self.waited()
        if self.static and day > self.bars.last_day():  # nothing can arrive: not a failure, every evening
            raise SlotSkipped(f"prices end {self.bars.last_day()}: nothing new to analyse ({self.bars.name} "
                              "does not change: see the start banner)")
        reason = f"no_data_for_as_of: {day.isoformat()}"
        detail = f"{reason}: newest bars are of {self.bars.last_day()} in {self.bars.name}{problem}"
        log.error("analysis of %s: %s", day, detail)
        self.notify(NotificationKind.DATA_MISSING, f"no market data for {day}", detail)
        raise DataMissing(detail)

    def banner(self, mode: str) -> str:
        """The start banner: the source, its newest day and what that means (`startup.data_banner`)."""
        from swingtrader.startup import data_banner

        source = {"bundled": "the bundled Nifty 50 sample", "synthetic": "synthetic bars"}.get(self._spec, self._spec)
        return data_banner(source, self.static, self.bars.last_day(), self.age(ist_date(self._clock.now())), mode)

    @property
    def static(self) -> bool:
        """Whether the source cannot gain bars: generated, the bundled sample or a single file."""
        return not self._remote and (self._path is None or self._bundled or not self._path.is_dir())

    def age(self, day: date) -> int:
        """Trading days from the newest bar to `day` (0: `day` has bars; 1: the newest is the session before)."""
        last = self.bars.last_day()
        return 0 if day <= last else len(self._calendar.sessions(last + timedelta(days=1), day))

    def publish_age(self) -> None:
        self.publish(self.bars.last_day(), self.age(ist_date(self._clock.now())))

    def _sleep(self, moment: datetime) -> bool:
        while self._clock.now() < moment:
            if not self._clock.sleep_until(min(moment, self._clock.now() + self.heartbeat_every), self.stop):
                return False
            self.heartbeat()
        return True

    def _adopt(self, source: BarSource) -> None:
        before = self.bars.last_day()
        self.bars.adopt(source)
        self.on_change()
        log.info("market data refreshed: newest bars %s (were %s)", self.bars.last_day(), before)

    # ---- sources -----------------------------------------------------------------------------------------------
    def _key(self) -> Path | None:
        assert self._path is not None
        try:
            return bar_cache.cache_file(self._path, self._cache_dir)
        except OSError:
            return None

    def _load_path(self) -> BarSource:
        return open_bar_source(str(self._path), cache_dir=self._cache_dir, symbols=self._symbols,
                               parse_in_child=True)

    def _fetch_yfinance(self) -> BarSource:
        """Download in a child process (yfinance and pandas stay out of the service)."""
        with tempfile.TemporaryDirectory(prefix="swingtrader-yf-") as tmp:
            out = Path(tmp) / "bars.npz"
            proc = subprocess.run([sys.executable, "-m", PARSE_MODULE, "yfinance", str(out)],
                                  capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines()
                raise DataFileError(lines[-1] if lines else "yfinance: download failed")
            return _select(bar_cache.load(out, name="yfinance"), self._symbols)


def newest_days_agree(directory: Path) -> bool:
    """Whether every `*.csv` in `directory` ends on the same date (read from each file's last line, so cheap);
    False when one cannot be read or has no rows."""
    days = set()
    for f in directory.glob("*.csv"):
        try:
            day = _last_date(f)
        except OSError:
            return False
        if day is None:
            return False
        days.add(day)
        if len(days) > 1:
            return False
    return True


def _last_date(path: Path) -> str | None:
    """The `date` field of the file's last row (None: no such column or no row)."""
    with path.open("rb") as f:
        header = f.readline().decode(errors="replace").strip().split(",")
        if "date" not in header:
            return None
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    if len(lines) < 2 and size <= 4096:
        return None
    fields = lines[-1].split(",") if lines else []
    i = header.index("date")
    return fields[i].strip() if len(fields) == len(header) else None


def _path_of(spec: str) -> Path | None:
    if spec == "bundled":
        return Path(str(resources.files("swingtrader") / "data" / "nifty50.csv.gz"))
    if spec in ("synthetic", "yfinance"):
        return None
    return Path(spec)


class FreshPath(IntradayPath):
    """The paper exchange's intraday path over `LiveBars`: rebuilt after each swap, and without prices on a day
    whose newest bar is more than `max_age` trading days old (so no fill, no quote; orders wait)."""

    def __init__(
        self, bars: LiveBars, session_bounds: Callable[[date], tuple[datetime, datetime] | None],
        calendar: TradingCalendar, max_age: int,
    ) -> None:
        super().__init__(BarLookup(bars), session_bounds)
        self._live, self._generation = bars, bars.generation
        self._calendar, self._max_age = calendar, max_age
        self._ages: dict[tuple[date, date], int] = {}

    def price_at(self, symbol: str, day: date, moment: datetime) -> Decimal | None:
        return None if self._stale(day) else super().price_at(symbol, day, moment)

    def range_between(self, symbol: str, day: date, t0: datetime, t1: datetime) -> tuple[Decimal, Decimal] | None:
        return None if self._stale(day) else super().range_between(symbol, day, t0, t1)

    def prev_close(self, symbol: str, day: date) -> Decimal | None:
        self._follow()
        return super().prev_close(symbol, day)

    def _stale(self, day: date) -> bool:
        self._follow()
        last = self._live.last_day()
        key = (last, day)
        if key not in self._ages:
            self._ages = {key: 0 if day <= last else len(self._calendar.sessions(last + timedelta(days=1), day))}
        return self._ages[key] > self._max_age

    def _follow(self) -> None:
        if self._generation != self._live.generation:
            self._generation = self._live.generation
            self._bars = BarLookup(self._live)
            self._cache.clear()


class _HostHooks(Protocol):
    @property
    def heartbeat(self) -> Callable[[], None]: ...
    @property
    def heartbeat_every(self) -> timedelta: ...


class _HostContext(Protocol):
    feed: DataFeed | None

    def forget_snapshots(self) -> None: ...


class FeedHost(Protocol):
    """What `attach_feed` needs of the service that holds the feed (`service.Service` is one): the feed owns this
    protocol, so it does not import the service that imports the tasks that import it."""

    clock: Clock
    calendar: TradingCalendar
    store: Store
    plan: Plan
    stop_event: threading.Event

    @property
    def hooks(self) -> _HostHooks: ...
    @property
    def context(self) -> _HostContext: ...
    def notify(self, kind: NotificationKind, title: str, body: str) -> None: ...


def attach_feed(service: FeedHost, settings: Settings, bars: LiveBars) -> DataFeed:
    """Give `service` a feed over `bars` (the bars it was built with): refreshed before every task, required by
    the analysis; alerts, heartbeat and stop request are the service's."""
    from swingtrader.store.state import ServiceState

    feed = DataFeed(settings.data, bars, clock=service.clock, calendar=service.calendar,
                    cache_dir=Path(settings.data_dir) / "cache", symbols=settings.universe or None,
                    wait=timedelta(minutes=settings.data_wait_minutes))
    state, published = ServiceState(service.store), list[tuple[date, int]]()

    def publish(last: date, age: int) -> None:
        if published != [(last, age)]:
            state.set_prices(last, age, service.clock.now())
            published[:] = [(last, age)]

    feed.notify, feed.heartbeat, feed.stop = service.notify, service.hooks.heartbeat, service.stop_event
    feed.heartbeat_every = service.hooks.heartbeat_every
    feed.publish, feed.on_change = publish, service.context.forget_snapshots

    def waiting(day: date, until: datetime) -> None:
        now = service.clock.now()
        state.set_waiting({"task": "analysis", "for": f"bars of {day} in {bars.name}",
                           "until": f"{until.astimezone(IST):%Y-%m-%d %H:%M} IST"}, now)
        slots = service.plan.slots(day)
        tasks = [s.task for s in slots]
        if "analysis" in tasks and tasks.index("analysis") + 1 < len(slots):  # the real next task, not the analysis
            after = slots[tasks.index("analysis") + 1]
            state.set_next_slot(after.task, after.at, now)

    feed.waiting, feed.waited = waiting, lambda: state.set_waiting({}, service.clock.now())
    service.context.feed = feed
    feed.prune()  # copies left by earlier runs
    feed.publish_age()
    return feed
