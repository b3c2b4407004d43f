"""`OrderManager`: the only path from the service to the broker's order entry.

Identity. An intent is keyed by (trading date, task, symbol, side, attempt). Its client tag (Kotak `ig`) is
allocated once, when the intent is first stored, from a per-day sequence in the store
(`ST<yymmdd><task><side><seq:05d>`, 16 characters): unique per account per day by construction. A re-run of
the same intent (after a crash, or a task re-run) finds the stored intent by its key, so it reuses the same
tag. The tag only resolves a send whose outcome is unknown; once the broker acknowledged the order, every
lookup is by its order number (Kotak may rewrite `GuiOrdId` after a modify or cancel).

Never twice. The intent is stored (`sending`) before it is sent (the outbox). State machine:

    (new) --risk check fails--> failed
    (new) --> sending --ack--> pending | open --book--> filled | cancelled | rejected
              sending --refused (Not_Ok)--> rejected
              sending --not sent (429, connection refused)--> sending, sent again by the next reconcile
              sending --reply lost / unreadable / session died / duplicate tag--> unknown
              sending, found at start-up (a crash may have come mid-send) --> treated as unknown
    unknown --tag found in the order book or trade book--> pending | open | filled | ... (by order number)
    unknown --absence PROVEN--> sending again (today; at most `max_sends` sends in all), else failed (not_sent)
    unknown --no proof by `deadline` (and at least `min_lookups` lookups)--> lost, notified (`order_lost`)
    lost --tag found later--> resolved as above; otherwise it waits for a person

Absence is proven only by positive evidence (`swingtrader.order_evidence`): successful reads of the order book
AND the trade book, both made at least `settle` after the last moment a send could have reached the broker,
both complete (the order book has rows and shows every order acknowledged today, the trade book every order
known to have filled today), neither showing the tag (as sent or rewritten by a cancel), with no unreadable row
and no unknown rewritten-tag row on the same symbol and side that could be ours. An order whose send ended in a
duplicate-tag refusal is never sent again. Proof attempts (the extra trade-book read) follow a bounded backoff;
the order book itself is read by `reconcile` anyway.
The doubt bookkeeping (when a send may last have arrived, lookups made) lives in memory: after a restart every
`sending` / `unknown` intent starts a fresh doubt, which only delays a re-send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, bindparam, func, select

from swingtrader import fills
from swingtrader import order_evidence as evidence
from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerError,
    BrokerUnavailable,
    DuplicateTag,
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
from swingtrader.order_trouble import Troubles
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import inserted_id

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
T = TypeVar("T")
ATTENTION = "attention"  # the order event recording that settling an order failed (`OrderManager.isolated`)
_RECOVERY = "start-up recovery"  # the recovery hook's key among the troubles
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
    LOST = "lost"  # its send may have reached the broker, nothing proves either way: a person decides

    @property
    def is_active(self) -> bool:
        return self in (LocalStatus.SENDING, LocalStatus.PENDING, LocalStatus.OPEN, LocalStatus.UNKNOWN,
                        LocalStatus.LOST)

    @property
    def in_doubt(self) -> bool:
        """Sent, or maybe sent, without an order number from the broker."""
        return self in (LocalStatus.SENDING, LocalStatus.UNKNOWN, LocalStatus.LOST)


_FROM_BROKER = {
    OrderStatus.PENDING: LocalStatus.PENDING,
    OrderStatus.OPEN: LocalStatus.OPEN,
    OrderStatus.FILLED: LocalStatus.FILLED,
    OrderStatus.CANCELLED: LocalStatus.CANCELLED,
    OrderStatus.REJECTED: LocalStatus.REJECTED,
}


def client_tag(trading_date: date, task: str, side: Side, sequence: int) -> str:
    """The client tag (Kotak `ig`) of the day's `sequence`-th stored intent: 16 characters, unique per day
    because the sequence is (no hash, no modulo)."""
    if not 0 < sequence < 100_000:
        raise ValueError(f"order sequence {sequence} does not fit the tag")
    return f"ST{trading_date:%y%m%d}{_TASK_CODES[task]}{side.value[0]}{sequence:05d}"


@dataclass(frozen=True)
class ResolvePolicy:
    """How an order of unknown outcome is looked up. `settle` must exceed the longest time the broker takes
    to show a new order in its books."""

    settle: timedelta = timedelta(seconds=60)
    max_backoff: timedelta = timedelta(minutes=15)
    deadline: timedelta = timedelta(hours=1)
    min_lookups: int = 3
    max_sends: int = 3


@dataclass
class _Doubt:
    """In-memory state of one intent in doubt."""

    since: datetime  # the deadline counts from here
    sent_at: datetime  # the last moment a send may have reached the broker
    next_at: datetime  # the next proof attempt (bounded backoff)
    lookups: int = 0
    sends: int = 1
    resend: bool = True  # False after a duplicate-tag refusal: the broker holds an order with this tag
    unsent: bool = False  # known not to have reached the broker (429, connection refused): send again


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
        policy: ResolvePolicy | None = None,
    ) -> None:
        self._store = store
        self._broker = broker
        self._clock = clock
        self._risk = risk
        self._on_fill = on_fill or (lambda _f, _c: None)
        self._on_event = on_event or (lambda _k, _o, _d: None)
        self._policy = policy or ResolvePolicy()
        self._active: dict[int, OrderRecord] | None = None  # write-through cache of active orders
        self._doubts: dict[int, _Doubt] = {}
        self._modifies: dict[int, tuple[Decimal, int, str]] = {}  # modifies whose outcome is unknown
        self._recover: Callable[[Sequence[Order]], bool] | None = None  # `recover_at_next_reconcile`
        self._troubles = Troubles()
        self._acked_at: dict[str, datetime] = {}  # order number -> when this process saw it acknowledged

    # ---- queries -----------------------------------------------------------------------------------------
    def by_tag(self, tag: str) -> OrderRecord | None:
        with self._store.connect() as conn:
            row = conn.execute(select(t.orders).where(t.orders.c.tag == tag)).first()
        return None if row is None else _record(row)

    def find(self, intent: OrderIntent) -> OrderRecord | None:
        """The stored intent with the same key (trading date, task, symbol, side, attempt), if any."""
        c = t.orders.c
        q = select(t.orders).where(
            c.trading_date == intent.trading_date, c.task == intent.task, c.symbol == intent.symbol,
            c.side == intent.side.value, c.attempt == intent.attempt,
        ).order_by(c.id)
        with self._store.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _record(row)

    def active(self, side: Side | None = None, symbol: str | None = None) -> list[OrderRecord]:
        """Orders still working (sending, pending, open, unknown or lost), oldest first. This process is the
        only writer of orders, so they are served from a write-through cache loaded once from the store."""
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
        if not rec.status.in_doubt or rec.broker_order_id is not None:
            self._doubts.pop(rec.id, None)
        return rec

    def symbols_since(self, day: date) -> set[str]:
        """Symbols of our orders (any status) of trading dates from `day` on."""
        q = select(t.orders.c.symbol).where(t.orders.c.trading_date >= day).distinct()
        with self._store.connect() as conn:
            return set(conn.execute(q).scalars())

    def for_day(self, trading_date: date, task: str | None = None) -> list[OrderRecord]:
        q = select(t.orders).where(t.orders.c.trading_date == trading_date)
        if task is not None:
            q = q.where(t.orders.c.task == task)
        with self._store.connect() as conn:
            return [_record(r) for r in conn.execute(q.order_by(t.orders.c.id)).all()]

    # ---- writes ------------------------------------------------------------------------------------------
    def record_failed(self, intent: OrderIntent, reason: str) -> OrderRecord:
        """Record an order that was decided but not sent (e.g. `insufficient_funds`), for a later retry."""
        existing = self.find(intent)
        if existing is not None:
            return existing
        return self._insert(intent, LocalStatus.FAILED, reason)

    def submit(self, intent: OrderIntent) -> OrderRecord:
        """Send an intent at most once; returns the local record in its resulting state. An intent already
        stored is never sent blind: one in doubt is looked up (and sent again only on proof of absence)."""
        existing = self.find(intent)
        if existing is not None:
            if existing.status.in_doubt and existing.broker_order_id is None:
                return self._resolve(existing)
            return existing
        blocked = self._risk_block(intent)
        if blocked:
            rec = self._insert(intent, LocalStatus.FAILED, blocked)
            self._on_event("order_blocked", rec, blocked)
            return rec
        rec = self._insert(intent, LocalStatus.SENDING, None)
        return self._send(rec)

    def _send(self, rec: OrderRecord) -> OrderRecord:
        """Send a stored intent: a new one, or one known not to have reached the broker."""
        request = OrderRequest(
            symbol=rec.symbol, side=rec.side, quantity=rec.quantity, order_type=rec.order_type,
            price=rec.price, tag=rec.tag, amo=rec.amo,
        )
        doubt = self._doubts.get(rec.id)
        sends = (doubt.sends if doubt is not None else 0) + 1  # sends that may have reached the broker
        self._doubts.pop(rec.id, None)
        try:
            order_id = self._broker.place_order(request)
        except OrderRejected as exc:
            rec = self._update(rec, status=LocalStatus.REJECTED, reason=exc.reason, event="rejected")
            self._on_event("order_rejected", rec, exc.reason)
            return rec
        except (RateLimited, BrokerUnavailable) as exc:  # refused before the broker took it: not sent
            log.warning("order %s not sent (%s); the next reconcile sends it", rec.tag, type(exc).__name__)
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now, sends=sends - 1, unsent=True)
            return self._update(rec, status=LocalStatus.SENDING, event="not_sent",
                                detail={"error": type(exc).__name__})
        except AmbiguousOutcome as exc:
            duplicate = isinstance(exc, DuplicateTag)
            log.warning("order %s: outcome unknown (%s); looking its tag up", rec.tag, type(exc).__name__)
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle, sends=sends, resend=not duplicate)
            rec = self._update(rec, status=LocalStatus.UNKNOWN, reason=type(exc).__name__, event="unknown")
            return self._resolve(rec)
        except BaseException:
            # anything else (login refused, a bug): it may or may not have gone out; doubt it
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle, sends=sends)
            raise
        self._acked_at[order_id] = self._clock.now()
        return self._update(rec, status=LocalStatus.PENDING, broker_order_id=order_id, event="sent")

    def _resolve(self, rec: OrderRecord) -> OrderRecord:
        """Look one order in doubt up (an order-book read, and a trade-book read when a proof is due)."""
        read_at = self._clock.now()
        try:
            book = self._broker.orders()
        except BrokerError as exc:
            log.warning("order %s: cannot read the order book to resolve it (%s)", rec.tag, type(exc).__name__)
            return self._failed_lookup(rec)
        return self._look_up(rec, book, read_at)

    def modify(self, rec: OrderRecord, *, price: Decimal, quantity: int, purpose: str | None = None) -> OrderRecord:
        """Change an open order (by its order number); a completed one is recorded as filled instead."""
        if rec.broker_order_id is None:
            return rec
        try:
            self._broker.modify_order(rec.broker_order_id, quantity=quantity, price=price, order_type=rec.order_type)
        except OrderCompleted:
            self.reconcile()
            return self._reload(rec)
        except OrderRejected as exc:
            log.warning("modify of %s refused: %s", rec.tag, exc.reason)
            return rec
        except RateLimited:
            log.warning("modify of %s not sent: rate limited; the next cycle tries again", rec.tag)
            return rec
        except (AmbiguousOutcome, BrokerUnavailable):
            # no extra read now: the next reconcile records the change if the book shows it
            self._modifies[rec.id] = (price, quantity, purpose or rec.purpose)
            return rec
        return self._update(
            rec, price=price, quantity=quantity, purpose=purpose or rec.purpose, event="modified",
            detail={"price": str(price), "quantity": quantity},
        )

    def reconcile(self) -> list[Order]:
        """One order-book read: bring every active local order up to date, report new fills. Returns the book.

        Acknowledged orders are matched by order number, orders in doubt by tag. The outbox relay: an intent
        known not to have been sent is sent now (today's) or marked `failed` (`not_sent`, an earlier day's); an
        intent in doubt is sent again only on proof of absence (see the module docstring)."""
        read_at = self._clock.now()
        try:
            book = self._broker.orders()
        except BrokerError:
            for rec in self.active():
                if rec.broker_order_id is None and rec.status.in_doubt:
                    self._failed_lookup(rec)  # a lookup that could not be made still counts towards `lost`
            raise
        if self._recover is not None:
            self._run_recovery(book)
        by_id = {o.order_id: o for o in book}
        for rec in self.active():
            if rec.broker_order_id is None:
                self.isolated(rec, "lookup", partial(self._look_up, rec, book, read_at))
            elif rec.broker_order_id in by_id:
                self.isolated(rec, "reconcile", partial(self._mirror, rec, by_id[rec.broker_order_id]))
        return book

    def _mirror(self, rec: OrderRecord, row: Order) -> OrderRecord:
        return self._apply(self._modified_if_shown(rec, row), row)

    def isolated(self, rec: OrderRecord, what: str, settle: Callable[[], T]) -> T | None:
        """Run `settle` (bringing `rec` up to date) unless a failure of it is waiting for its backoff. A failure is
        recorded against the order (event `attention`: the dashboard lists it), told to a person the first time
        (`order_attention`), retried with backoff, and never raised. Returns what `settle` returned (None if it
        did not run or failed)."""
        now = self._clock.now()
        if not self._troubles.due(rec.id, now):
            return None
        try:
            result = settle()
        except Exception as exc:  # one order's trouble must not stop the others
            attempts = self._troubles.failed(rec.id, now)
            why = f"{what} failed: {type(exc).__name__}: {exc}"[:300]
            log.error("order %s: %s (attempt %d; retried with backoff)", rec.tag, why, attempts)
            current = self._reload(rec)
            self._update(current, event=ATTENTION, detail={"why": why, "attempts": attempts})
            if attempts == 1:
                self._on_event("order_attention", current, why)
            return None
        if self._troubles.cleared(rec.id):
            self._update(self._reload(rec), event="attention_over")
        return result

    def in_trouble(self, rec: OrderRecord) -> bool:
        """Whether settling `rec` failed last time (it is retried with backoff)."""
        return rec.id in self._troubles

    def _run_recovery(self, book: Sequence[Order]) -> None:
        """The start-up recovery hook: done when it returns True; a failure is retried with backoff."""
        recover, now = self._recover, self._clock.now()
        if recover is None or not self._troubles.due(_RECOVERY, now):
            return
        try:
            done = recover(book)
        except Exception as exc:
            attempts = self._troubles.failed(_RECOVERY, now)
            log.error("start-up recovery failed (%s: %s); retried with backoff (attempt %d)", type(exc).__name__,
                      exc, attempts)
            return
        self._troubles.cleared(_RECOVERY)
        if done:
            self._recover = None

    def missing(self, book: Sequence[Order]) -> list[OrderRecord]:
        """Acknowledged active orders that `book` (today's order book) does not show. An empty read (5203, a
        stale book) proves nothing about today's orders: those acknowledged today are then not listed."""
        shown = {o.order_id for o in book}
        today = ist_date(self._clock.now())
        return [r for r in self.active() if r.broker_order_id is not None and r.broker_order_id not in shown
                and (book or r.created_at is None or ist_date(r.created_at) != today)]

    def recover_at_next_reconcile(self, recover: Callable[[Sequence[Order]], bool]) -> None:
        """Have each successful `reconcile` hand its book to `recover` before it updates any order, until `recover`
        returns True (done); if it raises, the failure is logged and it is retried with backoff: the start-up
        recovery (`swingtrader.recovery`). It never stops the reconcile."""
        self._recover = recover

    def settle(self, rec: OrderRecord, order: Order, *, at: datetime | None) -> OrderRecord:
        """Record the broker's final word on an order found outside today's book (a single-order read, the
        trade book): like a book row, with a new fill dated `at` (the broker's time; now if None) and the
        broker's reason for a cancellation (`expired`) kept too."""
        return self._apply(rec, order, at=at, cancel_reason=True)

    def expire(self, rec: OrderRecord, why: str) -> OrderRecord:
        """A DAY order whose session closed and that the broker no longer shows: it expired (`cancelled`, reason
        `expired`). Never for an order in doubt (the never-twice state machine owns those)."""
        if rec.broker_order_id is None or not rec.status.is_active:
            raise ValueError(f"order {rec.tag} is not an acknowledged active order")
        return self._update(rec, status=LocalStatus.CANCELLED, reason="expired", event="expired",
                            detail={"why": why})

    def _modified_if_shown(self, rec: OrderRecord, order: Order) -> OrderRecord:
        """Record a modify whose reply was lost once the book shows its price and quantity."""
        pending = self._modifies.pop(rec.id, None)
        if pending is None:
            return rec
        price, quantity, purpose = pending
        if (order.price, order.quantity) != (price, quantity):
            return rec
        return self._update(rec, price=price, quantity=quantity, purpose=purpose, event="modified",
                            detail={"price": str(price), "quantity": quantity, "seen_in_book": True})

    # ---- the doubt state machine -------------------------------------------------------------------------
    def _doubt(self, rec: OrderRecord) -> _Doubt:
        doubt = self._doubts.get(rec.id)
        if doubt is None:  # a restart, or a send that raised something unexpected: it may have gone out now
            now = self._clock.now()
            doubt = self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle)
        return doubt

    def _look_up(self, rec: OrderRecord, book: Sequence[Order], read_at: datetime) -> OrderRecord:
        match = evidence.find(book, rec.tag)
        if match is not None:
            rec = self._update(rec, broker_order_id=match.order_id, event="resolved")
            return self._apply(rec, match)
        doubt = self._doubt(rec)
        if doubt.unsent:
            return self._send_again(rec, doubt)
        now = self._clock.now()
        if now < doubt.next_at or rec.status is LocalStatus.LOST:
            return self._give_up_if_due(rec, doubt)
        self._count_lookup(doubt, now)
        if read_at < doubt.sent_at + self._policy.settle:
            return self._give_up_if_due(rec, doubt)
        where = self._known(rec, read_at)
        gap = evidence.order_book_gap(book, where, complete=getattr(self._broker, "books_are_complete", False))
        if gap is not None:
            return self._no_proof(rec, doubt, gap)
        try:
            fills = self._broker.fills()
        except BrokerError as exc:
            return self._no_proof(rec, doubt, f"cannot read the trade book ({type(exc).__name__})")
        fill = evidence.find(fills, rec.tag)
        if fill is not None:
            return self._update(rec, broker_order_id=fill.order_id, event="resolved")  # applied by the next read
        gap = evidence.trade_book_gap(fills, where)
        if gap is not None:
            return self._no_proof(rec, doubt, gap)
        if not doubt.resend:  # the broker said it holds this tag, yet neither book shows it
            return self._lose(rec, "duplicate tag refused, but neither book shows the order")
        log.info("order %s: absent from complete order and trade books %s after its send", rec.tag,
                 read_at - doubt.sent_at)
        return self._send_again(rec, doubt)

    def _no_proof(self, rec: OrderRecord, doubt: _Doubt, why: str) -> OrderRecord:
        log.info("order %s: still unknown: %s", rec.tag, why)
        return self._give_up_if_due(rec, doubt)

    def _known(self, rec: OrderRecord, read_at: datetime) -> evidence.Doubt:
        """`rec` in doubt, with the order numbers acknowledged today before the read made at `read_at` (and those
        with fills), and every order number of the last week."""
        today = ist_date(self._clock.now())
        c = t.orders.c
        q = select(c.broker_order_id, c.created_at, c.filled_quantity).where(
            c.broker_order_id.is_not(None), c.trading_date >= today - timedelta(days=7))
        with self._store.connect() as conn:
            rows = conn.execute(q).all()
        acked = [r for r in rows if ist_date(r.created_at) == today
                 and self._acked_at.get(r.broker_order_id, read_at - timedelta(seconds=1)) < read_at]
        today_known = evidence.Known(frozenset(r.broker_order_id for r in acked),
                                     frozenset(r.broker_order_id for r in acked if r.filled_quantity > 0))
        return evidence.Doubt(rec.tag, rec.symbol, rec.side, today_known, frozenset(r.broker_order_id for r in rows))

    def _count_lookup(self, doubt: _Doubt, now: datetime) -> None:
        doubt.lookups += 1
        doubt.next_at = now + min(self._policy.settle * 2 ** doubt.lookups, self._policy.max_backoff)

    def _failed_lookup(self, rec: OrderRecord) -> OrderRecord:
        doubt, now = self._doubt(rec), self._clock.now()
        if not doubt.unsent and now >= doubt.next_at:
            self._count_lookup(doubt, now)
        return self._give_up_if_due(rec, doubt)

    def _send_again(self, rec: OrderRecord, doubt: _Doubt) -> OrderRecord:
        if rec.trading_date != ist_date(self._clock.now()):
            return self._update(rec, status=LocalStatus.FAILED, reason="not_sent", event="expired")
        if doubt.sends >= self._policy.max_sends:
            rec = self._update(rec, status=LocalStatus.FAILED, reason="not_sent", event="gave_up")
            self._on_event("order_not_sent", rec, f"not accepted after {doubt.sends} sends")
            return rec
        self._doubts[rec.id] = doubt
        return self._send(rec)

    def _give_up_if_due(self, rec: OrderRecord, doubt: _Doubt) -> OrderRecord:
        if rec.status is LocalStatus.LOST:
            return rec
        if doubt.lookups >= self._policy.min_lookups and self._clock.now() >= doubt.since + self._policy.deadline:
            return self._lose(rec, f"no proof either way after {doubt.lookups} lookups")
        return rec

    def _lose(self, rec: OrderRecord, why: str) -> OrderRecord:
        log.error("order %s is lost: %s; a person must check the broker's books", rec.tag, why)
        rec = self._update(rec, status=LocalStatus.LOST, reason=why, event="lost")
        self._on_event("order_lost", rec, why)
        return rec

    def _reload(self, rec: OrderRecord) -> OrderRecord:
        with self._store.connect() as conn:
            row = conn.execute(select(t.orders).where(t.orders.c.id == rec.id)).first()
        return rec if row is None else _record(row)

    # ---- internals ---------------------------------------------------------------------------------------
    def _apply(
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
            status = _FROM_BROKER[order.status]
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
            self._active = None  # the cache may hold the rolled-back state: reload it next time
            raise
        if fill is not None:
            self._on_event("order_filled", rec, f"{fill.quantity} @ {fill.price}")
        if status is LocalStatus.REJECTED:
            self._on_event("order_rejected", rec, order.reject_reason or "")
        return rec

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
        with self._store.begin() as conn:
            rec = self._update(
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
            sequence = conn.execute(
                select(func.count()).select_from(t.orders).where(t.orders.c.trading_date == intent.trading_date)
            ).scalar_one() + 1
            res = conn.execute(
                t.orders.insert().values(
                    tag=client_tag(intent.trading_date, intent.task, intent.side, sequence), attempt=intent.attempt,
                    broker_order_id=None, trading_date=intent.trading_date, task=intent.task,
                    purpose=intent.purpose, symbol=intent.symbol, side=intent.side.value, quantity=intent.quantity,
                    order_type=intent.order_type.value, price=intent.price, amo=intent.amo, status=status.value,
                    filled_quantity=0, average_price=None, reason=reason, created_at=now, updated_at=now,
                )
            )
            oid = inserted_id(res)
            conn.execute(
                t.order_events.insert().values(order_id=oid, at=now, event="created", status=status.value,
                                               detail={"reason": reason} if reason else None)
            )
            row = conn.execute(select(t.orders).where(t.orders.c.id == oid)).one()
        return self._remember(_record(row))

    def _update(
        self, rec: OrderRecord, *, event: str, detail: dict[str, Any] | None = None, conn: Connection | None = None,
        **values: Any,
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


def _record(row: Row[Any]) -> OrderRecord:
    return OrderRecord(
        id=row.id, tag=row.tag, broker_order_id=row.broker_order_id, trading_date=row.trading_date, task=row.task,
        purpose=row.purpose, symbol=row.symbol, side=Side(row.side), quantity=row.quantity,
        order_type=OrderType(row.order_type), price=row.price, amo=row.amo, status=LocalStatus(row.status),
        filled_quantity=row.filled_quantity, average_price=row.average_price, reason=row.reason,
        attempt=row.attempt, created_at=row.created_at,
    )
