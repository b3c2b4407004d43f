"""`OrderManager`: the facade of the order path, the only way from the service to the broker's order entry.

A task hands `place` one intent and gets one `Outcome` back; `reconcile` brings every working order up to date
from one order-book read. Identity: an intent is keyed by (trading date, task, symbol, side, attempt); its
client tag (Kotak `ig`) is allocated once, when it is first stored, from a per-day sequence
(`ST<yymmdd><task><side><seq:05d>`): a re-run of the same intent finds it stored and reuses its tag. The tag only
resolves a send whose outcome is unknown; once acknowledged, an order is looked up by its order number (Kotak
may rewrite `GuiOrdId` after a modify or cancel). Never twice: the intent is stored (`sending`) before it is
sent (`ledger`), and one in doubt is sent again only on proof of absence (`relay`). States: `state`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    BrokerError,
    BrokerUnavailable,
    Order,
    OrderCompleted,
    OrderRejected,
    RateLimited,
    Side,
)
from swingtrader.clock import Clock, ist_date
from swingtrader.order_path.books import Books
from swingtrader.order_path.intent import FillEvent, OrderIntent, OrderRecord, Outcome
from swingtrader.order_path.ledger import Ledger
from swingtrader.order_path.relay import Relay, ResolvePolicy
from swingtrader.order_path.risk import RiskLimits, gate_refusal, limit_refusal
from swingtrader.order_path.state import LocalStatus
from swingtrader.order_trouble import Troubles
from swingtrader.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTENTION = "attention"  # the order event recording that settling an order failed (`OrderManager.isolated`)
_RECOVERY = "start-up recovery"  # the recovery hook's key among the troubles


class OrderManager:
    """Intents in, outcomes out; reconciliation with the broker's books for every order the service sends."""

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
        self._on_event = on_event or (lambda _k, _o, _d: None)
        self._ledger = Ledger(store, clock, on_write=lambda rec: self._relay.forget(rec))
        self._books = Books(self._ledger, broker, clock, on_fill or (lambda _f, _c: None), self._on_event)
        self._relay = Relay(self._ledger, broker, clock, policy or ResolvePolicy(), self._books.apply, self._on_event)
        self._recover: Callable[[Sequence[Order]], bool] | None = None  # `recover_at_next_reconcile`
        self._troubles = Troubles()

    # ---- queries -----------------------------------------------------------------------------------------
    def by_tag(self, tag: str) -> OrderRecord | None:
        return self._ledger.by_tag(tag)

    def find(self, intent: OrderIntent) -> OrderRecord | None:
        """The stored intent with the same key (trading date, task, symbol, side, attempt), if any."""
        return self._ledger.find(intent)

    def active(self, side: Side | None = None, symbol: str | None = None) -> list[OrderRecord]:
        """Orders still working (sending, pending, open, unknown or lost), oldest first."""
        return self._ledger.active(side, symbol)

    def symbols_since(self, day: date) -> set[str]:
        """Symbols of our orders (any status) of trading dates from `day` on."""
        return self._ledger.symbols_since(day)

    def for_day(self, trading_date: date, task: str | None = None) -> list[OrderRecord]:
        return self._ledger.for_day(trading_date, task)

    # ---- intents -----------------------------------------------------------------------------------------
    def place(self, intent: OrderIntent) -> Outcome:
        """One intent in, one outcome out. One that `replaces` moves the working order of its symbol and side,
        if there is one (`modify`). An intent already stored is never re-judged: it is returned, or resolved if
        in doubt. A new one passes its `Gate` (refused without being stored, except a short-cash refusal the gate
        asks to record), then the risk limits, then is stored and sent (`submit`)."""
        if intent.replaces:
            working = self._ledger.active(intent.side, intent.symbol)
            if working:
                return Outcome.of(self._move(working[0], intent))
        gate = intent.gate
        if gate is not None and self._ledger.find(intent) is None:
            refusal = gate_refusal(gate, lambda: {o.symbol for o in self.active(side=Side.BUY)},
                                   lambda: self._broker.funds().available_cash)
            if refusal == "insufficient_funds" and gate.record_short_cash:
                return Outcome.of(self.record_failed(intent, refusal))
            if refusal is not None:
                return Outcome.refused(refusal)
        return Outcome.of(self.submit(intent))

    def _move(self, rec: OrderRecord, intent: OrderIntent) -> OrderRecord:
        if intent.price is None:
            raise ValueError(f"an intent that replaces needs a limit price ({intent.symbol})")
        if (rec.price, rec.quantity, rec.purpose) == (intent.price, intent.quantity, intent.purpose):
            return rec
        return self.modify(rec, price=intent.price, quantity=intent.quantity, purpose=intent.purpose)

    def record_failed(self, intent: OrderIntent, reason: str) -> OrderRecord:
        """Record an order that was decided but not sent (e.g. `insufficient_funds`), for a later retry."""
        existing = self._ledger.find(intent)
        if existing is not None:
            return existing
        return self._ledger.insert(intent, LocalStatus.FAILED, reason)

    def submit(self, intent: OrderIntent) -> OrderRecord:
        """Send an intent at most once; returns the local record in its resulting state. An intent already
        stored is never sent blind: one in doubt is looked up (and sent again only on proof of absence)."""
        existing = self._ledger.find(intent)
        if existing is not None:
            if existing.status.in_doubt and existing.broker_order_id is None:
                return self._relay.resolve(existing)
            return existing
        blocked = limit_refusal(self._risk, intent)
        if blocked:
            rec = self._ledger.insert(intent, LocalStatus.FAILED, blocked)
            self._on_event("order_blocked", rec, blocked)
            return rec
        return self._relay.send(self._ledger.insert(intent, LocalStatus.SENDING, None))

    def modify(self, rec: OrderRecord, *, price: Decimal, quantity: int, purpose: str | None = None) -> OrderRecord:
        """Change an open order (by its order number); a completed one is recorded as filled instead."""
        if rec.broker_order_id is None:
            return rec
        try:
            self._broker.modify_order(rec.broker_order_id, quantity=quantity, price=price, order_type=rec.order_type)
        except OrderCompleted:
            self.reconcile()
            return self._ledger.reload(rec)
        except OrderRejected as exc:
            log.warning("modify of %s refused: %s", rec.tag, exc.reason)
            return rec
        except RateLimited:
            log.warning("modify of %s not sent: rate limited; the next cycle tries again", rec.tag)
            return rec
        except (AmbiguousOutcome, BrokerUnavailable):
            # no extra read now: the next reconcile records the change if the book shows it
            self._books.modify_unknown(rec, price, quantity, purpose or rec.purpose)
            return rec
        return self._ledger.update(
            rec, price=price, quantity=quantity, purpose=purpose or rec.purpose, event="modified",
            detail={"price": str(price), "quantity": quantity},
        )

    # ---- the broker's books ------------------------------------------------------------------------------
    def reconcile(self) -> list[Order]:
        """One order-book read: bring every active local order up to date, report new fills. Returns the book.

        Acknowledged orders are matched by order number, orders in doubt by tag. The outbox relay: an intent
        known not to have been sent is sent now (today's) or marked `failed` (`not_sent`, an earlier day's); an
        intent in doubt is sent again only on proof of absence (`relay`)."""
        read_at = self._clock.now()
        try:
            book = self._broker.orders()
        except BrokerError:
            for rec in self.active():
                if rec.broker_order_id is None and rec.status.in_doubt:
                    self._relay.failed_lookup(rec)  # a lookup that could not be made still counts towards `lost`
            raise
        if self._recover is not None:
            self._run_recovery(book)
        by_id = {o.order_id: o for o in book}
        for rec in self.active():
            if rec.broker_order_id is None:
                self.isolated(rec, "lookup", partial(self._relay.look_up, rec, book, read_at))
            elif rec.broker_order_id in by_id:
                self.isolated(rec, "reconcile", partial(self._books.mirror, rec, by_id[rec.broker_order_id]))
        return book

    def settle(self, rec: OrderRecord, order: Order, *, at: datetime | None) -> OrderRecord:
        """Record the broker's final word on an order found outside today's book (`Books.settle`)."""
        return self._books.settle(rec, order, at=at)

    def expire(self, rec: OrderRecord, why: str) -> OrderRecord:
        """A DAY order whose session closed and that the broker no longer shows (`Books.expire`)."""
        return self._books.expire(rec, why)

    def missing(self, book: Sequence[Order]) -> list[OrderRecord]:
        """Acknowledged active orders that `book` (today's order book) does not show. An empty read (5203, a
        stale book) proves nothing about today's orders: those acknowledged today are then not listed."""
        shown = {o.order_id for o in book}
        today = ist_date(self._clock.now())
        return [r for r in self.active() if r.broker_order_id is not None and r.broker_order_id not in shown
                and (book or r.created_at is None or ist_date(r.created_at) != today)]

    # ---- trouble and recovery ----------------------------------------------------------------------------
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
            current = self._ledger.reload(rec)
            self._ledger.update(current, event=ATTENTION, detail={"why": why, "attempts": attempts})
            if attempts == 1:
                self._on_event("order_attention", current, why)
            return None
        if self._troubles.cleared(rec.id):
            self._ledger.update(self._ledger.reload(rec), event="attention_over")
        return result

    def in_trouble(self, rec: OrderRecord) -> bool:
        """Whether settling `rec` failed last time (it is retried with backoff)."""
        return rec.id in self._troubles

    def recover_at_next_reconcile(self, recover: Callable[[Sequence[Order]], bool]) -> None:
        """Have each successful `reconcile` hand its book to `recover` before it updates any order, until `recover`
        returns True (done); if it raises, the failure is logged and it is retried with backoff: the start-up
        recovery (`swingtrader.recovery`). It never stops the reconcile."""
        self._recover = recover

    def _run_recovery(self, book: Sequence[Order]) -> None:
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
