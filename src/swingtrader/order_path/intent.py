"""What a task asks of the order path (`OrderIntent`, with an optional `Gate`) and what it gets back
(`Outcome`); the stored order (`OrderRecord`) and a new fill (`FillEvent`); the client tag of an intent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from swingtrader.broker.base import OrderType, Side
from swingtrader.order_path.state import LocalStatus

_TASK_CODES = {
    "premarket_retry": "PR",
    "place_sell_orders": "PS",
    "monitor_sell_orders": "MS",
    "position_monitor": "PM",
    "analysis": "AN",
    "place_buy_orders": "PB",
    "eod_cleanup": "EC",
    "manual": "MN",
}


def client_tag(trading_date: date, task: str, side: Side, sequence: int) -> str:
    """The client tag (Kotak `ig`) of the day's `sequence`-th stored intent: 16 characters, unique per day
    because the sequence is (no hash, no modulo)."""
    if not 0 < sequence < 100_000:
        raise ValueError(f"order sequence {sequence} does not fit the tag")
    return f"ST{trading_date:%y%m%d}{_TASK_CODES[task]}{side.value[0]}{sequence:05d}"


@dataclass(frozen=True)
class Gate:
    """A task's conditions on a *new* buy, checked by the order path before it is stored (never for an intent
    already stored: that one is returned or resolved). `held`: symbols the strategy holds; with `max_positions`
    set (an entry), the intent is refused (`max_positions`) when `held` and the working buys reach it. It is
    refused (`insufficient_funds`) when the broker's available cash is below `cash_needed`; `record_short_cash`
    stores that refusal as a failed order (for the next morning's `premarket_retry`)."""

    cash_needed: Decimal
    held: frozenset[str] = frozenset()
    max_positions: int | None = None
    record_short_cash: bool = False


@dataclass(frozen=True)
class OrderIntent:
    """What a task wants. `reference_price` (last close or price) drives the band check. Keyed by (trading
    date, task, symbol, side, attempt). `replaces`: keep exactly one working order for the symbol and side,
    moving a working one to this price, quantity and purpose instead of placing another (a LIMIT price is
    then required)."""

    trading_date: date
    task: str
    purpose: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    price: Decimal | None
    amo: bool
    reference_price: Decimal
    attempt: int = 1
    gate: Gate | None = None
    replaces: bool = False


@dataclass(frozen=True)
class OrderRecord:
    """A local order as stored."""

    id: int
    tag: str
    broker_order_id: str | None
    trading_date: date
    task: str
    purpose: str
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    price: Decimal | None
    amo: bool
    status: LocalStatus
    filled_quantity: int
    average_price: Decimal | None
    reason: str | None
    attempt: int = 1
    created_at: datetime | None = None


@dataclass(frozen=True)
class FillEvent:
    """A newly seen execution of one of our orders (quantity is the increment)."""

    order: OrderRecord
    quantity: int
    price: Decimal
    at: datetime


class Verdict(StrEnum):
    PLACED = "placed"  # working or filled at the broker
    REFUSED = "refused"  # not sent (a check, the broker's refusal, given up): `reason` says why
    IN_DOUBT = "in_doubt"  # maybe sent, no order number yet: the order path resolves it
    CANCELLED = "cancelled"  # an earlier send of this intent ended without a fill


@dataclass(frozen=True)
class Outcome:
    """The order path's answer to one intent. `record` is None for a refusal that stored nothing."""

    verdict: Verdict
    reason: str | None
    record: OrderRecord | None

    @classmethod
    def of(cls, record: OrderRecord) -> Outcome:
        status = record.status
        if status in (LocalStatus.FAILED, LocalStatus.REJECTED):
            verdict = Verdict.REFUSED
        elif status.in_doubt:
            verdict = Verdict.IN_DOUBT
        elif status is LocalStatus.CANCELLED:
            verdict = Verdict.CANCELLED
        else:
            verdict = Verdict.PLACED
        return cls(verdict, record.reason, record)

    @classmethod
    def refused(cls, reason: str) -> Outcome:
        return cls(Verdict.REFUSED, reason, None)
