"""The broker protocol and its domain types. Adapters translate to and from these at the edge.

Prices are `Decimal`; quantities are `int`; times are aware datetimes; symbols are canonical NSE symbols
(`RELIANCE`, `M&M`), never broker trading symbols (`RELIANCE-EQ`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import SecretStr

from swingtrader.broker.errors import (
    AmbiguousOutcome,
    BrokerError,
    BrokerUnavailable,
    DuplicateTag,
    ForeignOrder,
    LoginFailed,
    MalformedResponse,
    OrderCompleted,
    OrderRejected,
    RateLimited,
    SessionExpired,
)

__all__ = [
    "AmbiguousOutcome",
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "DuplicateTag",
    "Fill",
    "FillBook",
    "ForeignOrder",
    "Funds",
    "Holding",
    "LoginFailed",
    "MalformedResponse",
    "Order",
    "OrderBook",
    "OrderCompleted",
    "OrderRejected",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Quote",
    "RateLimited",
    "SessionExpired",
    "SessionInfo",
    "Side",
]


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class OrderStatus(StrEnum):
    """The broker order states. `PENDING` covers accepted-not-yet-live (AMO queued, validation pending); a
    partial fill is `OPEN` with `filled_quantity > 0`. The broker's own status strings are an open set: one
    this code does not know is `UNKNOWN`, which counts as still active (it may fill or be cancelled later)."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_active(self) -> bool:
        return self in (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.UNKNOWN)


@dataclass(frozen=True)
class SessionInfo:
    """A logged-in session. `expires_at` drives the proactive re-login."""

    token: SecretStr
    expires_at: datetime
    user: str = ""


@dataclass(frozen=True)
class OrderRequest:
    """A new order. `tag` is the deterministic client tag (Kotak `ig`, echoed as `GuiOrdId`)."""

    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    price: Decimal | None
    tag: str
    amo: bool = False
    product: str = "CNC"
    validity: str = "DAY"

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order quantity must be positive, got {self.quantity}")
        if self.order_type is OrderType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError("a LIMIT order needs a positive price")


@dataclass(frozen=True)
class Order:
    """One row of the broker's order book."""

    order_id: str
    tag: str | None
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    price: Decimal | None
    status: OrderStatus
    filled_quantity: int = 0
    average_price: Decimal | None = None
    amo: bool = False
    placed_at: datetime | None = None
    reject_reason: str | None = None
    filled_at: datetime | None = None  # the last execution, where the read reports it (a single-order read)


@dataclass(frozen=True)
class Fill:
    """One execution (a trade-book row)."""

    order_id: str
    tag: str | None
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    at: datetime


@dataclass(frozen=True)
class Holding:
    """Delivery holdings. `sellable_quantity` excludes shares still settling (T+1)."""

    symbol: str
    quantity: int
    sellable_quantity: int
    average_price: Decimal
    close_price: Decimal | None = None


@dataclass(frozen=True)
class Funds:
    """Cash available for new delivery buys, after blocked margin."""

    available_cash: Decimal
    extra: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Quote:
    """The last traded price and, where known, the day's price band."""

    symbol: str
    ltp: Decimal
    lower_band: Decimal | None = None
    upper_band: Decimal | None = None
    prev_close: Decimal | None = None


class OrderBook(list[Order]):
    """An order book read. `skipped` names the rows that could not be read (by order number) and
    `skipped_tags` their client tags where readable (None if not): the other rows still count, but a book with
    a skipped row that could carry a tag cannot prove that tag absent."""

    def __init__(
        self, rows: Iterable[Order] = (), skipped: tuple[str, ...] = (), skipped_tags: tuple[str | None, ...] = ()
    ) -> None:
        super().__init__(rows)
        self.skipped = skipped
        self.skipped_tags = skipped_tags


class FillBook(list[Fill]):
    """A trade book read; `skipped` as in `OrderBook`."""

    def __init__(
        self, rows: Iterable[Fill] = (), skipped: tuple[str, ...] = (), skipped_tags: tuple[str | None, ...] = ()
    ) -> None:
        super().__init__(rows)
        self.skipped = skipped
        self.skipped_tags = skipped_tags


class Broker(Protocol):
    """What the service needs from a broker. Every method raises a `BrokerError` subclass on failure
    and never returns an empty result in place of an error."""

    name: str

    def login(self) -> SessionInfo:
        """Log in (fresh credentials every time) and start using the new session."""
        ...

    def place_order(self, request: OrderRequest) -> str:
        """Send a new order; return the broker's order id."""
        ...

    def modify_order(
        self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType
    ) -> None:
        """Change an open order's quantity and price. `OrderCompleted` if it already filled."""
        ...

    def cancel_order(self, order_id: str) -> None:
        """Cancel an open order. `OrderCompleted` if it already filled."""
        ...

    def orders(self) -> list[Order]:
        """Today's order book (an empty book is an empty list, a failure is an exception)."""
        ...

    def fills(self) -> list[Fill]:
        """Today's executions."""
        ...

    def order(self, order_id: str) -> list[Order]:
        """One order's rows by its order number, as the broker reports it now (newest first); empty when the
        broker no longer shows that order (a broker may show only today's orders)."""
        ...

    def holdings(self) -> list[Holding]:
        """Delivery holdings."""
        ...

    def funds(self) -> Funds:
        """Cash available for delivery buys."""
        ...

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """Last prices for the symbols (batched by the adapter as the broker requires)."""
        ...
