"""The relay to the broker and the never-twice lookup of orders in doubt.

A stored intent is sent once; a send whose outcome is unknown is looked up by its client tag, and sent again
only on PROOF of absence (`swingtrader.order_evidence`): successful reads of the order book AND the trade book,
both made at least `settle` after the last moment a send could have reached the broker, both complete, neither
showing the tag, with no row that could be ours. An order whose send ended in a duplicate-tag refusal is never
sent again. Without proof by `deadline` (and at least `min_lookups` lookups) it is `lost`: a person decides.
Proof attempts follow a bounded backoff. The doubt bookkeeping lives in memory: after a restart every `sending`
/ `unknown` intent starts a fresh doubt, which only delays a re-send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from swingtrader import order_evidence as evidence
from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerError,
    BrokerUnavailable,
    DuplicateTag,
    Order,
    OrderRejected,
    OrderRequest,
    RateLimited,
)
from swingtrader.clock import Clock, ist_date
from swingtrader.order_path.intent import OrderRecord
from swingtrader.order_path.ledger import Ledger
from swingtrader.order_path.state import LocalStatus

log = logging.getLogger(__name__)


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


class Relay:
    """Sends stored intents and resolves the ones in doubt. `apply` records a book row found for an order
    (`Books.apply`); `on_event` tells a person (`order_rejected`, `order_not_sent`, `order_lost`)."""

    def __init__(
        self, ledger: Ledger, broker: Broker, clock: Clock, policy: ResolvePolicy,
        apply: Callable[[OrderRecord, Order], OrderRecord], on_event: Callable[[str, OrderRecord, str], None],
    ) -> None:
        self._ledger = ledger
        self._broker = broker
        self._clock = clock
        self._policy = policy
        self._apply = apply
        self._on_event = on_event
        self._doubts: dict[int, _Doubt] = {}
        self._acked_at: dict[str, datetime] = {}  # order number -> when this process saw it acknowledged

    def forget(self, rec: OrderRecord) -> None:
        """Drop the doubt of an order no longer in doubt (the ledger's write hook)."""
        if not rec.status.in_doubt or rec.broker_order_id is not None:
            self._doubts.pop(rec.id, None)

    def send(self, rec: OrderRecord) -> OrderRecord:
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
            rec = self._ledger.update(rec, status=LocalStatus.REJECTED, reason=exc.reason, event="rejected")
            self._on_event("order_rejected", rec, exc.reason)
            return rec
        except (RateLimited, BrokerUnavailable) as exc:  # refused before the broker took it: not sent
            log.warning("order %s not sent (%s); the next reconcile sends it", rec.tag, type(exc).__name__)
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now, sends=sends - 1, unsent=True)
            return self._ledger.update(rec, status=LocalStatus.SENDING, event="not_sent",
                                       detail={"error": type(exc).__name__})
        except AmbiguousOutcome as exc:
            duplicate = isinstance(exc, DuplicateTag)
            log.warning("order %s: outcome unknown (%s); looking its tag up", rec.tag, type(exc).__name__)
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle, sends=sends, resend=not duplicate)
            rec = self._ledger.update(rec, status=LocalStatus.UNKNOWN, reason=type(exc).__name__, event="unknown")
            return self.resolve(rec)
        except BaseException:
            # anything else (login refused, a bug): it may or may not have gone out; doubt it
            now = self._clock.now()
            self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle, sends=sends)
            raise
        self._acked_at[order_id] = self._clock.now()
        return self._ledger.update(rec, status=LocalStatus.PENDING, broker_order_id=order_id, event="sent")

    def resolve(self, rec: OrderRecord) -> OrderRecord:
        """Look one order in doubt up (an order-book read, and a trade-book read when a proof is due)."""
        read_at = self._clock.now()
        try:
            book = self._broker.orders()
        except BrokerError as exc:
            log.warning("order %s: cannot read the order book to resolve it (%s)", rec.tag, type(exc).__name__)
            return self.failed_lookup(rec)
        return self.look_up(rec, book, read_at)

    def look_up(self, rec: OrderRecord, book: Sequence[Order], read_at: datetime) -> OrderRecord:
        """Resolve `rec` (in doubt) against `book`, the order book read at `read_at`."""
        match = evidence.find(book, rec.tag)
        if match is not None:
            rec = self._ledger.update(rec, broker_order_id=match.order_id, event="resolved")
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
        if fill is not None:  # applied by the next read
            return self._ledger.update(rec, broker_order_id=fill.order_id, event="resolved")
        gap = evidence.trade_book_gap(fills, where)
        if gap is not None:
            return self._no_proof(rec, doubt, gap)
        if not doubt.resend:  # the broker said it holds this tag, yet neither book shows it
            return self._lose(rec, "duplicate tag refused, but neither book shows the order")
        log.info("order %s: absent from complete order and trade books %s after its send", rec.tag,
                 read_at - doubt.sent_at)
        return self._send_again(rec, doubt)

    def failed_lookup(self, rec: OrderRecord) -> OrderRecord:
        """A lookup that could not be made (the book unreadable) still counts towards `lost`."""
        doubt, now = self._doubt(rec), self._clock.now()
        if not doubt.unsent and now >= doubt.next_at:
            self._count_lookup(doubt, now)
        return self._give_up_if_due(rec, doubt)

    def _doubt(self, rec: OrderRecord) -> _Doubt:
        doubt = self._doubts.get(rec.id)
        if doubt is None:  # a restart, or a send that raised something unexpected: it may have gone out now
            now = self._clock.now()
            doubt = self._doubts[rec.id] = _Doubt(now, now, now + self._policy.settle)
        return doubt

    def _no_proof(self, rec: OrderRecord, doubt: _Doubt, why: str) -> OrderRecord:
        log.info("order %s: still unknown: %s", rec.tag, why)
        return self._give_up_if_due(rec, doubt)

    def _known(self, rec: OrderRecord, read_at: datetime) -> evidence.Doubt:
        """`rec` in doubt, with the order numbers acknowledged today before the read made at `read_at` (and those
        with fills), and every order number of the last week."""
        today = ist_date(self._clock.now())
        rows = self._ledger.acknowledged_since(today - timedelta(days=7))
        acked = [r for r in rows if ist_date(r.created_at) == today
                 and self._acked_at.get(r.broker_order_id, read_at - timedelta(seconds=1)) < read_at]
        today_known = evidence.Known(frozenset(r.broker_order_id for r in acked),
                                     frozenset(r.broker_order_id for r in acked if r.filled_quantity > 0))
        return evidence.Doubt(rec.tag, rec.symbol, rec.side, today_known, frozenset(r.broker_order_id for r in rows))

    def _count_lookup(self, doubt: _Doubt, now: datetime) -> None:
        doubt.lookups += 1
        doubt.next_at = now + min(self._policy.settle * 2 ** doubt.lookups, self._policy.max_backoff)

    def _send_again(self, rec: OrderRecord, doubt: _Doubt) -> OrderRecord:
        if rec.trading_date != ist_date(self._clock.now()):
            return self._ledger.update(rec, status=LocalStatus.FAILED, reason="not_sent", event="expired")
        if doubt.sends >= self._policy.max_sends:
            rec = self._ledger.update(rec, status=LocalStatus.FAILED, reason="not_sent", event="gave_up")
            self._on_event("order_not_sent", rec, f"not accepted after {doubt.sends} sends")
            return rec
        self._doubts[rec.id] = doubt
        return self.send(rec)

    def _give_up_if_due(self, rec: OrderRecord, doubt: _Doubt) -> OrderRecord:
        if rec.status is LocalStatus.LOST:
            return rec
        if doubt.lookups >= self._policy.min_lookups and self._clock.now() >= doubt.since + self._policy.deadline:
            return self._lose(rec, f"no proof either way after {doubt.lookups} lookups")
        return rec

    def _lose(self, rec: OrderRecord, why: str) -> OrderRecord:
        log.error("order %s is lost: %s; a person must check the broker's books", rec.tag, why)
        rec = self._ledger.update(rec, status=LocalStatus.LOST, reason=why, event="lost")
        self._on_event("order_lost", rec, why)
        return rec
