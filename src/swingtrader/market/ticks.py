"""NSE equity tick sizes (price steps) by date, and exact rounding of prices onto them.

The rules are data (`TICK_RULES`). The band is chosen from a reference price: NSE reviews it monthly from the
last close of the previous month, so pass `reference_price` when known; without it the price itself decides.
The broker's instrument master, when it gives a tick size, is the authority; these rules are the fallback.

Prices are `Decimal`. `int` and `str` are converted exactly and `float` through its shortest repr
(`Decimal(str(x))`), never through its binary value. Results carry the tick's exponent: `Decimal("101.15")`.
"""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from typing import NamedTuple

__all__ = ["TICK_RULES", "TickBand", "is_on_tick", "round_to_tick", "tick_size"]

PriceLike = Decimal | int | float | str


class TickBand(NamedTuple):
    """`tick` applies to prices below `limit`, or up to and including it if `inclusive`; `limit` None: no cap."""

    limit: Decimal | None
    inclusive: bool
    tick: Decimal


def _band(limit: str | None, inclusive: bool, tick: str) -> TickBand:
    return TickBand(None if limit is None else Decimal(limit), inclusive, Decimal(tick))


TICK_RULES: tuple[tuple[date, tuple[TickBand, ...]], ...] = (
    (date.min, (_band(None, False, "0.05"),)),
    (date(2024, 6, 10), (_band("250", False, "0.01"), _band(None, False, "0.05"))),
    (
        date(2025, 4, 15),
        (
            _band("250", False, "0.01"),
            _band("1000", True, "0.05"),
            _band("5000", True, "0.10"),
            _band("10000", True, "0.50"),
            _band("20000", True, "1.00"),
            _band(None, False, "5.00"),
        ),
    ),
)
"""(effective date, bands in rising order), oldest first; each rule holds until the next one's date."""

_DIRECTIONS = ("down", "up", "nearest")


def tick_size(price: PriceLike, on: date, reference_price: PriceLike | None = None) -> Decimal:
    """The tick for `price` on trading date `on`, its band chosen from `reference_price` (default: `price`)."""
    band_price = _decimal(price if reference_price is None else reference_price)
    for band in _bands_on(on):
        if band.limit is None or band_price < band.limit or (band.inclusive and band_price == band.limit):
            return band.tick
    raise AssertionError("the last band of every rule has no limit")


@functools.lru_cache(maxsize=1024)
def _bands_on(on: date) -> tuple[TickBand, ...]:
    return [bands for effective, bands in TICK_RULES if effective <= on][-1]


def round_to_tick(price: PriceLike, on: date, direction: str, reference_price: PriceLike | None = None) -> Decimal:
    """`price` rounded onto the tick grid: "down", "up" or "nearest" (ties to the even multiple). Exact."""
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(_DIRECTIONS)}, not {direction!r}")
    value = _decimal(price)
    tick = tick_size(value, on, reference_price)
    steps, rest = divmod(value, tick)  # exact, unlike value / tick
    if direction == "up" and rest:
        steps += 1
    elif direction == "nearest" and (rest * 2 > tick or (rest * 2 == tick and steps % 2 == 1)):
        steps += 1
    return (steps * tick).quantize(tick)


def is_on_tick(price: PriceLike, on: date, reference_price: PriceLike | None = None) -> bool:
    """True if `price` is a whole number of ticks (the exchange rejects an order price that is not)."""
    value = _decimal(price)
    return value % tick_size(value, on, reference_price) == 0


def _decimal(value: PriceLike) -> Decimal:
    if type(value) is Decimal:  # the common case, checked without conversion
        if not value.is_finite() or value < 0:
            raise ValueError(f"a price must be a finite, non-negative number, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise TypeError(f"a price must be a Decimal, int, float or str, not {type(value).__name__}")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(f"a price must be a finite, non-negative number, not {value!r}")
    return number
