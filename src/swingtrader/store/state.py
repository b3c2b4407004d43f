"""`ServiceState`: typed access to the `service_state` key/value table.

Each key has one typed getter and one setter here, and nothing else reads or writes the table. Values are
validated on read: a value of the wrong shape (a hand edit, an older release) is logged and read as absent,
except `paused`, which then reads as True so that new orders stay stopped until someone resumes them.
Every method takes an optional connection to run inside the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, func, select

from swingtrader.store import tables as t
from swingtrader.store.db import Store

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class StateKey(StrEnum):
    PAUSED = "paused"  # bool: new orders paused from the dashboard
    MODE = "mode"  # str: the mode label of the service that last started on this store
    NEXT_SLOT = "next_slot"  # {"task", "at"}: the scheduler's next slot
    PLAN = "plan"  # {"date", "slots": [{"task", "slot", "at"}]}: today's plan
    HEARTBEAT = "heartbeat"  # ISO time of the scheduler's last loop
    ACCOUNT = "account"  # {"at", "cash", "marks", "fills_upto"}: the broker's account at the last reconciliation
    SIMULATION = "simulation"  # {"start", "end", "data", "capital"}: the simulation this store holds
    PRICES = "prices"  # {"as_of", "age_days"}: the newest bars the service holds and their age in trading days
    QUOTES = "quotes"  # {"at", "checked", "max_age_seconds"}: paper mode's broker quotes (paper_prices=broker)
    PERFORMANCE = "performance"  # the simulation report's performance fields (`swingtrader.performance`)
    CALENDAR = "calendar"  # {"last_session", "sessions_left", "idle"}: how far the exchange calendar reaches
    WAITING = "waiting"  # {"task", "for", "until"} while a task waits ({} when none): `swingtrader.waiting`


@dataclass(frozen=True)
class NextSlot:
    task: str
    at: datetime


@dataclass(frozen=True)
class PlannedSlot:
    task: str
    slot: str
    at: datetime


@dataclass(frozen=True)
class PublishedPlan:
    day: date
    slots: tuple[PlannedSlot, ...]


@dataclass(frozen=True)
class PriceAge:
    """The newest bars of the running service (`as_of`) and how many trading days old they were at `at`."""

    as_of: date
    age_days: int
    at: datetime


@dataclass(frozen=True)
class QuoteAge:
    """Paper prices from the broker's quotes: the newest quote seen (`at`, None before the first), when the
    service last asked (`checked`), and the age past which paper fills are refused."""

    at: datetime | None
    checked: datetime
    max_age_seconds: int

    def age_seconds(self, now: datetime) -> float | None:
        return None if self.at is None else max(0.0, (now - self.at).total_seconds())

    def stale(self, now: datetime) -> bool:
        age = self.age_seconds(now)
        return age is None or age > self.max_age_seconds


@dataclass(frozen=True)
class Drawdown:
    value: Decimal
    pct: float  # of the running peak, in percent
    peak_date: date | None  # None: the peak was the starting capital
    trough_date: date | None  # None: no fall


@dataclass(frozen=True)
class RecordedPerformance:
    """A simulation's performance as its report gave it (`swingtrader.performance.performance_report`):
    `equity` and `benchmark` are (session, value at its close), in order."""

    max_drawdown: Drawdown
    sessions_with_position: float
    average_deployed: float
    cagr: float | None
    sharpe: float | None
    win_rate: float | None
    benchmark_symbols: tuple[str, ...]
    benchmark_final: Decimal
    equity: tuple[tuple[date, Decimal], ...]
    benchmark: tuple[tuple[date, Decimal], ...]
    headline: Mapping[str, Any] | None = None  # `report_types.Headline` as recorded (None before it existed)


@dataclass(frozen=True)
class AccountSnapshot:
    """What the broker reported at a reconciliation: its cash (blocked amounts included) and the closing
    price of each holding; `fills_upto` is the newest `fills.id` the cash already reflects."""

    at: datetime
    cash: Decimal
    marks: Mapping[str, Decimal]
    fills_upto: int


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from a stored ISO string (or an aware datetime); None if absent, naive or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class ServiceState:
    """The typed `service_state` of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # ---- paused --------------------------------------------------------------------------------------------
    def paused(self, conn: Connection | None = None) -> bool:
        raw = self._get(StateKey.PAUSED, conn)
        if raw is None or isinstance(raw, bool):
            return bool(raw)
        log.warning("service_state paused=%r is not a bool: read as paused", raw)
        return True

    def set_paused(self, paused: bool, now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.PAUSED, bool(paused), now, conn)

    # ---- mode ----------------------------------------------------------------------------------------------
    def mode(self, conn: Connection | None = None) -> str | None:
        return self._valid(StateKey.MODE, self._get(StateKey.MODE, conn), _str)

    def set_mode(self, label: str, now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.MODE, label, now, conn)

    # ---- next slot -----------------------------------------------------------------------------------------
    def next_slot(self, conn: Connection | None = None) -> NextSlot | None:
        return self._valid(StateKey.NEXT_SLOT, self._get(StateKey.NEXT_SLOT, conn), _next_slot)

    def set_next_slot(self, task: str, at: datetime, now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.NEXT_SLOT, {"task": task, "at": at.isoformat()}, now, conn)

    # ---- plan ----------------------------------------------------------------------------------------------
    def plan(self, conn: Connection | None = None) -> PublishedPlan | None:
        return self._valid(StateKey.PLAN, self._get(StateKey.PLAN, conn), _plan)

    def set_plan(self, day: date, slots: list[PlannedSlot], now: datetime, conn: Connection | None = None) -> None:
        value = {"date": day.isoformat(),
                 "slots": [{"task": s.task, "slot": s.slot, "at": s.at.isoformat()} for s in slots]}
        self._set(StateKey.PLAN, value, now, conn)

    # ---- heartbeat -----------------------------------------------------------------------------------------
    def heartbeat(self, conn: Connection | None = None) -> datetime | None:
        return self._valid(StateKey.HEARTBEAT, self._get(StateKey.HEARTBEAT, conn), parse_time)

    def set_heartbeat(self, now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.HEARTBEAT, now.isoformat(), now, conn)

    # ---- account -------------------------------------------------------------------------------------------
    def account(self, conn: Connection | None = None) -> AccountSnapshot | None:
        return self._valid(StateKey.ACCOUNT, self._get(StateKey.ACCOUNT, conn), _account)

    def record_account(self, cash: Decimal, marks: Mapping[str, Decimal], now: datetime,
                       conn: Connection | None = None) -> None:
        """Record the broker's cash and closing prices as of `now`, after the store's fills were reconciled."""
        with self._conn(conn) as c:
            upto = c.execute(select(func.max(t.fills.c.id))).scalar() or 0
            value = {"at": now.isoformat(), "cash": str(cash), "marks": {s: str(p) for s, p in sorted(marks.items())},
                     "fills_upto": upto}
            self._set(StateKey.ACCOUNT, value, now, c)

    # ---- market data age -----------------------------------------------------------------------------------
    def prices(self, conn: Connection | None = None) -> PriceAge | None:
        return self._valid(StateKey.PRICES, self._get(StateKey.PRICES, conn), _prices)

    def set_prices(self, as_of: date, age_days: int, now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.PRICES, {"as_of": as_of.isoformat(), "age_days": age_days, "at": now.isoformat()}, now,
                  conn)

    def quotes(self, conn: Connection | None = None) -> QuoteAge | None:
        return self._valid(StateKey.QUOTES, self._get(StateKey.QUOTES, conn), _quotes)

    def set_quotes(self, at: datetime | None, max_age_seconds: int, now: datetime,
                   conn: Connection | None = None) -> None:
        """Paper prices come from the broker's quotes; the newest was seen at `at`."""
        value = {"at": None if at is None else at.isoformat(), "checked": now.isoformat(),
                 "max_age_seconds": max_age_seconds}
        self._set(StateKey.QUOTES, value, now, conn)

    def clear_quotes(self, conn: Connection | None = None) -> None:
        """Paper prices do not come from the broker (any more)."""
        with self._conn(conn) as c:
            c.execute(t.service_state.delete().where(t.service_state.c.key == StateKey.QUOTES.value))

    # ---- simulation ----------------------------------------------------------------------------------------
    def simulation(self, conn: Connection | None = None) -> dict[str, str] | None:
        return self._valid(StateKey.SIMULATION, self._get(StateKey.SIMULATION, conn), _str_dict)

    def set_simulation(self, spec: dict[str, str], now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.SIMULATION, dict(spec), now, conn)

    # ---- performance ---------------------------------------------------------------------------------------
    def performance(self, conn: Connection | None = None) -> RecordedPerformance | None:
        return self._valid(StateKey.PERFORMANCE, self._get(StateKey.PERFORMANCE, conn), _performance)

    def set_performance(self, report: Mapping[str, Any], now: datetime, conn: Connection | None = None) -> None:
        """Record the performance fields of a simulation report (its JSON form: money as decimal strings)."""
        value = {k: report[k] for k in ("headline", "max_drawdown", "exposure", "cagr", "sharpe", "win_rate",
                                        "benchmark", "equity_curve") if k in report}
        self._set(StateKey.PERFORMANCE, value, now, conn)

    # ---- calendar reach and waits (issue 14) ---------------------------------------------------------------
    def calendar(self, conn: Connection | None = None) -> dict[str, str] | None:
        return self._valid(StateKey.CALENDAR, self._get(StateKey.CALENDAR, conn), _str_dict)

    def set_calendar(self, value: dict[str, str], now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.CALENDAR, dict(value), now, conn)

    def waiting(self, conn: Connection | None = None) -> dict[str, str] | None:
        return self._valid(StateKey.WAITING, self._get(StateKey.WAITING, conn), _str_dict)

    def set_waiting(self, value: dict[str, str], now: datetime, conn: Connection | None = None) -> None:
        self._set(StateKey.WAITING, dict(value), now, conn)

    # ---- storage -------------------------------------------------------------------------------------------
    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self._store.begin() as own:
                yield own

    def _get(self, key: StateKey, conn: Connection | None) -> object:
        """The key's JSON value (None when absent)."""
        query = select(t.service_state.c.value).where(t.service_state.c.key == key.value)
        if conn is not None:
            return conn.execute(query).scalar()
        with self._store.connect() as own:
            return own.execute(query).scalar()

    def _set(self, key: StateKey, value: Any, now: datetime, conn: Connection | None) -> None:
        with self._conn(conn) as c:
            st = t.service_state
            updated = c.execute(st.update().where(st.c.key == key.value).values(value=value, updated_at=now))
            if updated.rowcount == 0:
                c.execute(st.insert().values(key=key.value, value=value, updated_at=now))

    @staticmethod
    def _valid(key: StateKey, raw: object, parse: Callable[[Any], _T | None]) -> _T | None:
        if raw is None:
            return None
        parsed = parse(raw)
        if parsed is None:
            log.warning("service_state %s holds an unreadable value: ignored", key.value)
        return parsed


