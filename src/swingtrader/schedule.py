"""The daily plan as data, the catch-up rules, and the scheduler loop.

Slots of a regular session (times IST):
    premarket_retry      09:00          runnable until the session opens, then `missed`
    place_sell_orders    09:15          runnable until the session closes
    monitor_sell_orders  every minute from the open to the close (exclusive): 375 slots
    position_monitor     hourly from 09:30 while before the close: 09:30 .. 14:30
    analysis             16:00          runnable until the next session's pre-open (09:00)
    place_buy_orders     16:05          same deadline, and only after that day's `analysis` succeeded
    eod_cleanup          18:00          same deadline
A daily task that fails on a transient broker error (unavailable, rate limited, ...) is retried up to
twice, 30 s apart, within its deadline.
Catch-up: a slot whose deadline has passed is recorded `missed` (daily tasks, or intraday ones after the
close) or `skipped` (an intraday slot superseded by a later one): a late start runs the latest monitor slot
and records the earlier ones, so nothing silently vanishes. A slow task makes later slots run late or be
skipped the same way. A slot whose deadline passed before the store existed (`Scheduler.born`) is not
recorded at all: a fresh store has no missed days from before it was made. On special sessions only
`special_session_tasks` run (default: monitoring), with the
intraday slots inside the session's windows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from swingtrader.clock import IST, Clock, ist_date
from swingtrader.market.calendar import CalendarDataMissing
from swingtrader.store.db import StoreError
from swingtrader.store.ledger import FINAL, Ledger, RunStatus, SlotTaken
from swingtrader.task_names import TASK_NAMES

if TYPE_CHECKING:
    from swingtrader.market.calendar import TradingCalendar

Unrun = tuple[str, date, str, RunStatus, datetime, str]
"""A slot recorded without running: (task, trading date, slot, missed | skipped, scheduled at, reason)."""

log = logging.getLogger(__name__)

TASKS = TASK_NAMES
PREOPEN = timedelta(minutes=15)


class StopRequested(Exception):
    """Raised by a task that a stop request interrupted (while it waited): the slot is left `running`, so the
    next start claims and runs it again; nothing is recorded as failed."""


@dataclass(frozen=True)
class TaskSpec:
    """One line of the plan: a daily task `at` a time, or (`every` set) an intraday task repeated inside the
    session windows; exactly one of the two."""

    name: str
    at: time | None = None
    every: timedelta | None = None
    first_offset: timedelta = timedelta(0)
    deadline: str = "next_preopen"  # "open" | "close" | "next_preopen" | "next_slot"
    requires: str | None = None

    def __post_init__(self) -> None:
        if (self.at is None) == (self.every is None):
            raise ValueError(f"task {self.name}: give exactly one of `at` and `every`")

    @property
    def interval(self) -> timedelta:
        """How often an intraday task repeats (`every`); a daily task has none."""
        if self.every is None:
            raise ValueError(f"task {self.name} is a daily task")
        return self.every


DEFAULT_PLAN: tuple[TaskSpec, ...] = (
    TaskSpec("premarket_retry", at=time(9, 0), deadline="open"),
    TaskSpec("place_sell_orders", at=time(9, 15), deadline="close"),
    TaskSpec("monitor_sell_orders", every=timedelta(minutes=1), deadline="next_slot"),
    TaskSpec("position_monitor", every=timedelta(hours=1), first_offset=timedelta(minutes=15), deadline="next_slot"),
    TaskSpec("analysis", at=time(16, 0)),
    TaskSpec("place_buy_orders", at=time(16, 5), requires="analysis"),
    TaskSpec("eod_cleanup", at=time(18, 0)),
)


@dataclass(frozen=True)
class Slot:
    task: str
    trading_date: date
    slot: str
    at: datetime
    deadline: datetime
    requires: str | None
    intraday: bool
    session_close: datetime


class Plan:
    """Turns sessions into ordered slots."""

    def __init__(self, calendar: TradingCalendar, special_session_tasks: tuple[str, ...],
                 specs: tuple[TaskSpec, ...] = DEFAULT_PLAN) -> None:
        self._calendar = calendar
        self._special = frozenset(special_session_tasks)
        self._specs = specs
        self._cache: dict[date, list[Slot]] = {}

    def slots(self, day: date) -> list[Slot]:
        """Every slot of the trading day `day`, in run order ([] on a closed day)."""
        if day not in self._cache:
            self._cache[day] = self._build(day)
            if len(self._cache) > 8:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[day]

    def forget(self) -> None:
        """Drop the slots built so far (the calendar learnt new days)."""
        self._cache.clear()

    def _build(self, day: date) -> list[Slot]:
        session = self._calendar.session(day)
        if session is None:
            return []
        try:
            next_open = self._calendar.next_session(day).open
        except CalendarDataMissing as exc:  # the last session of the last known year
            next_open = _next_weekday_open(day)
            log.warning("%s: the evening tasks of %s assume the next weekday opens at 09:15", exc, day)
        next_preopen = next_open - PREOPEN
        out: list[tuple[datetime, int, Slot]] = []
        for order, spec in enumerate(self._specs):
            if session.kind != "regular" and spec.name not in self._special:
                continue
            if spec.at is not None:
                at = datetime.combine(day, spec.at, tzinfo=IST)
                if session.kind != "regular" and at < session.open - PREOPEN:
                    at = session.open if spec.deadline != "open" else session.open - PREOPEN
                deadline = {"open": session.open, "close": session.close, "next_preopen": next_preopen}[spec.deadline]
                out.append((at, order, Slot(spec.name, day, at.strftime("%H:%M"), at, deadline, spec.requires,
                                            False, session.close)))
                continue
            times = [
                moment
                for start, end in session.windows
                for moment in _steps(start + spec.first_offset, end, spec.interval)
            ]
            for i, at in enumerate(times):
                deadline = times[i + 1] if i + 1 < len(times) else session.close
                out.append((at, order, Slot(spec.name, day, at.strftime("%H:%M"), at, deadline, None, True,
                                            session.close)))
        out.sort(key=lambda x: (x[0], x[1]))
        return [s for _, _, s in out]


def _next_weekday_open(day: date) -> datetime:
    nxt = day + timedelta(days=1)
    while nxt.weekday() >= 5:
        nxt += timedelta(days=1)
    return datetime.combine(nxt, time(9, 15), tzinfo=IST)


def _steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out = []
    moment = start
    while moment < end:
        out.append(moment)
        moment += step
    return out


class SlotSkipped(Exception):
    """Raised by a task that can do nothing now (e.g. for want of prices): the slot is recorded `skipped`
    with the message as its reason, and is not retried."""


class Scheduler:
    """Runs the plan's slots through the ledger: each exactly once, in order, with the catch-up rules."""

    def __init__(
        self,
        plan: Plan,
        ledger: Ledger,
        clock: Clock,
        calendar: TradingCalendar,
        run_task: Callable[[Slot], dict[str, Any] | None],
        *,
        stop: threading.Event | None = None,
        heartbeat: Callable[[], None] | None = None,
        heartbeat_interval: timedelta | None = None,
        on_next: Callable[[Slot], None] | None = None,
        on_day: Callable[[date, list[Slot]], None] | None = None,
        redact: Callable[[str], str] = str,
        transient: tuple[type[Exception], ...] = (),
        retries: int = 2,
        retry_delay: timedelta = timedelta(seconds=30),
        fast_forward: Callable[[Slot, Sequence[Slot]], tuple[int, dict[str, Any] | None]] | None = None,
    ) -> None:
        """`fast_forward(slot, following)` (virtual clocks only): called after `slot` ran and succeeded, with
        the rest of that day's slots; returns how many of the first of them are proven to change nothing if
        run, and the detail such a run returns. The scheduler records those as succeeded without running
        them (same rows as running them), unless a row exists already."""
        self._plan = plan
        self._ledger = ledger
        self._clock = clock
        self._calendar = calendar
        self._run_task = run_task
        self.stop = stop or threading.Event()
        self._heartbeat = heartbeat or (lambda: None)
        self._beat = heartbeat_interval
        self._on_next = on_next or (lambda _s: None)
        self._on_day = on_day or (lambda _d, _s: None)
        self._redact = redact
        self._transient = transient
        self._retries = retries
        self._retry_delay = retry_delay
        self._fast_forward = fast_forward
        self.run_lock = threading.Lock()  # one task at a time: scheduled slots and manual runs alike
        self.born: datetime | None = None  # when the store was made: slots over before then are not recorded
        self.on_new_day: Callable[[date], None] = lambda _d: None  # each session day as the loop reaches it
        self.day_unit: Callable[[], AbstractContextManager[None]] | None = None
        """A simulation's unit of durability (`Store.unit`): when set, each session day's slots run inside one
        unit, committed with the day's ledger rows at the day's end; a crash mid-day resumes from its start."""
        self.on_calendar_end: Callable[[CalendarDataMissing], bool] | None = None
        """Called when the next session is in a year without holiday data: returns True once it is known, False on
        a stop request. Without it, `run` raises `CalendarDataMissing` there."""

    def run(self, *, start_day: date | None = None, until: datetime | None = None) -> None:
        """Run slots from `start_day` (default: the previous session, to catch its evening tasks) until
        `until` (exclusive) or a stop request. On reaching a year without holiday data, after the last known
        session's tasks ran, it calls `on_calendar_end` (or raises `CalendarDataMissing`): guessing the
        exchange's days is not safe."""
        try:
            while not self._run_through_store_faults(start_day, until):
                pass
        finally:
            self._ledger.flush()

    def _run_through_store_faults(self, start_day: date | None, until: datetime | None) -> bool:
        """`_run`; True when it ended. On a live clock a locked or full store (`StoreError`) pauses the loop for
        a minute and returns False, to carry on from the ledger; on a virtual clock it is raised."""
        try:
            self._run(start_day, until)
            return True
        except StoreError as exc:
            if self._beat is None:
                raise
            log.error("the store failed (%s); the scheduler carries on in a minute", exc)
            self._heartbeat()
            return not self._clock.sleep_until(self._clock.now() + timedelta(minutes=1), self.stop)

    def _run(self, start_day: date | None, until: datetime | None) -> None:
        now = self._clock.now()
        day = start_day or self._calendar.previous_session(ist_date(now)).date
        if self._calendar.session(day) is None:
            day = self._calendar.next_session(day).date
        while not self.stop.is_set():
            with self._session_day():
                if not self._run_day(day, until):
                    return
            following = self._next_session(day)
            if following is None:
                return
            day = following

    @contextmanager
    def _session_day(self) -> Iterator[None]:
        """The day's `day_unit`, its buffered ledger rows written inside it (dropped with it on an error)."""
        if self.day_unit is None:
            yield
            return
        with self.day_unit():
            try:
                yield
            except BaseException:
                self._ledger.discard()
                raise
            self._ledger.flush()

    def _run_day(self, day: date, until: datetime | None) -> bool:
        """The slots of session `day`; False when the run ends within it (`until`, a stop request)."""
        self.on_new_day(day)
        self._on_day(day, self._plan.slots(day))
        statuses = self._ledger.statuses(day)
        pending_unrun: list[Unrun] = []
        slots = self._plan.slots(day)
        idle, idle_detail = 0, None
        for i, slot in enumerate(slots):
            if self.stop.is_set():
                break
            if statuses.get((slot.task, slot.slot)) in FINAL:
                idle = 0
                continue
            if until is not None and slot.at >= until:
                self._flush(pending_unrun)
                return False
            if slot.at > self._clock.now():
                self._flush(pending_unrun)
                pending_unrun = []
                self._on_next(slot)
                if not self._wait(slot.at):
                    return False
            status: RunStatus | None
            if idle > 0 and (slot.task, slot.slot) not in statuses and self._clock.now() < slot.deadline:
                idle -= 1
                self._flush(pending_unrun)
                status = self._record_idle(slot, idle_detail)
            else:
                idle = 0
                status = self._process(slot, statuses, pending_unrun)
                if status is RunStatus.SUCCEEDED and self._fast_forward is not None:
                    idle, idle_detail = self._fast_forward(slot, slots[i + 1:])
            if status is not None:
                statuses[(slot.task, slot.slot)] = status
            self._heartbeat()
        self._flush(pending_unrun)
        return not self.stop.is_set()

    def _next_session(self, day: date) -> date | None:
        """The session after `day`; at the end of the calendar's data, once `on_calendar_end` found more (None:
        stop requested while it waited)."""
        while True:
            try:
                return self._calendar.next_session(day).date
            except CalendarDataMissing as exc:
                if self.on_calendar_end is None:
                    raise
                if not self.on_calendar_end(exc):
                    return None
                self._plan.forget()

    def _flush(self, rows: list[Unrun]) -> None:
        if rows:
            self._ledger.record_unrun_many(rows, self._clock.now())
            rows.clear()

    def _wait(self, moment: datetime) -> bool:
        if self._beat is None:  # a virtual clock: no time passes, the ledger keeps its buffer
            return self._clock.sleep_until(moment, self.stop)
        self._ledger.flush()  # a live wait: everything that ran is on disk first
        while self._clock.now() < moment:
            step = min(moment, self._clock.now() + self._beat)
            if not self._clock.sleep_until(step, self.stop):
                return False
            self._heartbeat()
        return True

    def _record_idle(self, slot: Slot, detail: dict[str, Any] | None) -> RunStatus:
        """Record a slot `fast_forward` proved idle, as running it would (see `_execute`)."""
        now = self._clock.now()
        self._ledger.record_run(slot.task, slot.trading_date, slot.slot, RunStatus.SUCCEEDED, slot.at, now, now,
                                detail=detail)
        return RunStatus.SUCCEEDED

    def _process(
        self, slot: Slot, statuses: dict[tuple[str, str], RunStatus], unrun: list[Unrun]
    ) -> RunStatus | None:
        now = self._clock.now()
        if now >= slot.deadline:
            if self.born is not None and slot.deadline <= self.born:
                return None  # over before the store existed: nothing to account for
            status = RunStatus.MISSED if (not slot.intraday or now >= slot.session_close) else RunStatus.SKIPPED
            reason = "deadline passed" if status is RunStatus.MISSED else "superseded by a later slot"
            unrun.append((slot.task, slot.trading_date, slot.slot, status, slot.at, reason))
            return status
        if slot.requires is not None:
            required = [s for (task, _), s in statuses.items() if task == slot.requires]
            if RunStatus.SUCCEEDED not in required:
                self._flush(unrun)
                self._ledger.record_unrun(slot.task, slot.trading_date, slot.slot, RunStatus.SKIPPED, slot.at, now,
                                          f"{slot.requires} did not succeed today")
                return RunStatus.SKIPPED
        self._flush(unrun)
        return self.execute(slot, known_absent=(slot.task, slot.slot) not in statuses)

    def execute(self, slot: Slot, *, manual: bool = False, known_absent: bool = False) -> RunStatus:
        """Claim, run and record one slot. A task's exception is recorded as a failure, never raised.
        An intraday slot known to have no row is recorded in one write after it ran (see `store.ledger`)."""
        with self.run_lock:
            return self._execute(slot, manual=manual, known_absent=known_absent)

    def _execute(self, slot: Slot, *, manual: bool, known_absent: bool) -> RunStatus:
        now = self._clock.now()
        if known_absent and slot.intraday and not manual:
            try:
                status, error, detail, _ = self._call(slot)
            except StopRequested:
                return RunStatus.RUNNING  # no row: the slot is still to run
            self._ledger.record_run(slot.task, slot.trading_date, slot.slot, status, slot.at, now,
                                    self._clock.now(), error=error, detail=detail)
            return status
        try:
            claim = self._ledger.claim(slot.task, slot.trading_date, slot.slot, slot.at, now, manual=manual)
        except SlotTaken as taken:
            return RunStatus(taken.status)
        for attempt in range(self._retries + 1):
            try:
                status, error, detail, transient = self._call(slot)
            except StopRequested as stopped:
                log.info("%s %s %s: %s; it runs again at the next start", slot.task, slot.trading_date, slot.slot,
                         stopped)
                return RunStatus.RUNNING
            if status is RunStatus.SUCCEEDED or not transient or attempt == self._retries:
                break
            retry_at = self._clock.now() + self._retry_delay
            if retry_at >= slot.deadline or not self._clock.sleep_until(retry_at, self.stop):
                break
            log.warning("retrying %s %s after a transient failure (%s)", slot.task, slot.slot, error)
        self._ledger.finish(claim, status, self._clock.now(), error=error, detail=detail)
        return status

    def _call(self, slot: Slot) -> tuple[RunStatus, str | None, dict[str, Any] | None, bool]:
        """Run the task; (status, error, detail, whether the failure was transient)."""
        try:
            detail = self._run_task(slot)
        except StopRequested:
            raise
        except SlotSkipped as exc:
            log.warning("task %s %s %s skipped: %s", slot.task, slot.trading_date, slot.slot, exc)
            return RunStatus.SKIPPED, self._redact(str(exc)), None, False
        except StoreError as exc:  # the store cannot take the outcome either: the loop pauses, the slot runs again
            log.warning("task %s %s %s stopped: the store failed (%s); it runs again when the store takes writes",
                        slot.task, slot.trading_date, slot.slot, exc)
            raise
        except Exception as exc:  # invariant: one task failing never stops the loop
            log.exception("task %s %s %s failed", slot.task, slot.trading_date, slot.slot)
            error = self._redact(f"{type(exc).__name__}: {exc}")
            return RunStatus.FAILED, error, None, isinstance(exc, self._transient)
        return RunStatus.SUCCEEDED, None, detail, False
