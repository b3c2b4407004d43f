"""`SessionManager`: every broker call shares one logged-in session.

- Logs in lazily on the first call, and again once the token has expired (no call is made on a token known to
  be expired). Inside `refresh_margin` of the expiry it logs in early only if the new token would outlive the old
  one by at least the margin: the new expiry is predicted from the last login (a token that ended at the first
  IST midnight after its login is expected to do so again; any other token to last as long again), and an early
  login that did not extend the session is not repeated for that token. So a token that dies at midnight is
  renewed once, after midnight: at most one full login per expiry.
- On `SessionExpired` from any caller, exactly one re-login runs (single flight); concurrent callers wait for it.
  Reads are then retried once (refused again: `refused` is reported, for a person). Writes are not retried: the
  caller gets `AmbiguousOutcome` and resolves the
  order by its client tag (the order manager does this).
- Counts logins and records each login event through `on_event(event, detail)`.
- After `max_login_failures` consecutive failed logins it stops trying and raises `LoginFailed` until
  `reset_failures()` (a human must look: wrong MPIN, locked account).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Broker,
    Fill,
    Funds,
    Holding,
    LoginFailed,
    Order,
    OrderRequest,
    OrderType,
    Quote,
    SessionExpired,
    SessionInfo,
)
from swingtrader.clock import IST, Clock, ist_date

T = TypeVar("T")


class SessionEvent(StrEnum):
    """What `on_event` reports (stored in `session_events.event`). Only `LOGIN` counts as a login."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    EXPIRED = "expired"
    REFUSED = "refused"  # a read refused as a session error again right after a fresh login: a person must look


class SessionManager:
    """A `Broker` that wraps another and owns its login."""

    def __init__(
        self,
        broker: Broker,
        clock: Clock,
        *,
        refresh_margin: timedelta = timedelta(minutes=5),
        max_login_failures: int = 3,
        on_event: Callable[[str, str], None] | None = None,
        on_secret: Callable[[str], None] | None = None,
        on_call: Callable[[str, str], None] | None = None,
    ) -> None:
        self._broker = broker
        self._clock = clock
        self._margin = refresh_margin
        self._max_failures = max_login_failures
        self._on_event = on_event or (lambda _e, _d: None)
        self._on_secret = on_secret or (lambda _s: None)
        self._on_call = on_call or (lambda _op, _outcome: None)
        self._lock = threading.Lock()
        self._info: SessionInfo | None = None
        self._logged_in_at: datetime | None = None
        self._early_refresh_failed_for: datetime | None = None  # the expiry an early login did not extend
        self._generation = 0
        self._failures = 0
        self.logins = 0
        self.name = broker.name
        self.books_are_complete: bool = getattr(broker, "books_are_complete", False)
        """The wrapped broker's books are complete by construction (see `PaperBroker.books_are_complete`)."""

    # ---- session -------------------------------------------------------------------------------------
    @property
    def session(self) -> SessionInfo | None:
        return self._info

    def login(self) -> SessionInfo:
        """Force a fresh login now (e.g. the dashboard's "re-login" action)."""
        with self._lock:
            return self._login_locked()

    def reset_failures(self) -> None:
        """A person looked (the dashboard's re-login): log in may be tried again. This is the only login breaker;
        the adapters keep none."""
        self._failures = 0

    @property
    def login_blocked(self) -> bool:
        return self._failures >= self._max_failures

    def unknown_statuses(self) -> dict[str, int]:
        """Order status strings the adapter met but does not know (shown on the dashboard); {} if it keeps none."""
        report = getattr(self._broker, "unknown_statuses", None)
        return dict(report()) if callable(report) else {}

    def _login_locked(self) -> SessionInfo:
        if self._failures >= self._max_failures:
            raise LoginFailed(
                f"{self._failures} consecutive login failures: not trying again until a human checks the credentials"
            )
        now = self._clock.now()
        try:
            info = self._broker.login()
        except LoginFailed as exc:
            self._failures += 1
            self._on_event(SessionEvent.LOGIN_FAILED, str(exc))
            raise
        self._failures = 0
        old, self._info, self._logged_in_at = self._info, info, now
        if old is not None and now < old.expires_at and info.expires_at < old.expires_at + self._margin:
            self._early_refresh_failed_for = info.expires_at
        self._generation += 1
        self.logins += 1
        self._on_secret(info.token.get_secret_value())
        self._on_event(SessionEvent.LOGIN, f"expires {info.expires_at.isoformat()}")
        return info

    def _ensure(self) -> int:
        """Make sure a fresh-enough session exists; return its generation."""
        if not self._login_due():
            return self._generation
        with self._lock:
            if self._login_due():
                self._login_locked()
            return self._generation

    def _login_due(self) -> bool:
        info, now = self._info, self._clock.now()
        if info is None or now >= info.expires_at:
            return True
        if now < info.expires_at - self._margin or info.expires_at == self._early_refresh_failed_for:
            return False
        return self._predicted_expiry(now) >= info.expires_at + self._margin

    def _predicted_expiry(self, now: datetime) -> datetime:
        """When a token from a login at `now` would expire, judged by the last login."""
        info, at = self._info, self._logged_in_at
        if info is None or at is None:
            return now
        if info.expires_at == _next_ist_midnight(at):
            return _next_ist_midnight(now)
        return now + (info.expires_at - at)

    def _relogin_after_expiry(self, seen_generation: int) -> None:
        with self._lock:
            if self._generation == seen_generation:  # nobody re-logged in since this caller's attempt
                self._on_event(SessionEvent.EXPIRED, "session expired; logging in again")
                self._login_locked()

    def _counted(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            result = fn()
        except Exception as exc:
            self._on_call(operation, type(exc).__name__)
            raise
        self._on_call(operation, "ok")
        return result

    def _read(self, operation: str, fn: Callable[[], T]) -> T:
        gen = self._ensure()
        try:
            return self._counted(operation, fn)
        except SessionExpired:
            self._relogin_after_expiry(gen)
        try:
            return self._counted(operation, fn)
        except SessionExpired as exc:
            self._on_event(SessionEvent.REFUSED, f"{operation} refused again after a fresh login: {exc}")
            raise

    def _write(self, operation: str, fn: Callable[[], T]) -> T:
        gen = self._ensure()
        try:
            return self._counted(operation, fn)
        except SessionExpired as exc:
            self._relogin_after_expiry(gen)
            raise AmbiguousOutcome(f"session expired during a write; reconcile before resending: {exc}") from None

    # ---- the Broker protocol -----------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> str:
        return self._write("place_order", lambda: self._broker.place_order(request))

    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        self._write(
            "modify_order",
            lambda: self._broker.modify_order(order_id, quantity=quantity, price=price, order_type=order_type),
        )

    def cancel_order(self, order_id: str) -> None:
        self._write("cancel_order", lambda: self._broker.cancel_order(order_id))

    def orders(self) -> list[Order]:
        return self._read("orders", self._broker.orders)

    def fills(self) -> list[Fill]:
        return self._read("fills", self._broker.fills)

    def order(self, order_id: str) -> list[Order]:
        return self._read("order", lambda: self._broker.order(order_id))

    def holdings(self) -> list[Holding]:
        return self._read("holdings", self._broker.holdings)

    def funds(self) -> Funds:
        return self._read("funds", self._broker.funds)

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        return self._read("quotes", lambda: self._broker.quotes(symbols))


def _next_ist_midnight(moment: datetime) -> datetime:
    return datetime.combine(ist_date(moment) + timedelta(days=1), time(0), tzinfo=IST)
