"""Recovery after downtime: settle our orders that today's order book no longer shows, and hold the strategy's
positions to the account's holdings.

A service stopped after the evening's buys and started on a later morning finds its after-market buys (filled
at an open it slept through) and its DAY sells (expired at a close it slept through) gone from the broker's
book, which shows only today's orders. `settle_missing` looks each such order up, by its order number:

1. the single-order read (`Broker.order`): its final state, fills at the broker's price and time;
2. today's trade book: executions of that order number, at their price and time;
3. once its session has closed and the broker no longer knows it, the holdings, only from a read that succeeded
   with rows (an empty read, `{"data":[]}` or 5203, proves nothing): a buy is filled if the account holds the
   shares it would have bought beyond our positions (at the holding's price, at that session's open, marked
   `inferred`); a sell is filled if the shares it would have sold are gone (at its limit price, at the close);
   otherwise it expired. A DAY order is never open after its session closed.
Without such evidence the order stays unresolved: recorded against it (the dashboard lists it), a person is
told, and it is tried again with backoff. Each order is settled on its own (`OrderManager.isolated`): one that
fails never stops the others, the reconcile or the monitor.

A fill goes through the order manager's one transaction (fills row + position). Orders in doubt (no order
number) are left to the never-twice state machine in `swingtrader.order_path`.

`check_holdings` compares holdings with positions for every symbol the strategy holds or ordered lately, and
records each difference as a `holdings_mismatch` signal (the dashboard's read model shows them) with an alert:
extra shares are adopted as a position when `SWINGTRADER_HOLDINGS_MISMATCH=adopt`, else only flagged; missing
shares are always flagged. Symbols with an order still working are skipped (a fill may be under way).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from swingtrader.broker.base import Fill, Holding, Order, OrderStatus, Side
from swingtrader.clock import ist_date
from swingtrader.notify import NotificationKind
from swingtrader.order_path.intent import OrderRecord
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.events import HoldingsMismatch

log = logging.getLogger(__name__)

RECENT = timedelta(days=14)
"""How far back an order of ours makes a symbol one whose holdings we check (hand-bought shares of other
symbols are the account holder's own and are never counted)."""


class Unresolved(Exception):
    """Nothing positive shows what became of an order missing from the book: it stays as it is."""


def arm_at_start(ctx: TaskContext) -> None:
    """The start-up hook: the first reconcile after start records the fills its book shows at the trade book's
    times, settles the orders its book does not show and checks the holdings. Later reconciles retry (with
    backoff) the orders that could not be settled, and the holdings check until it succeeds."""
    recovery = Recovery(ctx)
    checked = False

    def recover(book: Sequence[Order]) -> bool:
        nonlocal checked
        recovery.catch_up(book)
        recovery.settle_missing(ctx.orders.missing(book))
        if not checked:
            recovery.check_holdings(ist_date(ctx.clock.now()), shortfalls=True)
            checked = True
        return not any(ctx.orders.in_trouble(r) for r in ctx.orders.missing(book))

    ctx.orders.recover_at_next_reconcile(recover)


class Recovery:
    """Settles orders missing from today's book and compares holdings with positions."""

    def __init__(self, ctx: TaskContext) -> None:
        self._ctx = ctx
        self._trades: list[Fill] | None = None
        self._holdings: dict[str, Holding] | None = None

    # ---- orders ------------------------------------------------------------------------------------------
    def catch_up(self, book: Sequence[Order]) -> None:
        """Record fills the book shows that happened while the service was down, at the trade book's times."""
        self._trades = self._holdings = None
        by_id = {o.order_id: o for o in book}
        for rec in self._ctx.orders.active():
            row = by_id.get(rec.broker_order_id or "")
            if row is not None and row.filled_quantity > rec.filled_quantity:
                self._ctx.orders.isolated(rec, "recovery", partial(self._catch_up_one, rec, row))

    def _catch_up_one(self, rec: OrderRecord, row: Order) -> None:
        self._ctx.orders.settle(rec, row, at=row.filled_at or self._trade_time(rec))

    def settle_missing(self, missing: list[OrderRecord]) -> list[dict[str, Any]]:
        """Settle each order (acknowledged, active, absent from today's book), each on its own; returns what
        became of each that settled."""
        self._trades = self._holdings = None
        out = []
        for rec in missing:
            outcome = self._ctx.orders.isolated(rec, "recovery", partial(self._settle, rec))
            if outcome is not None:
                log.info("recovery: order %s (%s %s %s) %s", rec.tag, rec.side.value, rec.quantity, rec.symbol,
                         outcome)
                out.append({"tag": rec.tag, "symbol": rec.symbol, "side": rec.side.value, "outcome": outcome})
        return out

    def _settle(self, rec: OrderRecord) -> str | None:
        assert rec.broker_order_id is not None
        ctx = self._ctx
        opened, closed = self._session_of(rec)
        over = ctx.clock.now() >= closed
        rows = ctx.broker.order(rec.broker_order_id)
        if rows:
            row = rows[0]
            if row.status.is_active:
                if not over:
                    ctx.orders.settle(rec, row, at=None)
                    return None
                ctx.orders.settle(rec, row, at=row.filled_at)  # fills so far, then it expired with its session
                ctx.orders.expire(self._reload(rec), "session closed")
                return "expired"
            done = ctx.orders.settle(rec, row, at=row.filled_at or self._trade_time(rec))
            return done.status.value
        trades = [f for f in self._trade_book() if f.order_id == rec.broker_order_id]
        if trades:
            qty = sum(f.quantity for f in trades)
            avg = (sum((f.price * f.quantity for f in trades), Decimal(0)) / qty).quantize(Decimal("0.0001"))
            status = OrderStatus.FILLED if qty >= rec.quantity else (
                OrderStatus.CANCELLED if over else OrderStatus.OPEN)
            done = ctx.orders.settle(rec, _as_order(rec, status, qty, avg), at=max(f.at for f in trades))
            return done.status.value
        if not over:
            return None  # its session is still to come or under way: the book will show it
        if not self._holdings_read():
            raise Unresolved("not in the order book, the single-order read or the trade book, and the holdings "
                             "read was empty: nothing shows whether it filled")
        price = self._inferred_price(rec)
        if price is None:
            ctx.orders.expire(rec, "session closed; the broker no longer shows it")
            return "expired"
        at = opened if rec.side is Side.BUY else closed
        ctx.orders.settle(rec, _as_order(rec, OrderStatus.FILLED, rec.quantity, price), at=at)
        return "filled (inferred from holdings)"

    def _session_of(self, rec: OrderRecord) -> tuple[datetime, datetime]:
        """Open and close of the session the order was live in: the first to close after it was placed."""
        cal = self._ctx.calendar
        placed = rec.created_at or self._ctx.clock.now()
        session = cal.session(ist_date(placed))
        if session is None or placed >= session.close:
            session = cal.next_session(ist_date(placed))
        return session.open, session.close

    def _inferred_price(self, rec: OrderRecord) -> Decimal | None:
        """The price the holdings imply the order filled at, or None if they show it did not fill."""
        held = self._holding(rec.symbol)
        position = self._ctx.portfolio.position(rec.symbol)
        ours = position.quantity if position is not None else 0
        remaining = rec.quantity - rec.filled_quantity
        if rec.side is Side.BUY:
            if held is None or held.quantity - ours < remaining:
                return None
            if position is None:
                return held.average_price
            implied = (held.average_price * held.quantity - position.cost) / (held.quantity - ours)
            return implied.quantize(Decimal("0.0001")) if implied > 0 else held.average_price
        if rec.price is None or ours - (held.quantity if held is not None else 0) < remaining:
            return None
        return rec.price

    def _trade_time(self, rec: OrderRecord) -> datetime | None:
        times = [f.at for f in self._trade_book() if f.order_id == rec.broker_order_id]
        return max(times) if times else None

    def _trade_book(self) -> list[Fill]:
        if self._trades is None:
            self._trades = list(self._ctx.broker.fills())
        return self._trades

    def _holdings_read(self) -> dict[str, Holding]:
        if self._holdings is None:
            self._holdings = {h.symbol: h for h in self._ctx.broker.holdings()}
        return self._holdings

    def _holding(self, symbol: str) -> Holding | None:
        return self._holdings_read().get(symbol)

    def _reload(self, rec: OrderRecord) -> OrderRecord:
        return next((r for r in self._ctx.orders.active() if r.id == rec.id), rec)

    # ---- holdings ----------------------------------------------------------------------------------------
    def check_holdings(
        self, day: date, *, shortfalls: bool, holdings: dict[str, Holding] | None = None
    ) -> list[dict[str, Any]]:
        """Record (and alert) each difference between holdings and positions in the symbols the strategy holds
        or ordered since `day - RECENT`; adopt extra shares when so configured. `shortfalls=False` leaves
        missing shares to the caller (`eod_cleanup` closes hand sells and flags the rest itself). `holdings`: a
        read the caller just made (by symbol), else one is made."""
        ctx = self._ctx
        if holdings is None:
            holdings = {h.symbol: h for h in ctx.broker.holdings()}
        positions = {p.symbol: p for p in ctx.portfolio.open_positions()}
        working = {o.symbol for o in ctx.orders.active()}
        watched = (set(positions) | ctx.orders.symbols_since(day - RECENT)) - working
        out = []
        for symbol in sorted(watched):
            held = holdings[symbol].quantity if symbol in holdings else 0
            ours = positions[symbol].quantity if symbol in positions else 0
            if held == ours or (held < ours and not shortfalls):
                continue
            action = "flagged"
            if held > ours and ctx.holdings_mismatch == "adopt":
                h = holdings[symbol]
                cost = positions[symbol].cost if symbol in positions else Decimal(0)
                price = ((h.average_price * held - cost) / (held - ours)).quantize(Decimal("0.0001"))
                ctx.portfolio.adopt(symbol, held - ours, price if price > 0 else h.average_price, ctx.clock.now())
                action = "adopted"
            mismatch = HoldingsMismatch(ours, held, action)
            if ctx.signal(day, symbol, mismatch):
                ctx.notify(NotificationKind.HOLDINGS_MISMATCH, f"{symbol}: holdings {held}, positions {ours}",
                           f"difference {held - ours:+d} shares: {action}")
            log.warning("holdings of %s: broker %s, positions %s (%+d): %s", symbol, held, ours, held - ours, action)
            out.append({"symbol": symbol, **mismatch.detail()})
        return out


def _as_order(rec: OrderRecord, status: OrderStatus, filled: int, price: Decimal) -> Order:
    """The broker's view of one of our orders, rebuilt from the trade book or the holdings."""
    assert rec.broker_order_id is not None
    return Order(order_id=rec.broker_order_id, tag=rec.tag, symbol=rec.symbol, side=rec.side, quantity=rec.quantity,
                 order_type=rec.order_type, price=rec.price, status=status, filled_quantity=filled,
                 average_price=price, amo=rec.amo)
