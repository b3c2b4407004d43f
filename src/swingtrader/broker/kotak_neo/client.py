"""`KotakNeoBroker`: the `Broker` protocol over Kotak Neo's REST API (httpx, one pooled client).

Contract:
- `login()` runs the two-step TOTP + MPIN login and starts using the new session; it never reuses a TOTP
  code inside one 30 s window. It does not re-login by itself (an expired session raises `SessionExpired`) and
  keeps no login breaker: the session manager owns the only one.
- Replies are classified by one table (`wire/replies.py`); order statuses are an open set (an unknown one is
  `UNKNOWN`, logged once, listed by `unknown_statuses()`); an unreadable book row is skipped and named.
- Reads retry `RateLimited` / `BrokerUnavailable` with bounded, jittered backoff (honouring `Retry-After`),
  except a reply that outlived its deadline (error `code` "deadline"): the same call never waits twice.
  Writes are never re-sent: a write whose reply is lost or unreadable raises `AmbiguousOutcome`.
- Orders are paced at `orders_per_second`, every other call at `reads_per_second`.
- Every HTTP exchange (connect, send, the whole reply) ends within `timeout` seconds, a server that drips its
  reply included, and a login (both steps) within `timeout` too: past it a read or a login raises
  `BrokerUnavailable`, a write `AmbiguousOutcome` (it may have reached the broker). The instrument file download
  gets `max(30, timeout) * 4` seconds.
- Every failure is a typed `BrokerError`; no method returns an empty result in place of an error.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerUnavailable,
    FillBook,
    Funds,
    Holding,
    LoginFailed,
    OrderBook,
    OrderRejected,
    OrderRequest,
    OrderType,
    Quote,
    RateLimited,
    SessionExpired,
    SessionInfo,
)
from swingtrader.broker.kotak_neo.auth import KotakCredentials, TotpGuard
from swingtrader.broker.kotak_neo.deadline import deadline_transport, total_deadline
from swingtrader.broker.kotak_neo.instruments import InstrumentMaster
from swingtrader.broker.kotak_neo.ratelimit import Backoff, RateLimiter
from swingtrader.broker.kotak_neo.wire import inbound as rx
from swingtrader.broker.kotak_neo.wire import outbound as tx
from swingtrader.broker.kotak_neo.wire.master import Instrument, master_url_for, parse_master_paths
from swingtrader.clock import Clock

if TYPE_CHECKING:
    from swingtrader.config import Settings

log = logging.getLogger(__name__)
_DEADLINE = "deadline"  # the `code` of an error raised because an exchange outlived its deadline (not retried)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class KotakNeoBroker:
    """The live Kotak Neo adapter. Thread-safe; share one instance (behind the session manager)."""

    name = "kotak_neo"

    def __init__(
        self,
        credentials: KotakCredentials,
        *,
        login_url: str,
        clock: Clock,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        orders_per_second: float = 10,
        reads_per_second: float = 5,
        cache_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._creds = credentials
        self._login_url = login_url.rstrip("/")
        self._clock = clock
        self._own_http = http is None  # an injected client keeps the deadlines only on a `deadline_transport`
        self._http = http or httpx.Client(
            transport=deadline_transport(httpx.Limits(max_connections=20, max_keepalive_connections=10))
        )
        self._deadline = timeout
        self._timeout = httpx.Timeout(timeout)
        self._sleep = sleep
        self._order_pace = RateLimiter(orders_per_second, sleep=sleep)
        self._read_pace = RateLimiter(reads_per_second, sleep=sleep)
        self._backoff = Backoff(rng=rng)
        self._totp = TotpGuard(credentials.totp_secret, clock)
        self._unknown_statuses = rx.UnknownStatuses()
        self._login_lock = threading.Lock()
        self._session: rx.TradeSession | None = None
        self._counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._amo_orders: set[str] = set()
        self._master = InstrumentMaster(self._download_master, clock, cache_dir)

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> KotakNeoBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call_counts(self) -> dict[str, int]:
        """HTTP requests sent so far, by operation (retries and quote batches each count; a login is one
        `login` and one `validate`)."""
        with self._counts_lock:
            return dict(self._counts)

    # ---- login ----------------------------------------------------------------------------------------------
    def unknown_statuses(self) -> dict[str, int]:
        """Order status strings seen in books that the status table does not know, with how many rows had them."""
        return self._unknown_statuses.seen()

    def login(self) -> SessionInfo:
        """Two-step login (TOTP, then MPIN). `LoginFailed` for a refusal."""
        with self._login_lock:
            c = self._creds
            try:
                code = self._totp.code()  # may wait for the next TOTP window: before the deadline starts
                with total_deadline(self._deadline):
                    session = self._two_step_login(c, code)
            except LoginFailed as exc:
                log.error("Kotak Neo login refused: %s", exc)
                raise
            self._session = session
            log.info("Kotak Neo login ok; session expires %s", session.expires_at.isoformat())
            return SessionInfo(token=SecretStr(session.token), expires_at=session.expires_at)

    def _two_step_login(self, c: KotakCredentials, code: str) -> rx.TradeSession:
        body = self._exchange(
            tx.LOGIN,
            f"{self._login_url}/{tx.LOGIN.path}",
            tx.headers(tx.LOGIN, consumer_key=_s(c.consumer_key)),
            json_body=tx.login_body(_s(c.mobile_number), _s(c.ucc), code),
        )
        view = rx.parse_view_login(body)
        body = self._exchange(
            tx.VALIDATE,
            f"{self._login_url}/{tx.VALIDATE.path}",
            tx.headers(tx.VALIDATE, consumer_key=_s(c.consumer_key), sid=view.sid, token=view.token),
            json_body=tx.validate_body(_s(c.mpin)),
        )
        return rx.parse_trade_login(body)

    # ---- orders ---------------------------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> str:
        """Send a new order tagged `request.tag` (Kotak `ig`). `AmbiguousOutcome` if its reply is lost."""
        ins = self._master.get(request.symbol)
        if ins is None:
            raise OrderRejected(f"{request.symbol} is not in today's instrument master", reason="unknown_instrument")
        order_id = rx.parse_ack(self._write(tx.PLACE, tx.place_fields(request, ins.trading_symbol)), "place_order")
        if request.amo:
            self._amo_orders.add(order_id)
        return order_id

    def modify_order(self, order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType) -> None:
        """`OrderCompleted` if the order already filled (stCode 1021)."""
        fields = tx.modify_fields(
            order_id, quantity=quantity, price=price, order_type=order_type, amo=order_id in self._amo_orders
        )
        rx.parse_ack(self._write(tx.MODIFY, fields), "modify_order")

    def cancel_order(self, order_id: str) -> None:
        """`OrderCompleted` if the order already filled (stCode 1021)."""
        rx.parse_ack(self._write(tx.CANCEL, tx.cancel_fields(order_id, amo=order_id in self._amo_orders)), "cancel")

    # ---- reads ----------------------------------------------------------------------------------------------
    def orders(self) -> OrderBook:
        """Today's order book; rows that cannot be read are skipped and named in `skipped`."""
        orders = rx.parse_orders(self._read(tx.ORDERS), self._unknown_statuses)
        self._amo_orders.update(o.order_id for o in orders if o.amo)
        return orders

    def order(self, order_id: str) -> OrderBook:
        """One order's rows (`GET quick/user/orders/<order_no>`, the SDK's `order_report`); empty if unknown."""
        return rx.parse_orders(self._read(tx.ORDERS, path=tx.order_path(order_id)), self._unknown_statuses)

    def order_history(self, order_id: str) -> OrderBook:
        """The states one order went through, as order rows (newest first)."""
        return rx.parse_orders(self._read(tx.HISTORY, fields=tx.history_fields(order_id)), self._unknown_statuses)

    def fills(self) -> FillBook:
        return rx.parse_fills(self._read(tx.TRADES))

    def positions(self) -> list[rx.Position]:
        """Today's positions book (not part of the `Broker` protocol)."""
        return rx.parse_positions(self._read(tx.POSITIONS))

    def holdings(self) -> list[Holding]:
        return rx.parse_holdings(self._read(tx.HOLDINGS))

    def funds(self) -> Funds:
        """Cash for delivery buys: the limits' `Net`."""
        return rx.parse_funds(self._read(tx.LIMITS, fields=tx.LIMITS_FIELDS))

    def quotes(self, symbols: list[str]) -> dict[str, Quote]:
        """Quotes (LTP, circuit limits where the reply has them) in batches of at most 50 instruments.
        A symbol the broker does not quote (or does not list) is absent from the result."""
        wanted: dict[str, str] = {}
        for symbol in dict.fromkeys(symbols):
            ins = self._master.get(symbol)
            if ins is None:
                log.warning("no quote for %s: not in today's instrument master", symbol)
            else:
                wanted[ins.token] = symbol
        tokens = list(wanted)
        out: dict[str, Quote] = {}
        for i in range(0, len(tokens), tx.QUOTE_BATCH):
            for token, row in self._quote_batch(tokens[i : i + tx.QUOTE_BATCH]).items():
                if token in wanted:
                    out[wanted[token]] = Quote(wanted[token], row.ltp, row.lower_band, row.upper_band, row.prev_close)
        return out

    def _quote_batch(self, tokens: list[str]) -> dict[str, rx.QuoteRow]:
        """One batch. A whole reply that is one instrument's refusal (stCode 1009) is split in halves until the
        refused instrument is alone, so it drops out and the others are still quoted."""
        body = self._read(tx.QUOTES, path=tx.quotes_path(tokens))
        if not rx.quotes_refused(body):
            return rx.parse_quotes(body)
        if len(tokens) == 1:
            log.warning("no quote for instrument token %s: refused by the broker", tokens[0])
            return {}
        mid = len(tokens) // 2
        return {**self._quote_batch(tokens[:mid]), **self._quote_batch(tokens[mid:])}

    def instrument(self, symbol: str) -> Instrument | None:
        """Today's instrument master entry for a canonical symbol (token, trading symbol, lot and tick size)."""
        return self._master.get(symbol)

    # ---- plumbing -------------------------------------------------------------------------------------------
    def _trade_session(self) -> rx.TradeSession:
        session = self._session
        if session is None:
            raise SessionExpired("not logged in to Kotak Neo")
        return session

    def _write(self, ep: tx.Endpoint, fields: Mapping[str, str]) -> Any:
        session = self._trade_session()
        self._order_pace.acquire()
        h = tx.headers(ep, consumer_key=_s(self._creds.consumer_key), sid=session.sid, token=session.token)
        return self._exchange(ep, f"{session.base_url}/{ep.path}", h, form=tx.form_body(fields))

    def _read(self, ep: tx.Endpoint, *, fields: Mapping[str, str] | None = None, path: str | None = None) -> Any:
        attempt = 0
        while True:
            self._read_pace.acquire()
            try:
                return self._read_once(ep, fields, path)
            except (RateLimited, BrokerUnavailable) as exc:
                wait = self._backoff.delay(attempt, getattr(exc, "retry_after", None))
                attempt += 1
                if exc.code == _DEADLINE or attempt >= self._backoff.attempts or wait > self._backoff.max_wait:
                    raise
                log.warning("%s failed (%s); retry %d in %.2f s", ep.op, exc, attempt, wait)
                self._sleep(wait)

    def _read_once(self, ep: tx.Endpoint, fields: Mapping[str, str] | None, path: str | None) -> Any:
        ck = _s(self._creds.consumer_key)
        if ep.session:
            session = self._trade_session()
            base, h = session.base_url, tx.headers(ep, consumer_key=ck, sid=session.sid, token=session.token)
        else:
            known = self._session
            base, h = (known.base_url if known else self._login_url), tx.headers(ep, consumer_key=ck)
        form = tx.form_body(fields) if fields is not None else None
        return self._exchange(ep, f"{base}/{path or ep.path}", h, form=form)

    def _exchange(
        self,
        ep: tx.Endpoint,
        url: str,
        headers: dict[str, str],
        *,
        json_body: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Any:
        """One HTTP round trip; returns the decoded JSON of a success, raises the typed error otherwise."""
        with self._counts_lock:
            self._counts[ep.op] += 1
        content = json.dumps(dict(json_body)) if json_body is not None else None
        with total_deadline(self._deadline) as deadline:
            try:
                resp = self._http.request(
                    ep.method, url, headers=headers, content=content, data=form, timeout=self._timeout
                )
            except httpx.TransportError as exc:
                raise self._transport_error(ep, exc, late=deadline.expired) from None
        try:
            body = json.loads(resp.content) if resp.content else None
        except ValueError:
            body = None
        error = rx.classify(ep, resp.status_code, body, rx.retry_after(resp.headers))
        if error is not None:
            raise error
        return body

    def _transport_error(self, ep: tx.Endpoint, exc: httpx.TransportError, *, late: bool) -> Exception:
        kind = f"no complete reply within the {self._deadline:g} s deadline" if late else type(exc).__name__
        code = _DEADLINE if late else None
        if ep.write and not isinstance(exc, _NOT_SENT):
            return AmbiguousOutcome(f"{ep.op}: sent but no reply ({kind}); reconcile by the order's tag", code=code)
        return BrokerUnavailable(f"{ep.op}: {kind} talking to Kotak Neo", code=code)

    def _download_master(self) -> str:
        url = master_url_for(parse_master_paths(self._read(tx.MASTER)))
        with self._counts_lock:
            self._counts["instrument_file"] += 1
        limit = max(self._deadline, 30.0)
        try:
            with total_deadline(limit * 4):
                resp = self._http.get(url, timeout=httpx.Timeout(limit))
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(f"instrument master download failed ({type(exc).__name__})") from None
        return resp.text


def _s(secret: SecretStr) -> str:
    return secret.get_secret_value()


def client_from_settings(settings: Settings, clock: Clock) -> KotakNeoBroker:
    """The client for the account, endpoint, deadline and pacing in `settings` (`ValueError` naming any missing
    credential); its instrument master is cached under `<data_dir>/cache`."""
    return KotakNeoBroker(
        KotakCredentials.from_settings(settings), login_url=settings.kotak_login_url, clock=clock,
        timeout=settings.kotak_timeout_seconds, orders_per_second=settings.kotak_orders_per_second,
        reads_per_second=settings.kotak_reads_per_second, cache_dir=Path(settings.data_dir) / "cache",
    )
