"""The paper broker: a simulated NSE exchange and broker account whose state lives in the store.

What it models (the contract the tests rely on):
- a session token that expires at the next IST midnight (`SessionExpired` after that);
- AMO orders, accepted outside market hours and sent to the next session's open; regular DAY orders,
  accepted in the pre-open (09:00 to the session open) and during the session; DAY orders expire at the close;
- LIMIT and MARKET orders filled from `IntradayPath` (see `swingtrader.broker.prices`): an order that is
  marketable when it goes live fills at that moment's price (the open, for queued orders), otherwise a
  resting limit fills at its limit price when the path reaches it; fills are whole;
- T+1: shares bought in a session become sellable from the next session;
- rejections: price off the tick, price outside the day's band (previous close +- `band_pct`),
  not enough cash (cash is blocked by open buys), selling more than is sellable, orders outside their window;
- delivery costs from `swingtrader.market.costs`, taken from cash at each fill.
Rejected orders stay in the book (so a client tag lookup finds them) and `place_order` raises `OrderRejected`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from pydantic import SecretStr
from sqlalchemy import bindparam, select

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
from swingtrader.broker.prices import IntradayPath
from swingtrader.clock import IST, Clock, ist_date
from swingtrader.market.costs import CostRates, delivery_charges
from swingtrader.market.ticks import is_on_tick, round_to_tick
from swingtrader.store import Store
from swingtrader.store import tables as t

PREOPEN_LEAD = timedelta(minutes=15)
_KEEP_IN_MEMORY = timedelta(days=7)  # finished orders older than this live only in the store
# Built once: the exchange writes an order row on every change (thousands a simulated month).
_INSERT_ORDER = t.paper_orders.insert()
_UPDATE_ORDER = t.paper_orders.update().where(t.paper_orders.c.order_id == bindparam("b_order_id"))


def _locked(method: Callable) -> Callable:
    """Serialise the exchange: callers may share it across threads."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass
class _Holding:
    quantity: int
    average_price: Decimal
    last_buy_date: date | None
    last_buy_quantity: int


