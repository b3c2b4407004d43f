"""Presentation helpers: Jinja filters for money, time and durations, and exact JSON conversion.

Money is shown with Indian digit grouping (`12,34,567.89`); times in IST. JSON keeps money exact:
`Decimal` becomes a string, never a float.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from swingtrader.clock import IST

_DASH = "—"


def money(value: Decimal | int | float | None) -> str:
    """`1234567.891` -> `12,34,567.89`; None -> a dash."""
    if value is None:
        return _DASH
    amount = Decimal(value).quantize(Decimal("0.01"))
    sign = "-" if amount < 0 else ""
    whole, frac = f"{abs(amount):.2f}".split(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        whole = ",".join([head, *groups, tail]) if head else ",".join([*groups, tail])
    return f"{sign}{whole}.{frac}"


def signed_money(value: Decimal | int | float | None) -> str:
    """Like `money` with an explicit `+` on gains."""
    text = money(value)
    return f"+{text}" if value is not None and Decimal(value) > 0 else text


def percent(value: Decimal | float | None, places: int = 2) -> str:
    return _DASH if value is None else f"{float(value):+.{places}f}%"


def ist_time(value: datetime | None) -> str:
    return _DASH if value is None else value.astimezone(IST).strftime("%H:%M:%S")


def ist_datetime(value: datetime | None) -> str:
    return _DASH if value is None else value.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """A short human duration: `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`."""
    if seconds is None:
        return _DASH
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: Decimal -> str (exact), date/datetime -> ISO 8601, tuples -> lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


FILTERS = {
    "money": money,
    "signed_money": signed_money,
    "percent": percent,
    "ist_time": ist_time,
    "ist_datetime": ist_datetime,
    "duration": duration,
}
