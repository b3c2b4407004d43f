"""The paper broker: a simulated NSE exchange and broker account whose state lives in the store.

What it models (the contract the tests rely on):
- a session token that expires at the next IST midnight (`SessionExpired` after that);
- AMO orders, accepted outside market hours and sent to the next session's open; regular DAY orders,
  accepted in the pre-open (the 15 minutes before the open) and during the session; DAY orders expire at the
  close;
- LIMIT and MARKET orders filled from a `PricePath` (`swingtrader.broker.prices`: bars; or
  `swingtrader.broker.quote_prices`: a broker's live quotes): an order that is
  marketable when it goes live fills at that moment's price (the open, for queued orders), otherwise a
  resting limit fills at its limit price when the path reaches it; fills are whole;
- T+1: shares bought in a session become sellable from the next session;
- rejections: price off the tick, price outside the day's band (previous close +- `band_pct`),
  not enough cash (cash is blocked by open buys), selling more than is sellable, orders outside their window;
- delivery costs from `swingtrader.market.costs`, taken from cash at each fill.
Rejected orders stay in the book (so a client tag lookup finds them) and `place_order` raises `OrderRejected`.
Every state change is committed (`swingtrader.broker.paper_store`) before the call returns, except inside the
store's `unit()` (a simulated session day): there a change to an existing order is kept in memory and written
once, when the unit commits, with the rest of the day. Matching is idempotent, so an exchange reopened after a
crash carries on exactly.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

from swingtrader.broker import paper_store as ps
from swingtrader.broker.base import (
    Fill,
    Funds,
    Holding,
    Order,
    OrderCompleted,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Quote,
    SessionExpired,
    SessionInfo,
    Side,
)
from swingtrader.broker.prices import PricePath, fill_price
from swingtrader.clock import IST, Clock, ist_date
from swingtrader.market.costs import CostRates, delivery_charges
from swingtrader.market.ticks import is_on_tick, round_to_tick
from swingtrader.store import Store

if TYPE_CHECKING:
    from swingtrader.market.calendar import TradingCalendar

_F = TypeVar("_F", bound=Callable[..., Any])

PREOPEN_LEAD = timedelta(minutes=15)
_KEEP_IN_MEMORY = timedelta(days=7)  # finished orders older than this live only in the store


def _locked(method: _F) -> _F:
    """Serialise the exchange: callers may share it across threads."""

    @functools.wraps(method)
    def wrapper(self: PaperBroker, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]  # same signature as `method`, by functools.wraps


class PaperBroker:
    """A `Broker` over a simulated exchange; every state change is written to the store before returning."""

    name = "paper"
    books_are_complete = True
    """Its books are read from the store that records every placement: an empty book is the truth, not a stale
    "No Data" (`order_evidence.order_book_gap`)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        path: PricePath,
        calendar: TradingCalendar,
        *,
        initial_cash: Decimal,
        costs: CostRates | None = None,
        band_pct: Decimal = Decimal("20"),
    ) -> None:
        self._store = store
        self._clock = clock
        self._path = path
        self._calendar = calendar
        self._costs = costs or CostRates()
        self._band = band_pct / Decimal(100)
        self._sessions: dict[date, tuple[datetime, datetime] | None] = {}
        self._lock = threading.RLock()
        with store.begin() as conn:
            self._acct = ps.load_account(conn, initial_cash)
            since = ist_date(clock.now()) - _KEEP_IN_MEMORY
            self._book = {row.order.order_id: row for row in ps.load_book(conn, since)}
            self._holdings = ps.load_holdings(conn)
        self._session_valid = False
        self._unsaved: dict[str, ps.BookRow] = {}  # order changes awaiting the end of the store's unit
        store.at_unit_end(self._save_unsaved)

    # ---- session -----------------------------------------------------------------------------------------
    @_locked
    def login(self) -> SessionInfo:
        now = self._clock.now()
        self._acct.token_serial += 1
        midnight = datetime.combine(ist_date(now) + timedelta(days=1), datetime.min.time(), tzinfo=IST)
        self._acct.token_expires = midnight
        self._session_valid = True
        with self._store.begin() as conn:
            ps.save_account(conn, self._acct)
        return SessionInfo(token=SecretStr(f"paper-session-{self._acct.token_serial}"), expires_at=midnight,
                           user="paper")

    def _require_session(self) -> datetime:
        now = self._clock.now()
        expires = self._acct.token_expires
        if not self._session_valid or expires is None or now >= expires:
            self._session_valid = False
            raise SessionExpired("paper session expired", code="paper-expired")
        self._match(now)
        return now

    @_locked
    def expire_session(self) -> None:
        """Invalidate the current token now (used by tests and fault drills)."""
        self._session_valid = False

    # ---- calendar helpers --------------------------------------------------------------------------------
    def _bounds(self, day: date) -> tuple[datetime, datetime] | None:
        if day not in self._sessions:
            s = self._calendar.session(day)
            self._sessions[day] = None if s is None else (s.open, s.close)
        return self._sessions[day]

    def _order_session(self, req: OrderRequest, now: datetime) -> date:
        """The trading date an order will be live on, or `OrderRejected` if it is outside its window."""
        today = ist_date(now)
        bounds = self._bounds(today)
        in_market = bounds is not None and bounds[0] <= now < bounds[1]
        in_preopen = bounds is not None and bounds[0] - PREOPEN_LEAD <= now < bounds[0]
        if req.amo:
            if in_market or in_preopen:
                raise OrderRejected("AMO orders are not accepted during market hours", reason="amo_in_market_hours")
            if bounds is not None and now < bounds[0]:
                return today
            return self._calendar.next_session(today).date
        if not (in_market or in_preopen):
            raise OrderRejected("market is closed: use an AMO order", reason="market_closed")
        return today

    # ---- orders ------------------------------------------------------------------------------------------
    @_locked
    def place_order(self, request: OrderRequest) -> str:
        now = self._require_session()
        order_id = f"P{self._acct.next_serial:09d}"
        self._acct.next_serial += 1
        order = Order(
            order_id=order_id, tag=request.tag, symbol=request.symbol, side=request.side, quantity=request.quantity,
            order_type=request.order_type, price=request.price, status=OrderStatus.PENDING, amo=request.amo,
            placed_at=now,
        )
        session_day = ist_date(now)
        try:
            session_day = self._order_session(request, now)
            blocked = self._validate(order, session_day, exclude=None)
        except OrderRejected as exc:
            rejected = replace(order, status=OrderStatus.REJECTED, reject_reason=exc.reason)
            self._commit(ps.BookRow(rejected, Decimal(0), now, session_day), new=True)
            raise
        bounds = self._bounds(session_day)
        live = bounds is not None and session_day == ist_date(now) and now >= bounds[0]
        order = replace(order, status=OrderStatus.OPEN if live else OrderStatus.PENDING)
        self._commit(ps.BookRow(order, blocked, now, session_day), new=True)
        if live:
            self._try_fill(order_id, now, now)
        return order_id

    def _validate(self, order: Order, day: date, exclude: str | None) -> Decimal:
        """Check an order against the exchange and account rules; return the cash to block."""
        lower, upper = self._band_on(order.symbol, day)
        if order.order_type is OrderType.LIMIT:
            assert order.price is not None
            if not is_on_tick(order.price, day):
                raise OrderRejected(f"price {order.price} is not a multiple of the tick", reason="off_tick")
            if not lower <= order.price <= upper:
                raise OrderRejected(f"price {order.price} outside the band {lower}-{upper}", reason="outside_band")
        if order.side is Side.SELL:
            h = self._holdings.get(order.symbol)
            reserved = sum(
                r.order.quantity - r.order.filled_quantity
                for oid, r in self._book.items()
                if oid != exclude and r.order.symbol == order.symbol and r.order.side is Side.SELL
                and r.order.status.is_active
            )
            if h is None or order.quantity > self._sellable(h, self._clock.now()) - reserved:
                raise OrderRejected(f"not enough sellable {order.symbol}", reason="insufficient_holdings")
            return Decimal(0)
        ref = order.price if order.order_type is OrderType.LIMIT and order.price is not None else upper
        value = ref * order.quantity
        need = value + delivery_charges("BUY", value, day, self._costs).total
        if need > self._available(exclude=exclude):
            raise OrderRejected(f"insufficient funds for {order.symbol}: need {need}", reason="insufficient_funds")
        return need

    def _band_on(self, symbol: str, day: date) -> tuple[Decimal, Decimal]:
        prev = self._path.prev_close(symbol, day)
        if prev is None:
            raise OrderRejected(f"no price for {symbol}", reason="unknown_symbol")
        return round_to_tick(prev * (1 - self._band), day, "up"), round_to_tick(prev * (1 + self._band), day, "down")

    @_locked
    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        now = self._require_session()
        row = self._working(order_id)
        changed = replace(row.order, quantity=quantity, price=price, order_type=order_type)
        blocked = self._validate(changed, row.session_date, exclude=order_id)
        self._commit(replace(row, order=changed, blocked=blocked, live_from=max(now, row.live_from)))
        if changed.status is OrderStatus.OPEN:
            self._try_fill(order_id, now, now)

    @_locked
    def cancel_order(self, order_id: str) -> None:
        self._require_session()
        row = self._working(order_id)
        self._commit(replace(row, order=replace(row.order, status=OrderStatus.CANCELLED), blocked=Decimal(0)))

    def _working(self, order_id: str) -> ps.BookRow:
        """The book row of an order that can still change, else the error the broker gives."""
        row = self._book.get(order_id)
        if row is None:
            raise OrderRejected(f"unknown order {order_id}", reason="unknown_order")
        if row.order.status is OrderStatus.FILLED:
            raise OrderCompleted(f"order {order_id} is completed", code="1021")
        if not row.order.status.is_active:
            raise OrderRejected(f"order {order_id} is {row.order.status.value}", reason="not_open")
        return row

    def _commit(self, row: ps.BookRow, *, new: bool = False) -> None:
        """Persist one order change (and, for a new order, the account's order serial); inside the store's unit a
        change to an existing order waits for the unit's end (`_save_unsaved`)."""
        self._book[row.order.order_id] = row
        if not new and self._store.in_unit:
            self._unsaved[row.order.order_id] = row
            return
        with self._store.begin() as conn:
            ps.save_order(conn, row, new=new)
            if new:
                ps.save_account(conn, self._acct)

    # ---- reads -------------------------------------------------------------------------------------------
    @property
    def path(self) -> PricePath:
        """The intraday price path the exchange fills against."""
        return self._path

    @property
    def matched_until(self) -> datetime | None:
        """The moment up to which resting orders have been matched (every call matches up to its `now`)."""
        return self._acct.matched_until

    @_locked
    def working_orders(self, day: date) -> list[tuple[Order, datetime]]:
        """Orders still working on session `day`, each with the moment it went live (or was last modified):
        what matching looks at, read without matching."""
        return [(r.order, r.live_from) for r in self._book.values()
                if r.order.status.is_active and r.session_date == day]

    @_locked
    def orders(self) -> list[Order]:
        today = ist_date(self._require_session())
        return [
            r.order for r in self._book.values()
            if r.order.status.is_active or r.session_date == today or ist_date(r.live_from) == today
        ]

    @_locked
    def _save_unsaved(self) -> None:
        """Write the order changes kept in memory during the store's unit, each order's latest once."""
        if not self._unsaved:
            return
        with self._store.begin() as conn:
            for row in self._unsaved.values():
                ps.save_order(conn, row, new=False)
        self._unsaved.clear()

    @_locked
    def order(self, order_id: str) -> list[Order]:
        """One order at any date (the exchange keeps every order), with its last fill's time."""
        self._require_session()
        self._save_unsaved()
        with self._store.connect() as conn:
            row = ps.load_order(conn, order_id)
        return [] if row is None else [row.order]

    @_locked
    def fills(self) -> list[Fill]:
        start = datetime.combine(ist_date(self._require_session()), datetime.min.time(), tzinfo=IST)
        with self._store.connect() as conn:
            rows = ps.fills_since(conn, start)
        return [Fill(r.order_id, r.tag, r.symbol, Side(r.side), r.quantity, r.price, r.at) for r in rows]

    @_locked
    def holdings(self) -> list[Holding]:
        now = self._require_session()
        return [
            Holding(
                symbol=s, quantity=h.quantity, sellable_quantity=self._sellable(h, now),
                average_price=h.average_price, close_price=self._path.prev_close(s, ist_date(now) + timedelta(days=1)),
            )
            for s, h in sorted(self._holdings.items())
        ]

    @_locked
    def funds(self) -> Funds:
        self._require_session()
        return Funds(available_cash=self._available(), extra={"cash": self._acct.cash})

    def _available(self, exclude: str | None = None) -> Decimal:
        blocked = sum(
            (r.blocked for oid, r in self._book.items() if oid != exclude and r.order.status.is_active), Decimal(0)
        )
        return self._acct.cash - blocked

    @_locked
    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        now = self._require_session()
        day = ist_date(now)
        out: dict[str, Quote] = {}
        for s in symbols:
            ltp = self._path.price_at(s, day, now)
            if ltp is None:
                continue
            prev = self._path.prev_close(s, day)
            lower, upper = self._band_on(s, day) if prev is not None else (None, None)
            out[s] = Quote(symbol=s, ltp=ltp, lower_band=lower, upper_band=upper, prev_close=prev)
        return out

    @_locked
    def deposit(self, amount: Decimal) -> None:
        """Add cash to the paper account (a trader topping up; tests use it to free a failed buy)."""
        if amount <= 0:
            raise ValueError("a deposit must be positive")
        self._acct.cash += amount
        with self._store.begin() as conn:
            ps.save_account(conn, self._acct)

    @_locked
    def cash(self) -> Decimal:
        """Cash in the account (blocked amounts included), after matching up to now."""
        self._match(self._clock.now())
        return self._acct.cash

    # ---- matching ----------------------------------------------------------------------------------------
    def _sellable(self, h: ps.PaperHolding, now: datetime) -> int:
        bought_this_session = h.last_buy_date is not None and h.last_buy_date >= self._last_opened(now)
        unsettled = h.last_buy_quantity if bought_this_session else 0
        return max(h.quantity - unsettled, 0)

    def _last_opened(self, now: datetime) -> date:
        day = ist_date(now)
        bounds = self._bounds(day)
        if bounds is not None and now >= bounds[0]:
            return day
        return self._calendar.previous_session(day).date

    def _match(self, now: datetime) -> None:
        """Bring the exchange up to `now`: open sessions, fill resting orders, expire DAY orders at the close."""
        matched = self._acct.matched_until
        start = matched or now
        if matched is not None and now <= start:
            return
        day = ist_date(start)
        while day <= ist_date(now):
            bounds = self._bounds(day)
            if bounds is not None:
                s_open, s_close = bounds
                if start < s_open <= now or (matched is None and s_open <= now < s_close):
                    self._open_session(day, s_open)
                seg0, seg1 = max(start, s_open), min(now, s_close)
                if seg0 < seg1:
                    for oid in self._working_on(day):
                        t0 = max(seg0, self._book[oid].live_from)
                        if self._book[oid].order.status is OrderStatus.OPEN and t0 < seg1:
                            self._try_fill(oid, t0, seg1)
                if start < s_close <= now:
                    for oid in self._working_on(day):  # DAY orders expire at the close
                        row = self._book[oid]
                        expired = replace(row.order, status=OrderStatus.CANCELLED, reject_reason="expired")
                        self._commit(replace(row, order=expired, blocked=Decimal(0)))
            day += timedelta(days=1)
        self._acct.matched_until = now

    def _working_on(self, day: date) -> list[str]:
        return [oid for oid, r in self._book.items() if r.order.status.is_active and r.session_date == day]

    def _open_session(self, day: date, s_open: datetime) -> None:
        old = day - _KEEP_IN_MEMORY
        for oid in [oid for oid, r in self._book.items() if not r.order.status.is_active and r.session_date < old]:
            del self._book[oid]
        for oid in self._working_on(day):
            row = self._book[oid]
            if row.order.status is OrderStatus.PENDING:
                self._commit(replace(row, order=replace(row.order, status=OrderStatus.OPEN), live_from=s_open))

    def _try_fill(self, order_id: str, t0: datetime, t1: datetime) -> None:
        row = self._book[order_id]
        price = fill_price(self._path, row.order, row.session_date, t0, t1)
        if price is not None:
            self._fill(row, price, t0)

    def _fill(self, row: ps.BookRow, price: Decimal, at: datetime) -> None:
        order, day = row.order, row.session_date
        qty = order.quantity
        value = price * qty
        charges = delivery_charges(order.side.value, value, day, self._costs).total
        h = self._holdings.get(order.symbol)
        if order.side is Side.BUY:
            self._acct.cash -= value + charges
            if h is None:
                h = self._holdings[order.symbol] = ps.PaperHolding(0, Decimal(0), None, 0)
            total = h.average_price * h.quantity + value
            h.quantity += qty
            h.average_price = (total / h.quantity).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            h.last_buy_quantity = qty + (h.last_buy_quantity if h.last_buy_date == day else 0)
            h.last_buy_date = day
        else:
            self._acct.cash += value - charges
            assert h is not None
            h.quantity -= qty
            if h.quantity <= 0:
                del self._holdings[order.symbol]
        filled = replace(order, status=OrderStatus.FILLED, filled_quantity=qty, average_price=price)
        self._book[order.order_id] = replace(row, order=filled, blocked=Decimal(0))
        self._unsaved.pop(order.order_id, None)  # written now, in its latest state
        with self._store.begin() as conn:
            ps.save_order(conn, self._book[order.order_id], new=False)
            ps.save_holding(conn, order.symbol, self._holdings.get(order.symbol))
            ps.insert_fill(conn, order, qty, price, charges, at)
            ps.save_account(conn, self._acct)
