"""Intraday prices for the paper exchange, derived from daily bars.

The path of a session (documented contract, used for simulated fills):
- before the session opens the price is the previous close; after it closes, the day's close;
- inside the session it moves in straight lines through four points spread evenly over the session:
  a down day (close < open) goes open -> high -> low -> close, an up day (close >= open)
  goes open -> low -> high -> close. So a down day visits its high before its low, an up day its low
  before its high, and every price between the day's low and high is reached at some minute;
- a day with no bar (live paper mode past the data's end) stays flat at the last known close.
Prices are exact `Decimal`s rounded to the tick (nearest).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

from swingtrader.broker.base import Order, OrderType, Side
from swingtrader.market.ticks import round_to_tick

if TYPE_CHECKING:
    from swingtrader.market.bars import BarSource

_ONE_DAY = timedelta(days=1)


class DailyBars(Protocol):
    """What the path needs from a bar source."""

    def bar_on(self, symbol: str, day: date) -> tuple[float, float, float, float, float | None] | None: ...

    def last_close_before(self, symbol: str, day: date) -> float | None: ...


class PricePath(Protocol):
    """What the paper exchange fills against: `IntradayPath` (bars) or `QuotePath` (a broker's live quotes)."""

    def price_at(self, symbol: str, day: date, moment: datetime) -> Decimal | None: ...

    def range_between(self, symbol: str, day: date, t0: datetime, t1: datetime) -> tuple[Decimal, Decimal] | None: ...

    def prev_close(self, symbol: str, day: date) -> Decimal | None: ...

    def points(self, symbol: str, day: date) -> list[tuple[datetime, float]] | None: ...


class IntradayPath:
    """Price of a symbol at any moment of a session, and the range it covered between two moments."""

    def __init__(self, bars: DailyBars, session_bounds: Callable[[date], tuple[datetime, datetime] | None]) -> None:
        """`session_bounds(day) -> (open, close)` aware datetimes, or None on a closed day."""
        self._bars = bars
        self._bounds = session_bounds
        self._cache: dict[tuple[str, date], list[tuple[datetime, float]] | None] = {}

    def _points(self, symbol: str, day: date) -> list[tuple[datetime, float]] | None:
        key = (symbol, day)
        if key not in self._cache:
            if len(self._cache) > 2048:
                self._cache.clear()
            self._cache[key] = self._compute_points(symbol, day)
        return self._cache[key]

    def _compute_points(self, symbol: str, day: date) -> list[tuple[datetime, float]] | None:
        bounds = self._bounds(day)
        bar = self._bars.bar_on(symbol, day)
        if bounds is None or bar is None:
            return None
        o, h, low, c = bar[0], bar[1], bar[2], bar[3]
        start, end = bounds
        span = end - start
        mid = (h, low) if c < o else (low, h)
        return [(start, o), (start + span / 3, mid[0]), (start + span * 2 / 3, mid[1]), (end, c)]

    def points(self, symbol: str, day: date) -> list[tuple[datetime, float]] | None:
        """The four (moment, price) points of `day`'s path, unrounded; None without a bar or a session. Between
        two consecutive points the (rounded) price moves monotonically."""
        pts = self._points(symbol, day)
        return None if pts is None else list(pts)

    def price_at(self, symbol: str, day: date, moment: datetime) -> Decimal | None:
        """The path price at `moment` on trading `day` (pre-open: previous close)."""
        pts = self._points(symbol, day)
        if pts is None:
            last = self._bars.last_close_before(symbol, day + _ONE_DAY)
            return None if last is None else self._round(last, day)
        if moment < pts[0][0]:
            prev = self._bars.last_close_before(symbol, day)
            return self._round(prev if prev is not None else pts[0][1], day)
        return self._round(_interpolate(pts, moment), day)

    def prev_close(self, symbol: str, day: date) -> Decimal | None:
        prev = self._bars.last_close_before(symbol, day)
        return None if prev is None else self._round(prev, day)

    def range_between(self, symbol: str, day: date, t0: datetime, t1: datetime) -> tuple[Decimal, Decimal] | None:
        """(low, high) of the path over [t0, t1] within the session, or None outside it / without a bar."""
        pts = self._points(symbol, day)
        if pts is None:
            return None
        start, end = pts[0][0], pts[-1][0]
        t0, t1 = max(t0, start), min(t1, end)
        if t1 < t0:
            return None
        values = [_interpolate(pts, t0), _interpolate(pts, t1)] + [p for t, p in pts if t0 < t < t1]
        return self._round(min(values), day), self._round(max(values), day)

    @staticmethod
    def _round(value: float, day: date) -> Decimal:
        return round_to_tick(Decimal(repr(float(value))), day, "nearest")


def _interpolate(pts: list[tuple[datetime, float]], moment: datetime) -> float:
    if moment <= pts[0][0]:
        return pts[0][1]
    for (ta, pa), (tb, pb) in pairwise(pts):
        if moment <= tb:
            frac = (moment - ta) / (tb - ta)
            return pa + (pb - pa) * frac
    return pts[-1][1]



class BarLookup:
    """Adapts a `BarSource` to the per-day lookups the path needs, reading its panel in place (no per-symbol
    copy of the history as Python objects: a long-running paper exchange stays flat in memory)."""

    def __init__(self, source: BarSource) -> None:
        self._source = source

    def bar_on(self, symbol: str, day: date) -> tuple[float, float, float, float, float | None] | None:
        return self._source.bar_on(symbol, day)

    def last_close_before(self, symbol: str, day: date) -> float | None:
        return self._source.last_close_before(symbol, day)


def fill_price(path: PricePath, order: Order, day: date, t0: datetime, t1: datetime) -> Decimal | None:
    """Where a working order fills over [t0, t1] of `day`'s session, or None if it does not.

    A market order, or a limit that is marketable at t0, fills at the t0 price; a resting limit fills at its
    limit when the path reaches it. (The path is continuous, so cutting [t0, t1] into pieces gives the same.)"""
    p0 = path.price_at(order.symbol, day, t0)
    if p0 is None:
        return None
    buy, limit = order.side is Side.BUY, order.price
    if order.order_type is OrderType.MARKET or limit is None or (p0 <= limit if buy else p0 >= limit):
        return p0
    span = path.range_between(order.symbol, day, t0, t1)
    if span is None:
        return None
    low, high = span
    return limit if (low <= limit if buy else high >= limit) else None