def _str(raw: object) -> str | None:
    return raw if isinstance(raw, str) else None


def _next_slot(raw: Any) -> NextSlot | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("task"), str):
        return None
    at = parse_time(raw.get("at"))
    return None if at is None else NextSlot(raw["task"], at)


def _plan(raw: Any) -> PublishedPlan | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("slots"), list):
        return None
    try:
        day = date.fromisoformat(raw["date"])
    except (KeyError, TypeError, ValueError):
        return None
    slots = []
    for s in raw["slots"]:
        at = parse_time(s.get("at")) if isinstance(s, dict) else None
        if at is None or not isinstance(s.get("task"), str) or not isinstance(s.get("slot"), str):
            return None
        slots.append(PlannedSlot(s["task"], s["slot"], at))
    return PublishedPlan(day, tuple(slots))


def _account(raw: Any) -> AccountSnapshot | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("marks"), dict) or not isinstance(
            raw.get("fills_upto"), int):
        return None
    at = parse_time(raw.get("at"))
    try:
        cash = Decimal(raw["cash"])
        marks = {str(s): Decimal(p) for s, p in raw["marks"].items()}
    except (KeyError, TypeError, InvalidOperation):
        return None
    return None if at is None else AccountSnapshot(at, cash, marks, raw["fills_upto"])