class PaperBroker:
    """A `Broker` over a simulated exchange; every state change is written to the store before returning."""

    name = "paper"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        path: IntradayPath,
        calendar,
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
        self._load(initial_cash)

    # ---- state -------------------------------------------------------------------------------------------
    def _load(self, initial_cash: Decimal) -> None:
        with self._store.begin() as conn:
            acct = conn.execute(select(t.paper_account).where(t.paper_account.c.id == 1)).first()
            if acct is None:
                conn.execute(
                    t.paper_account.insert().values(
                        id=1, cash=initial_cash, matched_until=None, token_serial=0, next_order_serial=1
                    )
                )
                acct = conn.execute(select(t.paper_account).where(t.paper_account.c.id == 1)).first()
            self._cash: Decimal = acct.cash
            self._matched_until: datetime | None = acct.matched_until
            self._token_serial: int = acct.token_serial
            self._token_expires: datetime | None = acct.token_expires_at
            self._next_serial: int = acct.next_order_serial
            self._orders: dict[str, Order] = {}
            self._blocked: dict[str, Decimal] = {}
            self._session_of: dict[str, date] = {}
            self._live_from: dict[str, datetime] = {}
            recent = ist_date(self._clock.now()) - _KEEP_IN_MEMORY
            rows = conn.execute(
                select(t.paper_orders).where(
                    (t.paper_orders.c.session_date >= recent)
                    | t.paper_orders.c.status.in_([OrderStatus.PENDING.value, OrderStatus.OPEN.value])
                )
            ).all()
            for r in rows:
                self._orders[r.order_id] = _order_from_row(r)
                self._blocked[r.order_id] = r.blocked
                self._session_of[r.order_id] = r.session_date
                self._live_from[r.order_id] = r.placed_at
            self._holdings = {
                r.symbol: _Holding(r.quantity, r.average_price, r.last_buy_date, r.last_buy_quantity)
                for r in conn.execute(select(t.paper_holdings)).all()
            }
        self._session_valid = False

    def _save_account(self, conn) -> None:
        conn.execute(
            t.paper_account.update()
            .where(t.paper_account.c.id == 1)
            .values(
                cash=self._cash,
                matched_until=self._matched_until,
                token_serial=self._token_serial,
                token_expires_at=self._token_expires,
                next_order_serial=self._next_serial,
            )
        )

    def _save_order(self, conn, order: Order, *, new: bool = False) -> None:
        values = dict(
            tag=order.tag, symbol=order.symbol, side=order.side.value, quantity=order.quantity,
            order_type=order.order_type.value, price=order.price, amo=order.amo, status=order.status.value,
            filled_quantity=order.filled_quantity, average_price=order.average_price,
            blocked=self._blocked.get(order.order_id, Decimal(0)), placed_at=self._live_from[order.order_id],
            session_date=self._session_of[order.order_id], reject_reason=order.reject_reason,
        )
        if new:
            conn.execute(_INSERT_ORDER, {"order_id": order.order_id, **values})
        else:
            conn.execute(_UPDATE_ORDER, {"b_order_id": order.order_id, **values})

    def _save_holding(self, conn, symbol: str) -> None:
        conn.execute(t.paper_holdings.delete().where(t.paper_holdings.c.symbol == symbol))
        h = self._holdings.get(symbol)
        if h is not None:
            conn.execute(
                t.paper_holdings.insert().values(
                    symbol=symbol, quantity=h.quantity, average_price=h.average_price,
                    last_buy_date=h.last_buy_date, last_buy_quantity=h.last_buy_quantity,
                )
            )

    # ---- session -----------------------------------------------------------------------------------------
    @_locked
    def login(self) -> SessionInfo:
        now = self._clock.now()
        self._token_serial += 1
        midnight = datetime.combine(ist_date(now) + timedelta(days=1), datetime.min.time(), tzinfo=IST)
        self._token_expires = midnight
        self._session_valid = True
        with self._store.begin() as conn:
            self._save_account(conn)
        return SessionInfo(token=SecretStr(f"paper-session-{self._token_serial}"), expires_at=midnight, user="paper")

    def _require_session(self) -> datetime:
        now = self._clock.now()
        if not self._session_valid or self._token_expires is None or now >= self._token_expires:
            self._session_valid = False
            raise SessionExpired("paper session expired", code="paper-expired")
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
        self._match(now)
        order_id = f"P{self._next_serial:09d}"
        self._next_serial += 1
        order = Order(
            order_id=order_id, tag=request.tag, symbol=request.symbol, side=request.side, quantity=request.quantity,
            order_type=request.order_type, price=request.price, status=OrderStatus.PENDING, amo=request.amo,
            placed_at=now,
        )
        self._live_from[order_id] = now
        try:
            session_day = self._order_session(request, now)
            self._session_of[order_id] = session_day
            self._blocked[order_id] = self._validate(order, session_day, exclude=None)
        except OrderRejected as exc:
            self._session_of.setdefault(order_id, ist_date(now))
            self._blocked[order_id] = Decimal(0)
            order = replace(order, status=OrderStatus.REJECTED, reject_reason=exc.reason)
            self._commit_order(order, new=True)
            raise
        bounds = self._bounds(session_day)
        live = bounds is not None and session_day == ist_date(now) and now >= bounds[0]
        order = replace(order, status=OrderStatus.OPEN if live else OrderStatus.PENDING)
        self._commit_order(order, new=True)
        if live:
            self._try_fill_now(order_id, now)
        return order_id

    def _validate(self, order: Order, day: date, exclude: str | None) -> Decimal:
        """Check an order against the exchange and account rules; return the cash to block."""
        prev = self._path.prev_close(order.symbol, day)
        if prev is None:
            raise OrderRejected(f"no price for {order.symbol}", reason="unknown_symbol")
        lower = round_to_tick(prev * (1 - self._band), day, "up")
        upper = round_to_tick(prev * (1 + self._band), day, "down")
        if order.order_type is OrderType.LIMIT:
            assert order.price is not None
            if not is_on_tick(order.price, day):
                raise OrderRejected(f"price {order.price} is not a multiple of the tick", reason="off_tick")
            if not lower <= order.price <= upper:
                raise OrderRejected(f"price {order.price} outside the band {lower}-{upper}", reason="outside_band")
        if order.side is Side.SELL:
            h = self._holdings.get(order.symbol)
            reserved = sum(
                o.quantity - o.filled_quantity
                for oid, o in self._orders.items()
                if oid != exclude and o.symbol == order.symbol and o.side is Side.SELL and o.status.is_active
            )
            if h is None or order.quantity > self._sellable(order.symbol, h, self._clock.now()) - reserved:
                raise OrderRejected(f"not enough sellable {order.symbol}", reason="insufficient_holdings")
            return Decimal(0)
        ref = order.price if order.order_type is OrderType.LIMIT else upper
        value = ref * order.quantity
        need = value + delivery_charges("BUY", value, day, self._costs).total
        if need > self.funds_available(exclude=exclude):
            raise OrderRejected(f"insufficient funds for {order.symbol}: need {need}", reason="insufficient_funds")
        return need

    @_locked
    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        now = self._require_session()
        self._match(now)
        order = self._known(order_id)
        if order.status is OrderStatus.FILLED:
            raise OrderCompleted(f"order {order_id} is completed", code="1021")
        if not order.status.is_active:
            raise OrderRejected(f"order {order_id} is {order.status.value}", reason="not_open")
        changed = replace(order, quantity=quantity, price=price, order_type=order_type)
        self._blocked[order_id] = self._validate(changed, self._session_of[order_id], exclude=order_id)
        self._live_from[order_id] = max(now, self._live_from[order_id])
        self._commit_order(changed)
        if changed.status is OrderStatus.OPEN:
            self._try_fill_now(order_id, now)

    @_locked
    def cancel_order(self, order_id: str) -> None:
        now = self._require_session()
        self._match(now)
        order = self._known(order_id)
        if order.status is OrderStatus.FILLED:
            raise OrderCompleted(f"order {order_id} is completed", code="1021")
        if not order.status.is_active:
            raise OrderRejected(f"order {order_id} is {order.status.value}", reason="not_open")
        self._blocked[order_id] = Decimal(0)
        self._commit_order(replace(order, status=OrderStatus.CANCELLED))

    def _known(self, order_id: str) -> Order:
        if order_id not in self._orders:
            raise OrderRejected(f"unknown order {order_id}", reason="unknown_order")
        return self._orders[order_id]

    def _commit_order(self, order: Order, *, new: bool = False) -> None:
        """Persist one order change (and, for a new order, the account's order serial)."""
        self._orders[order.order_id] = order
        with self._store.begin() as conn:
            self._save_order(conn, order, new=new)
            if new:
                self._save_account(conn)

    # ---- reads -------------------------------------------------------------------------------------------
    @_locked
    def orders(self) -> list[Order]:
        now = self._require_session()
        self._match(now)
        today = ist_date(now)
        return [
            o
            for oid, o in self._orders.items()
            if o.status.is_active or self._session_of[oid] == today or ist_date(self._live_from[oid]) == today
        ]

    @_locked
    def fills(self) -> list[Fill]:
        now = self._require_session()
        self._match(now)
        start = datetime.combine(ist_date(now), datetime.min.time(), tzinfo=IST)
        with self._store.connect() as conn:
            rows = conn.execute(select(t.paper_fills).where(t.paper_fills.c.at >= start)).all()
        return [Fill(r.order_id, r.tag, r.symbol, Side(r.side), r.quantity, r.price, r.at) for r in rows]

    @_locked
    def holdings(self) -> list[Holding]:
        now = self._require_session()
        self._match(now)
        return [
            Holding(
                symbol=s, quantity=h.quantity, sellable_quantity=self._sellable(s, h, now),
                average_price=h.average_price, close_price=self._path.prev_close(s, ist_date(now) + timedelta(days=1)),
            )
            for s, h in sorted(self._holdings.items())
        ]

    @_locked
    def funds(self) -> Funds:
        now = self._require_session()
        self._match(now)
        return Funds(available_cash=self.funds_available(), extra={"cash": self._cash})

    def funds_available(self, exclude: str | None = None) -> Decimal:
        blocked = sum(
            (b for oid, b in self._blocked.items() if oid != exclude and self._orders[oid].status.is_active),
            Decimal(0),
        )
        return self._cash - blocked

    @_locked
    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        now = self._require_session()
        self._match(now)
        day = ist_date(now)
        out: dict[str, Quote] = {}
        for s in symbols:
            ltp = self._path.price_at(s, day, now)
            if ltp is None:
                continue
            prev = self._path.prev_close(s, day)
            lower = upper = None
            if prev is not None:
                lower = round_to_tick(prev * (1 - self._band), day, "up")
                upper = round_to_tick(prev * (1 + self._band), day, "down")
            out[s] = Quote(symbol=s, ltp=ltp, lower_band=lower, upper_band=upper, prev_close=prev)
        return out

    @_locked
    def cash(self) -> Decimal:
        """Cash in the account (blocked amounts included), after matching up to now."""
        self._match(self._clock.now())
        return self._cash

    # ---- matching ----------------------------------------------------------------------------------------
    def _sellable(self, symbol: str, h: _Holding, now: datetime) -> int:
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
        start = self._matched_until or now
        if now <= start and self._matched_until is not None:
            return
        day = ist_date(start)
        while day <= ist_date(now):
            bounds = self._bounds(day)
            if bounds is not None:
                s_open, s_close = bounds
                if start < s_open <= now or (self._matched_until is None and s_open <= now < s_close):
                    self._open_session(day, s_open)
                seg0, seg1 = max(start, s_open), min(now, s_close)
                if seg0 < seg1:
                    self._match_segment(day, seg0, seg1)
                if start < s_close <= now:
                    self._close_session(day)
            day += timedelta(days=1)
        self._matched_until = now

    def _active_on(self, day: date) -> list[str]:
        return [oid for oid, o in self._orders.items() if o.status.is_active and self._session_of[oid] == day]

    def _open_session(self, day: date, s_open: datetime) -> None:
        old = day - _KEEP_IN_MEMORY
        for oid in [oid for oid, o in self._orders.items() if not o.status.is_active and self._session_of[oid] < old]:
            for index in (self._orders, self._blocked, self._session_of, self._live_from):
                index.pop(oid, None)
        for oid in self._active_on(day):
            order = self._orders[oid]
            if order.status is OrderStatus.PENDING:
                self._live_from[oid] = s_open
                self._commit_order(replace(order, status=OrderStatus.OPEN))

    def _close_session(self, day: date) -> None:
        for oid in self._active_on(day):
            self._blocked[oid] = Decimal(0)
            self._commit_order(replace(self._orders[oid], status=OrderStatus.CANCELLED, reject_reason="expired"))

    def _match_segment(self, day: date, seg0: datetime, seg1: datetime) -> None:
        for oid in self._active_on(day):
            order = self._orders[oid]
            if order.status is not OrderStatus.OPEN:
                continue
            t0 = max(seg0, self._live_from[oid])
            if t0 >= seg1:
                continue
            price = self._fill_price(order, day, t0, seg1)
            if price is not None:
                self._fill(order, day, price, t0)

    def _try_fill_now(self, order_id: str, now: datetime) -> None:
        order = self._orders[order_id]
        day = self._session_of[order_id]
        price = self._fill_price(order, day, now, now)
        if price is not None:
            self._fill(order, day, price, now)

    def _fill_price(self, order: Order, day: date, t0: datetime, t1: datetime) -> Decimal | None:
        p0 = self._path.price_at(order.symbol, day, t0)
        if p0 is None:
            return None
        if order.order_type is OrderType.MARKET:
            return p0
        limit = order.price
        assert limit is not None
        if (order.side is Side.BUY and p0 <= limit) or (order.side is Side.SELL and p0 >= limit):
            return p0
        rng = self._path.range_between(order.symbol, day, t0, t1)
        if rng is None:
            return None
        low, high = rng
        if (order.side is Side.BUY and low <= limit) or (order.side is Side.SELL and high >= limit):
            return limit
        return None

    def _fill(self, order: Order, day: date, price: Decimal, at: datetime) -> None:
        qty = order.quantity
        value = price * qty
        charges = delivery_charges(order.side.value, value, day, self._costs).total
        h = self._holdings.get(order.symbol)
        if order.side is Side.BUY:
            self._cash -= value + charges
            if h is None:
                h = _Holding(0, Decimal(0), None, 0)
                self._holdings[order.symbol] = h
            total = h.average_price * h.quantity + value
            h.quantity += qty
            h.average_price = (total / h.quantity).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            h.last_buy_quantity = qty + (h.last_buy_quantity if h.last_buy_date == day else 0)
            h.last_buy_date = day
        else:
            self._cash += value - charges
            assert h is not None
            h.quantity -= qty
            if h.quantity <= 0:
                del self._holdings[order.symbol]
        self._blocked[order.order_id] = Decimal(0)
        filled = replace(order, status=OrderStatus.FILLED, filled_quantity=qty, average_price=price)
        self._orders[order.order_id] = filled
        with self._store.begin() as conn:
            self._save_order(conn, filled)
            self._save_holding(conn, order.symbol)
            conn.execute(
                t.paper_fills.insert().values(
                    order_id=order.order_id, tag=order.tag, symbol=order.symbol, side=order.side.value,
                    quantity=qty, price=price, charges=charges, at=at,
                )
            )
            self._save_account(conn)


def _order_from_row(r) -> Order:
    return Order(
        order_id=r.order_id, tag=r.tag, symbol=r.symbol, side=Side(r.side), quantity=r.quantity,
        order_type=OrderType(r.order_type), price=r.price, status=OrderStatus(r.status),
        filled_quantity=r.filled_quantity, average_price=r.average_price, amo=r.amo, placed_at=r.placed_at,
        reject_reason=r.reject_reason,
    )
