"""Fills are facts with a price: what a broker's report of one order adds to what the store already holds.

- A filled quantity that goes up with a usable average price is a new fill; its price is the increment's
  (`(avg * filled - previous avg * previous filled) / new`).
- A quantity that goes up without a usable price (missing, `"0.00"`, `"0.0000"`: Kotak shows `fldQty` before
  `avgPrc`) is held pending: nothing is stored, the order stays active, and a later read, the order history or
  the trade book gives the price. Zero is never a fill price.
- A quantity that goes down is logged and ignored (what was recorded stands).
- The trade book, when read, is the source of truth for fill prices and times: each execution carries its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from swingtrader.broker.base import Fill

log = logging.getLogger(__name__)
_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Step:
    """What to store for one order after a report: its filled quantity and average price, the new fill (`new`
    shares at `price`, at `at` when the source gives a time) and the quantity still waiting for a price."""

    filled_quantity: int
    average_price: Decimal | None
    new: int = 0
    price: Decimal | None = None
    at: datetime | None = None
    pending: int = 0


def usable(price: Decimal | None) -> bool:
    return price is not None and price > 0


def from_report(tag: str, filled: int, average: Decimal | None, reported: int,
                reported_average: Decimal | None) -> Step:
    """The step a book row (or a single-order read) gives: `reported` shares filled at `reported_average`."""
    held = Step(filled, average)
    if reported < filled:
        log.warning("order %s: the broker reports %d filled, fewer than the %d recorded; ignored", tag, reported,
                    filled)
        return held
    new = reported - filled
    if new == 0:
        return held
    if not usable(reported_average):
        return Step(filled, average, pending=new)
    assert reported_average is not None
    if filled == 0:
        return Step(reported, reported_average, new, reported_average)
    if not usable(average):
        return Step(filled, average, pending=new)
    assert average is not None
    price = ((reported_average * reported - average * filled) / new).quantize(_PLACES)
    if price <= 0:
        log.warning("order %s: average %s over %d filled implies no price for the new %d; held", tag,
                    reported_average, reported, new)
        return Step(filled, average, pending=new)
    return Step(reported, reported_average, new, price)


def from_trades(filled: int, average: Decimal | None, trades: Iterable[Fill], order_id: str,
                reported: int) -> Step | None:
    """The step the trade book gives for `order_id` beyond the `filled` shares recorded (at the executions'
    own prices, timed at the last), or None when it shows nothing new. `reported`: the quantity the order's
    row says is filled; what the trade book does not show yet stays pending."""
    rows = sorted((f for f in trades if f.order_id == order_id and usable(f.price)), key=lambda f: f.at)
    total = sum(f.quantity for f in rows)
    if total <= filled:
        return None
    skip, value, last = filled, Decimal(0), rows[-1].at
    for f in rows:
        counted = max(0, f.quantity - skip)
        skip = max(0, skip - f.quantity)
        value += f.price * counted
    new = total - filled
    avg = ((average or Decimal(0)) * filled + value) / total if filled == 0 or usable(average) else value / new
    return Step(total, avg.quantize(_PLACES), new, (value / new).quantize(_PLACES), last,
                pending=max(0, reported - total))
