"""`OrderManager`: the only path from the service to the broker's order entry.

Every order gets a deterministic client tag from (trading date, task, symbol, side, attempt). The intent is
written to the store (status `sending`) before it is sent: the outbox. A send whose outcome is unknown
(timeout, lost reply, crash) is resolved by looking its tag up in the broker's order book, never by sending
again blind; only a lookup that finds nothing lets the same tag be sent. Submitting a tag that already has a
known order returns that order: a re-run task can never duplicate an order.

Local order states: sending -> pending | open -> filled | cancelled; sending -> rejected | unknown;
failed (never sent: risk check or not enough cash).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Connection, bindparam, select

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerUnavailable,
    Order,
    OrderCompleted,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    RateLimited,
    Side,
)
from swingtrader.clock import Clock, ist_date
from swingtrader.store import Store
from swingtrader.store import tables as t

log = logging.getLogger(__name__)

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


# Built once (orders change thousands of times in a simulated month); values are passed at execution.
_UPDATE_ORDER = t.orders.update().where(t.orders.c.id == bindparam("b_id"))
_INSERT_EVENT = t.order_events.insert()


class LocalStatus(StrEnum):
    SENDING = "sending"
    PENDING = "pending"
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_active(self) -> bool:
        return self in (LocalStatus.SENDING, LocalStatus.PENDING, LocalStatus.OPEN, LocalStatus.UNKNOWN)


_FROM_BROKER = {
    OrderStatus.PENDING: LocalStatus.PENDING,
    OrderStatus.OPEN: LocalStatus.OPEN,
    OrderStatus.FILLED: LocalStatus.FILLED,
    OrderStatus.CANCELLED: LocalStatus.CANCELLED,
    OrderStatus.REJECTED: LocalStatus.REJECTED,
}


def client_tag(trading_date: date, task: str, symbol: str, side: Side, attempt: int = 1) -> str:
    """The deterministic client tag (Kotak `ig`): 18 characters, the same for the same inputs."""
    digest = hashlib.sha1(symbol.encode()).hexdigest()[:6].upper()
    return f"ST{trading_date:%y%m%d}{_TASK_CODES[task]}{side.value[0]}{attempt % 10}{digest}"


@dataclass(frozen=True)
class OrderIntent:
    """What a task wants. `reference_price` (last close or price) drives the band check."""

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

    @property
    def tag(self) -> str:
        return client_tag(self.trading_date, self.task, self.symbol, self.side, self.attempt)


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


@dataclass(frozen=True)
class RiskLimits:
    """Pre-trade checks applied before any order leaves the process."""

    max_order_value: Decimal
    max_deployed_capital: Decimal
    band_pct: Decimal
    kill_switch: Callable[[], bool]
    deployed_capital: Callable[[], Decimal]


@dataclass(frozen=True)
class FillEvent:
    """A newly seen execution of one of our orders (quantity is the increment)."""

    order: OrderRecord
    quantity: int
    price: Decimal
    at: datetime


class OrderManager:
    """Tags, outbox, risk checks and reconciliation for every order the service sends."""

    def __init__(
        self,
        store: Store,
        broker: Broker,
        clock: Clock,
        risk: RiskLimits,
        *,
        on_fill: Callable[[FillEvent, Connection], None] | None = None,
        on_event: Callable[[str, OrderRecord, str], None] | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._clock = clock
        self._risk = risk
        self._on_fill = on_fill or (lambda _f, _c: None)
        self._on_event = on_event or (lambda _k, _o, _d: None)
        self._active: dict[int, OrderRecord] | None = None  # write-through cache of active orders

    # ---- queries -----------------------------------------------------------------------------------------
    def by_tag(self, tag: str) -> OrderRecord | None:
        with self._store.connect() as conn:
            row = conn.execute(select(t.orders).where(t.orders.c.tag == tag)).first()
        return None if row is None else _record(row)

    def active(self, side: Side | None = None, symbol: str | None = None) -> list[OrderRecord]:
        """Orders still working (sending, pending, open or unknown), oldest first. This process is the only
        writer of orders, so they are served from a write-through cache loaded once from the store."""
        if self._active is None:
            q = select(t.orders).where(t.orders.c.status.in_([s.value for s in LocalStatus if s.is_active]))
            with self._store.connect() as conn:
                self._active = {r.id: _record(r) for r in conn.execute(q).all()}
        return [
            r for _, r in sorted(self._active.items())
            if (side is None or r.side is side) and (symbol is None or r.symbol == symbol)
        ]

    def _remember(self, rec: OrderRecord) -> OrderRecord:
        if self._active is not None:
            if rec.status.is_active:
                self._active[rec.id] = rec
            else:
                self._active.pop(rec.id, None)
        return rec

    def for_day(self, trading_date: date, task: str | None = None) -> list[OrderRecord]:
        q = select(t.orders).where(t.orders.c.trading_date == trading_date)
        if task is not None:
            q = q.where(t.orders.c.task == task)
        with self._store.connect() as conn:
            return [_record(r) for r in conn.execute(q.order_by(t.orders.c.id)).all()]

    # ---- writes ------------------------------------------------------------------------------------------
    def record_failed(self, intent: OrderIntent, reason: str) -> OrderRecord:
        """Record an order that was decided but not sent (e.g. `insufficient_funds`), for a later retry."""
        existing = self.by_tag(intent.tag)
        if existing is not None:
            return existing
        return self._insert(intent, LocalStatus.FAILED, reason)

    def submit(self, intent: OrderIntent) -> OrderRecord:
        """Send an order exactly once per tag; returns the local record in its resulting state."""
        existing = self.by_tag(intent.tag)
        if existing is not None:
            if existing.status in (LocalStatus.SENDING, LocalStatus.UNKNOWN):
                resolved = self._resolve(existing)
                if resolved.status not in (LocalStatus.SENDING, LocalStatus.UNKNOWN):
                    return resolved
                return self._send(resolved)
            return existing
        blocked = self._risk_block(intent)
        if blocked:
            rec = self._insert(intent, LocalStatus.FAILED, blocked)
            self._on_event("order_blocked", rec, blocked)
            return rec
        rec = self._insert(intent, LocalStatus.SENDING, None)
        return self._send(rec)

    def _send(self, rec: OrderRecord) -> OrderRecord:
        """Send a stored intent (a new one, or one whose earlier send is known not to have arrived)."""
        request = OrderRequest(
            symbol=rec.symbol, side=rec.side, quantity=rec.quantity, order_type=rec.order_type,
            price=rec.price, tag=rec.tag, amo=rec.amo,
        )
        try:
            order_id = self._broker.place_order(request)
        except OrderRejected as exc:
            rec = self._update(rec, status=LocalStatus.REJECTED, reason=exc.reason, event="rejected")
            self._on_event("order_rejected", rec, exc.reason)
            return rec
        except RateLimited as exc:
            log.warning("order %s not sent: rate limited; the next reconcile sends it", rec.tag)
            return self._update(rec, event="rate_limited", detail={"retry_after": exc.retry_after})
        except (AmbiguousOutcome, BrokerUnavailable) as exc:
            log.warning("order %s: outcome unknown (%s); looking its tag up", rec.tag, type(exc).__name__)
            rec = self._update(rec, status=LocalStatus.UNKNOWN, reason=type(exc).__name__, event="unknown")
            return self._resolve(rec)
        return self._update(rec, status=LocalStatus.PENDING, broker_order_id=order_id, event="sent")

    def _resolve(self, rec: OrderRecord) -> OrderRecord:
        """Look an order of unknown outcome up by its tag. Not found: it stays `unknown` for the next look,
        unless it was never acknowledged at all, in which case `submit` may send it (same tag)."""
        try:
            book = self._broker.orders()
        except (AmbiguousOutcome, BrokerUnavailable) as exc:
            log.warning("order %s: cannot read the order book to resolve it (%s)", rec.tag, type(exc).__name__)
            return rec
        match = next((o for o in book if o.tag == rec.tag), None)
        if match is None:
            return rec
        rec = self._update(rec, broker_order_id=match.order_id, event="resolved")
        return self._apply(rec, match)

    def modify(self, rec: OrderRecord, *, price: Decimal, quantity: int, purpose: str | None = None) -> OrderRecord:
        """Change an open order; a completed one is recorded as filled (from the book) instead."""
        if rec.broker_order_id is None:
            return rec
        try:
            self._broker.modify_order(rec.broker_order_id, quantity=quantity, price=price, order_type=rec.order_type)
        except OrderCompleted:
            self.reconcile()
            return self.by_tag(rec.tag) or rec
        except OrderRejected as exc:
            log.warning("modify of %s refused: %s", rec.tag, exc.reason)
            return rec
        except RateLimited:
            log.warning("modify of %s not sent: rate limited; the next cycle tries again", rec.tag)
            return rec
        except (AmbiguousOutcome, BrokerUnavailable):
            self.reconcile()
            return self.by_tag(rec.tag) or rec
        return self._update(
            rec, price=price, quantity=quantity, purpose=purpose or rec.purpose, event="modified",
            detail={"price": str(price), "quantity": quantity},
        )

    def reconcile(self) -> list[Order]:
        """One order-book read: bring every active local order up to date, report new fills. Returns the book.

        The outbox relay: an intent left `sending` or `unknown` (the process died, or the reply was lost) that
        the book does not show is sent now if it is from today, and marked `failed` (`not_sent`) otherwise."""
        book = self._broker.orders()
        by_id = {o.order_id: o for o in book}
        by_tag = {o.tag: o for o in book if o.tag}
        today = ist_date(self._clock.now())
        for rec in self.active():
            match = by_id.get(rec.broker_order_id or "") or by_tag.get(rec.tag)
            if match is None:
                if rec.status in (LocalStatus.SENDING, LocalStatus.UNKNOWN) and rec.broker_order_id is None:
                    if rec.trading_date == today:
                        self._send(rec)
                    else:
                        self._update(rec, status=LocalStatus.FAILED, reason="not_sent", event="expired")
                continue
            if rec.broker_order_id is None:
                rec = self._update(rec, broker_order_id=match.order_id, event="resolved")
            self._apply(rec, match)
        return book

    # ---- internals ---------------------------------------------------------------------------------------
    def _apply(self, rec: OrderRecord, order: Order) -> OrderRecord:
        """Mirror the broker's view of one order. The status change, the fill and the position update are one
        transaction, so a crash can never record a fill without its position or the other way round."""
        status = _FROM_BROKER[order.status]
        new_fill = order.filled_quantity - rec.filled_quantity
        if status is rec.status and new_fill <= 0:
            return rec
        fill_price = None
        if new_fill > 0 and order.average_price is not None:
            if rec.filled_quantity == 0:
                fill_price = order.average_price
            else:
                prev_value = (rec.average_price or Decimal(0)) * rec.filled_quantity
                fill_price = ((order.average_price * order.filled_quantity - prev_value) / new_fill).quantize(
                    Decimal("0.0001")
                )
        try:
            rec, fill = self._apply_in_transaction(rec, order, status, new_fill, fill_price)
        except BaseException:
            self._active = None  # the cache may hold the rolled-back state: reload it next time
            raise
        if fill is not None:
            self._on_event("order_filled", rec, f"{fill.quantity} @ {fill.price}")
        if status is LocalStatus.REJECTED:
            self._on_event("order_rejected", rec, order.reject_reason or "")
        return rec

    def _apply_in_transaction(
        self, rec: OrderRecord, order: Order, status: LocalStatus, new_fill: int, fill_price: Decimal | None
    ) -> tuple[OrderRecord, FillEvent | None]:
        with self._store.begin() as conn:
            rec = self._update(
                rec, status=status, filled_quantity=order.filled_quantity, average_price=order.average_price,
                reason=order.reject_reason if status is LocalStatus.REJECTED else rec.reason, event=status.value,
                conn=conn,
            )
            fill = None
            if new_fill > 0 and fill_price is not None:
                fill = FillEvent(rec, new_fill, fill_price, self._clock.now())
                conn.execute(
                    t.fills.insert().values(
                        order_id=rec.id, symbol=rec.symbol, side=rec.side.value, quantity=fill.quantity,
                        price=fill.price, at=fill.at,
                    )
                )
                self._on_fill(fill, conn)
        return rec, fill

    def _risk_block(self, intent: OrderIntent) -> str | None:
        if self._risk.kill_switch():
            return "kill_switch"
        ref = intent.price if intent.price is not None else intent.reference_price
        if intent.side is Side.BUY:
            value = ref * intent.quantity
            if value > self._risk.max_order_value:
                return "max_order_value"
            if self._risk.deployed_capital() + value > self._risk.max_deployed_capital:
                return "max_deployed_capital"
        if intent.price is not None:
            band = intent.reference_price * self._risk.band_pct / Decimal(100)
            if not intent.reference_price - band <= intent.price <= intent.reference_price + band:
                return "outside_price_band"
        return None

    def _insert(self, intent: OrderIntent, status: LocalStatus, reason: str | None) -> OrderRecord:
        now = self._clock.now()
        with self._store.begin() as conn:
            res = conn.execute(
                t.orders.insert().values(
                    tag=intent.tag, broker_order_id=None, trading_date=intent.trading_date, task=intent.task,
                    purpose=intent.purpose, symbol=intent.symbol, side=intent.side.value, quantity=intent.quantity,
                    order_type=intent.order_type.value, price=intent.price, amo=intent.amo, status=status.value,
                    filled_quantity=0, average_price=None, reason=reason, created_at=now, updated_at=now,
                )
            )
            oid = res.inserted_primary_key[0]
            conn.execute(
                t.order_events.insert().values(order_id=oid, at=now, event="created", status=status.value,
                                               detail={"reason": reason} if reason else None)
            )
            row = conn.execute(select(t.orders).where(t.orders.c.id == oid)).one()
        return self._remember(_record(row))

    def _update(
        self, rec: OrderRecord, *, event: str, detail: dict | None = None, conn: Connection | None = None,
        **values: object,
    ) -> OrderRecord:
        if conn is None:
            with self._store.begin() as own:
                return self._update(rec, event=event, detail=detail, conn=own, **values)
        now = self._clock.now()
        db_values = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in values.items()}
        conn.execute(_UPDATE_ORDER, {"b_id": rec.id, "updated_at": now, **db_values})
        status = values.get("status", rec.status)
        conn.execute(_INSERT_EVENT, {"order_id": rec.id, "at": now, "event": event, "status": str(status),
                                     "detail": detail})
        return self._remember(replace(rec, **values))

def _record(row) -> OrderRecord:
    return OrderRecord(
        id=row.id, tag=row.tag, broker_order_id=row.broker_order_id, trading_date=row.trading_date, task=row.task,
        purpose=row.purpose, symbol=row.symbol, side=Side(row.side), quantity=row.quantity,
        order_type=OrderType(row.order_type), price=row.price, amo=row.amo, status=LocalStatus(row.status),
        filled_quantity=row.filled_quantity, average_price=row.average_price, reason=row.reason,
    )
