"""Paper prices from the real broker's quotes (`SWINGTRADER_PAPER_PRICES=broker`).

`QuotePath` is a `PricePath` for the paper exchange whose prices are the broker's last traded prices, seen
through `quotes()` of a read-only session (`broker_quotes`: it can never place, modify or cancel an order).

- Polling: a symbol the exchange asks about that was not polled (successfully or not) within `refresh` is
  polled then, in one batch with the other symbols asked about in the last `WATCH`. A quote's time is when it
  was seen (the reply has none).
  A broker error is logged (once per message) and is simply no new quote.
- Price at a moment: the last quote seen at or before it, if it is at most `max_age` old then; else the first
  quote seen within `max_age` after it (an order that went live before any quote, e.g. an AMO at the open,
  meets the first one that arrives); else none.
- Fill rule (`prices.fill_price` over this path): a market order, or a limit the quote in force already
  crosses, fills at that quote; a resting limit fills at its limit when a quote seen while it rests crosses it
  (buy: quote <= limit, sell: quote >= limit). Stale quotes give no price, so no fill and no paper quote.
- Previous closes (the price band, holdings' closes) come from `fallback`, the bar path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from swingtrader.broker.base import Quote
from swingtrader.broker.errors import BrokerError
from swingtrader.broker.prices import PricePath
from swingtrader.clock import Clock, ist_date

if TYPE_CHECKING:
    from swingtrader.broker.session import SessionManager
    from swingtrader.config import Settings
    from swingtrader.store import Store

log = logging.getLogger(__name__)

WATCH = timedelta(minutes=10)
"""A symbol asked about within this long is polled along with the one that triggered a poll."""
PUBLISH_EVERY = timedelta(seconds=15)
"""The newest quote's time is written to the store at most this often (for `status` and the dashboard)."""


class QuotePath:
    """The paper exchange's prices from live quotes (see the module docstring)."""

    def __init__(
        self, quotes: Callable[[list[str]], Mapping[str, Quote]], clock: Clock, fallback: PricePath, *,
        max_age: timedelta, refresh: timedelta = timedelta(seconds=5),
        on_quote: Callable[[datetime], None] | None = None,
    ) -> None:
        """`quotes(symbols)` answers with the current quotes (absent: not quoted); `on_quote(now)` hears of
        every poll that brought a quote."""
        self._quotes, self._clock, self._fallback = quotes, clock, fallback
        self._max_age, self._refresh = max_age, refresh
        self._on_quote = on_quote or (lambda _now: None)
        self._seen: dict[str, list[tuple[datetime, Decimal]]] = {}  # per symbol, oldest first, one IST day
        self._asked: dict[str, datetime] = {}  # the last poll that included each symbol
        self._last_error: str | None = None

    def price_at(self, symbol: str, day: date, moment: datetime) -> Decimal | None:
        self._observe(symbol)
        seen = self._seen.get(symbol, [])
        before = [q for q in seen if q[0] <= moment]
        if before and moment - before[-1][0] <= self._max_age:
            return before[-1][1]
        return next((p for t, p in seen if moment < t <= moment + self._max_age), None)

    def range_between(self, symbol: str, day: date, t0: datetime, t1: datetime) -> tuple[Decimal, Decimal] | None:
        self._observe(symbol)
        values = [p for t, p in self._seen.get(symbol, []) if t0 <= t <= t1]
        return (min(values), max(values)) if values else None

    def prev_close(self, symbol: str, day: date) -> Decimal | None:
        return self._fallback.prev_close(symbol, day)

    def points(self, symbol: str, day: date) -> list[tuple[datetime, float]] | None:
        """None: quotes have no known legs (the monitor's fast-forward does not apply)."""
        return None

    def _observe(self, symbol: str) -> None:
        now = self._clock.now()
        last = self._asked.get(symbol)
        if last is not None and now - last < self._refresh:
            return
        batch = [symbol] + [s for s, t in self._asked.items() if s != symbol and now - WATCH <= t and
                            now - t >= self._refresh]
        for s in batch:
            self._asked[s] = now
        for s in [s for s, t in self._asked.items() if now - t > WATCH]:
            del self._asked[s]
        try:
            quotes = self._quotes(batch)
            self._last_error = None
        except BrokerError as exc:
            if str(exc) != self._last_error:
                log.warning("paper prices: no broker quotes (%s): fills wait for a fresh quote", exc)
            self._last_error = str(exc)
            return
        for s, q in quotes.items():
            self._record(s, now, q.ltp)
        if quotes:
            self._on_quote(now)

    def _record(self, symbol: str, now: datetime, ltp: Decimal) -> None:
        seen = self._seen.setdefault(symbol, [])
        if seen and ist_date(seen[0][0]) != ist_date(now):
            seen.clear()
        seen.append((now, ltp))


def broker_quotes(settings: Settings, clock: Clock, *, on_secret: Callable[[str], None] | None = None
                  ) -> SessionManager:
    """A session on the Kotak Neo account in `settings`, read-only (every order call is refused before it is
    sent), logged in on its first quote."""
    from swingtrader.broker.kotak_neo.client import client_from_settings
    from swingtrader.broker.readonly import ReadOnlyBroker
    from swingtrader.broker.session import SessionManager

    return SessionManager(ReadOnlyBroker(client_from_settings(settings, clock)), clock, on_secret=on_secret)


def quote_path(settings: Settings, clock: Clock, fallback: PricePath, store: Store, *,
               on_secret: Callable[[str], None] | None = None) -> QuotePath:
    """The paper exchange's path over the broker's quotes; the newest quote's time is published in the store."""
    from swingtrader.store import StoreError
    from swingtrader.store.state import ServiceState

    state, max_age = ServiceState(store), settings.paper_max_quote_age_seconds
    published: list[datetime] = []

    def publish(now: datetime) -> None:
        if published and now - published[0] < PUBLISH_EVERY:
            return
        try:
            state.set_quotes(now, max_age, now)
        except StoreError as exc:  # the age shown lags; fills go on
            log.warning("paper quote age not recorded: %s", exc)
            return
        published[:] = [now]

    state.set_quotes(None, max_age, clock.now())
    session = broker_quotes(settings, clock, on_secret=on_secret)
    return QuotePath(session.quotes, clock, fallback, max_age=timedelta(seconds=max_age), on_quote=publish)
