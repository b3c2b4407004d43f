"""The broker's view of one of our orders, applied locally: its status, its fills (one transaction with the
position update, `on_fill`), a final word found outside today's book (`settle`), an expiry, and a modify
whose reply was lost once the book shows it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection

from swingtrader import fills
from swingtrader.broker.base import Broker, BrokerError, Order, OrderStatus
from swingtrader.clock import Clock
from swingtrader.order_path.intent import FillEvent, OrderRecord
from swingtrader.order_path.ledger import Ledger
from swingtrader.order_path.state import FROM_BROKER, LocalStatus
from swingtrader.store import tables as t

log = logging.getLogger(__name__)


class Books:
    """Applies book rows to stored orders. `on_fill` runs in the fill's transaction; `on_event` tells a person
    (`order_filled`, `order_rejected`)."""

    def __init__(
        self, ledger: Ledger, broker: Broker, clock: Clock, on_fill: Callable[[FillEvent, Connection], None],
        on_event: Callable[[str, OrderRecord, str], None],
    ) -> None:
        self._ledger = ledger
        self._broker = broker
        self._clock = clock
        self._on_fill = on_fill
        self._on_event = on_event
        self._modifies: dict[int, tuple[Decimal, int, str]] = {}  # modifies whose outcome is unknown

    def apply(
        self, rec: OrderRecord, order: Order, at: datetime | None = None, cancel_reason: bool = False
    ) -> OrderRecord:
        """Mirror the broker's view of one order. The status change, the fill and the position update are one
        transaction, so a crash can never record a fill without its position or the other way round. A status
        the adapter did not know keeps the order active as it was (fills still count). Fills follow
        `swingtrader.fills`: a quantity without a usable price is looked up in the trade book, and else held
        pending with the order kept active."""
        status: LocalStatus
        if order.status is OrderStatus.UNKNOWN:
            status = rec.status if rec.status in (LocalStatus.PENDING, LocalStatus.OPEN) else LocalStatus.OPEN
        else:
            status = FROM_BROKER[order.status]
        step = fills.from_report(rec.tag, rec.filled_quantity, rec.average_price, order.filled_quantity,
                                 order.average_price)
        if step.pending:
            step = self._priced_by_trades(rec, order) or step
        if step.pending and not status.is_active:
            log.warning("order %s: %d filled shares without a price yet; kept active until one is known", rec.tag,
                        step.pending)
            status = rec.status if rec.status in (LocalStatus.PENDING, LocalStatus.OPEN) else LocalStatus.OPEN
        if status is rec.status and step.new == 0:
            return rec
        try:
            reason = order.reject_reason if status is LocalStatus.REJECTED else rec.reason
            if cancel_reason and status is LocalStatus.CANCELLED:
                reason = order.reject_reason or reason
            rec, fill = self._apply_in_transaction(rec, step, status, reason, step.at or at or self._clock.now())
        except BaseException:
            self._ledger.drop_cache()  # the cache may hold the rolled-back state
            raise
        if fill is not None:
            self._on_event("order_filled", rec, f"{fill.quantity} @ {fill.price}")
        if status is LocalStatus.REJECTED:
            self._on_event("order_rejected", rec, order.reject_reason or "")
        return rec

    def mirror(self, rec: OrderRecord, row: Order) -> OrderRecord:
        """Apply `row`, today's book row of `rec` (a modify whose reply was lost is recorded first)."""
        return self.apply(self._modified_if_shown(rec, row), row)

    def settle(self, rec: OrderRecord, order: Order, *, at: datetime | None) -> OrderRecord:
        """Record the broker's final word on an order found outside today's book (a single-order read, the
        trade book): like a book row, with a new fill dated `at` (the broker's time; now if None) and the
        broker's reason for a cancellation (`expired`) kept too."""
        return self.apply(rec, order, at=at, cancel_reason=True)

    def expire(self, rec: OrderRecord, why: str) -> OrderRecord:
        """A DAY order whose session closed and that the broker no longer shows: it expired (`cancelled`, reason
        `expired`). Never for an order in doubt (the never-twice state machine owns those)."""
        if rec.broker_order_id is None or not rec.status.is_active:
            raise ValueError(f"order {rec.tag} is not an acknowledged active order")
        return self._ledger.update(rec, status=LocalStatus.CANCELLED, reason="expired", event="expired",
                                   detail={"why": why})

    def modify_unknown(self, rec: OrderRecord, price: Decimal, quantity: int, purpose: str) -> None:
        """A modify of `rec` whose outcome is unknown: recorded once the book shows its price and quantity."""
        self._modifies[rec.id] = (price, quantity, purpose)

    def _modified_if_shown(self, rec: OrderRecord, order: Order) -> OrderRecord:
        pending = self._modifies.pop(rec.id, None)
        if pending is None:
            return rec
        price, quantity, purpose = pending
        if (order.price, order.quantity) != (price, quantity):
            return rec
        return self._ledger.update(rec, price=price, quantity=quantity, purpose=purpose, event="modified",
                                   detail={"price": str(price), "quantity": quantity, "seen_in_book": True})

    def _priced_by_trades(self, rec: OrderRecord, order: Order) -> fills.Step | None:
        """The trade book's word on a fill reported without a usable price (None if it cannot be read)."""
        try:
            trades = self._broker.fills()
        except BrokerError as exc:
            log.warning("order %s: a fill without a price, and the trade book cannot be read (%s)", rec.tag,
                        type(exc).__name__)
            return None
        return fills.from_trades(rec.filled_quantity, rec.average_price, trades, order.order_id,
                                 order.filled_quantity)

    def _apply_in_transaction(
        self, rec: OrderRecord, step: fills.Step, status: LocalStatus, reason: str | None, at: datetime,
    ) -> tuple[OrderRecord, FillEvent | None]:
        with self._ledger.transaction() as conn:
            rec = self._ledger.update(
                rec, status=status, filled_quantity=step.filled_quantity, average_price=step.average_price,
                reason=reason, event=status.value, conn=conn,
            )
            fill = None
            if step.new > 0 and step.price is not None:
                fill = FillEvent(rec, step.new, step.price, at)
                conn.execute(
                    t.fills.insert().values(
                        order_id=rec.id, symbol=rec.symbol, side=rec.side.value, quantity=fill.quantity,
                        price=fill.price, at=fill.at,
                    )
                )
                self._on_fill(fill, conn)
        return rec, fill
