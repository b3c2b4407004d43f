"""Helpers for the Kotak Neo tests: an in-memory exchange behind the `Broker` protocol, and a fixed clock."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import SecretStr

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
    SessionInfo,
    Side,
)
from swingtrader.clock import IST, SimClock

MARKET_OPEN = datetime(2025, 3, 4, 10, 0, tzinfo=IST)


def sim_clock() -> SimClock:
    return SimClock(MARKET_OPEN)


class MemoryExchange:
    """A tiny exchange: market orders and marketable limits fill at once, other limits rest until `fill()`."""

    name = "memory"

    def __init__(self, clock: SimClock, prices: dict[str, Decimal], *, cash: Decimal = Decimal("1000000"),
                 holdings: dict[str, tuple[int, Decimal]] | None = None) -> None:
        self.clock = clock
        self.prices = dict(prices)
        self.cash = cash
        self._holdings = dict(holdings or {})
        self._orders: dict[str, Order] = {}
        self._fills: list[Fill] = []
        self._lock = threading.Lock()
        self.logins = 0

    def login(self) -> SessionInfo:
        self.logins += 1
        return SessionInfo(token=SecretStr("memory"), expires_at=self.clock.now() + timedelta(days=365))

    def place_order(self, request: OrderRequest) -> str:
        with self._lock:
            if request.symbol not in self.prices:
                raise OrderRejected(f"no price for {request.symbol}", reason="unknown_symbol")
            order_id = f"25030400{len(self._orders) + 1:06d}"
            order = Order(order_id, request.tag or None, request.symbol, request.side, request.quantity,
                          request.order_type, request.price,
                          OrderStatus.PENDING if request.amo else OrderStatus.OPEN, amo=request.amo,
                          placed_at=self.clock.now())
            self._orders[order_id] = order
            ltp = self.prices[request.symbol]
            marketable = request.order_type is OrderType.MARKET or (
                request.price is not None
                and (request.price >= ltp if request.side is Side.BUY else request.price <= ltp)
            )
            if marketable and not request.amo:
                self._fill(order_id, ltp)
            return order_id

    def fill(self, order_id: str, price: Decimal | None = None) -> None:
        with self._lock:
            order = self._orders[order_id]
            self._fill(order_id, price or order.price or self.prices[order.symbol])

    def _fill(self, order_id: str, price: Decimal) -> None:
        o = self._orders[order_id]
        self._orders[order_id] = replace(o, status=OrderStatus.FILLED, filled_quantity=o.quantity, average_price=price)
        self._fills.append(Fill(order_id, o.tag, o.symbol, o.side, o.quantity, price, self.clock.now()))
        qty, avg = self._holdings.get(o.symbol, (0, Decimal(0)))
        if o.side is Side.BUY:
            self.cash -= price * o.quantity
            self._holdings[o.symbol] = (qty + o.quantity, (avg * qty + price * o.quantity) / (qty + o.quantity))
        else:
            self.cash += price * o.quantity
            self._holdings[o.symbol] = (qty - o.quantity, avg)

    def _active(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise OrderRejected(f"unknown order {order_id}", reason="unknown_order")
        if order.status is OrderStatus.FILLED:
            raise OrderCompleted(f"order {order_id} is completed", code="1021")
        if not order.status.is_active:
            raise OrderRejected(f"order {order_id} is {order.status.value}", reason="not_open")
        return order

    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        with self._lock:
            order = self._active(order_id)
            self._orders[order_id] = replace(order, quantity=quantity, price=price, order_type=order_type)

    def cancel_order(self, order_id: str) -> None:
        with self._lock:
            self._orders[order_id] = replace(self._active(order_id), status=OrderStatus.CANCELLED)

    def orders(self) -> list[Order]:
        with self._lock:
            return list(self._orders.values())

    def fills(self) -> list[Fill]:
        with self._lock:
            return list(self._fills)

    def holdings(self) -> list[Holding]:
        with self._lock:
            return [Holding(s, q, q, avg, self.prices.get(s)) for s, (q, avg) in self._holdings.items() if q > 0]

    def funds(self) -> Funds:
        return Funds(available_cash=self.cash)

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        return {
            s: Quote(s, self.prices[s], self.prices[s] * Decimal("0.8"), self.prices[s] * Decimal("1.2"),
                     self.prices[s])
            for s in symbols if s in self.prices
        }
