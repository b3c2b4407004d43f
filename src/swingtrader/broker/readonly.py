"""`ReadOnlyBroker`: logs in and reads, but refuses every order (a first day's shadow run)."""

from __future__ import annotations

import logging
from decimal import Decimal

from swingtrader.broker.base import (
    Broker,
    Fill,
    Funds,
    Holding,
    Order,
    OrderRejected,
    OrderRequest,
    OrderType,
    Quote,
    SessionInfo,
)

log = logging.getLogger(__name__)


class ReadOnlyBroker:
    """Wraps a broker; writes raise `OrderRejected(reason="read_only")` and are logged, reads pass through."""

    def __init__(self, inner: Broker) -> None:
        self._inner = inner
        self.name = inner.name

    def login(self) -> SessionInfo:
        return self._inner.login()

    def place_order(self, request: OrderRequest) -> str:
        log.warning("read-only: not sending %s %s x%d @ %s", request.side, request.symbol, request.quantity,
                    request.price)
        raise OrderRejected("read-only mode: no order is sent", reason="read_only")

    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        raise OrderRejected("read-only mode: no order is modified", reason="read_only")

    def cancel_order(self, order_id: str) -> None:
        raise OrderRejected("read-only mode: no order is cancelled", reason="read_only")

    def orders(self) -> list[Order]:
        return self._inner.orders()

    def fills(self) -> list[Fill]:
        return self._inner.fills()

    def order(self, order_id: str) -> list[Order]:
        return self._inner.order(order_id)

    def holdings(self) -> list[Holding]:
        return self._inner.holdings()

    def funds(self) -> Funds:
        return self._inner.funds()

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        return self._inner.quotes(symbols)