def _prices(raw: Any) -> PriceAge | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("age_days"), int):
        return None
    at = parse_time(raw.get("at"))
    try:
        as_of = date.fromisoformat(raw["as_of"])
    except (KeyError, TypeError, ValueError):
        return None
    return None if at is None else PriceAge(as_of, raw["age_days"], at)


def _quotes(raw: Any) -> QuoteAge | None:
    if not isinstance(raw, dict) or isinstance(raw.get("max_age_seconds"), bool) or not isinstance(
            raw.get("max_age_seconds"), int):
        return None
    checked, at = parse_time(raw.get("checked")), parse_time(raw.get("at"))
    if checked is None or (at is None and raw.get("at") is not None):
        return None
    return QuoteAge(at, checked, raw["max_age_seconds"])


def _str_dict(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        return None
    return dict(raw)


def _ratio(raw: Any) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise TypeError(raw)
    return float(raw)


def _day(raw: Any) -> date | None:
    return None if raw is None else date.fromisoformat(raw)


def _series(raw: Any) -> tuple[tuple[date, Decimal], ...]:
    return tuple((date.fromisoformat(d), Decimal(v)) for d, v in raw.items())


def _performance(raw: Any) -> RecordedPerformance | None:
    try:
        dd, exposure, bench = raw["max_drawdown"], raw["exposure"], raw["benchmark"]
        pct = _ratio(100 * dd["fraction"] if "fraction" in dd else dd["pct"])  # a fraction since issue 17
        deployed, share = _ratio(exposure["average_deployed"]), _ratio(
            exposure["sessions_with_position"])
        if pct is None or deployed is None or share is None or not isinstance(bench["symbols"], list):
            return None
        return RecordedPerformance(
            max_drawdown=Drawdown(Decimal(dd["value"]), pct, _day(dd["peak_date"]), _day(dd["trough_date"])),
            sessions_with_position=share, average_deployed=deployed, cagr=_ratio(raw["cagr"]),
            sharpe=_ratio(raw["sharpe"]), win_rate=_ratio(raw["win_rate"]),
            benchmark_symbols=tuple(str(s) for s in bench["symbols"]), benchmark_final=Decimal(bench["final_value"]),
            equity=_series(raw["equity_curve"]), benchmark=_series(bench["series"]),
            headline=raw["headline"] if isinstance(raw.get("headline"), dict) else None)
    except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation):
        return None
