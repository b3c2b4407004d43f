"""Replies from Kotak Neo: classify a reply into a typed error, or read it into domain objects.

Part of the wire package: the only place that knows Kotak's field names (see `wire/__init__.py`).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from swingtrader.broker.base import (
    AmbiguousOutcome,
    Fill,
    FillBook,
    Funds,
    Holding,
    LoginFailed,
    MalformedResponse,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Side,
)
from swingtrader.broker.kotak_neo.wire.replies import ST_CODE_BAD_INSTRUMENT, ST_CODE_EMPTY, classify
from swingtrader.clock import IST

__all__ = ["classify"]  # re-exported: the client classifies through this module
log = logging.getLogger(__name__)
_T = TypeVar("_T")

AMO_STATUS = "after market order req received"
_AMO_STATUSES = frozenset({AMO_STATUS, "modify after market order req received"})
_BOOK = "kotak-neo-api #97 (a real order book)"
_SDK = "SDK orderfeed/models.py (its list is 'not an exhaustive/closed enum')"
# ordSt strings -> states, with the source that names each. The set is open: a string not listed here is
# `OrderStatus.UNKNOWN` (still active), logged once per string, and never fails the book.
ORDER_STATUS_EVIDENCE: Mapping[str, tuple[OrderStatus, str]] = {
    "put order req received": (OrderStatus.PENDING, "API docs; " + _BOOK),
    "validation pending": (OrderStatus.PENDING, _SDK),
    "open pending": (OrderStatus.PENDING, _SDK),
    AMO_STATUS: (OrderStatus.PENDING, "API docs (AMO); " + _BOOK),
    "modify after market order req received": (OrderStatus.PENDING, _BOOK),
    "trigger pending": (OrderStatus.PENDING, _BOOK + "; OpenAlgo order_api.py filters on it"),
    "open": (OrderStatus.OPEN, "API docs"),
    "modified": (OrderStatus.OPEN, "API docs; " + _BOOK),
    "modify pending": (OrderStatus.OPEN, _SDK),
    "modify validation pending": (OrderStatus.OPEN, _SDK),
    "cancel pending": (OrderStatus.OPEN, _SDK),
    "not modified": (OrderStatus.OPEN, _SDK + " (the modify was refused; the order stands)"),
    "not cancelled": (OrderStatus.OPEN, _SDK + " (the cancel was refused; the order stands)"),
    "complete": (OrderStatus.FILLED, "API docs"),
    "cancelled": (OrderStatus.CANCELLED, "API docs"),
    "canceled": (OrderStatus.CANCELLED, "OpenAlgo order mapping"),
    "cancelled after market order": (OrderStatus.CANCELLED, _BOOK),
    "rejected": (OrderStatus.REJECTED, "API docs"),
}
ORDER_STATUS: Mapping[str, OrderStatus] = {k: v for k, (v, _) in ORDER_STATUS_EVIDENCE.items()}
_SIDES = {"B": Side.BUY, "S": Side.SELL, "BUY": Side.BUY, "SELL": Side.SELL}
# Stop orders placed by hand are still limit / market orders once triggered.
# `LMT`: OpenAlgo's stream adapter notes the stream docs show MKT/LMT.
_PRICE_TYPES = {"L": OrderType.LIMIT, "LMT": OrderType.LIMIT, "SL": OrderType.LIMIT, "MKT": OrderType.MARKET,
                "SL-M": OrderType.MARKET}
_SERIES = ("-EQ", "-BE", "-BZ", "-SM", "-ST")
_FUNDS_EXTRA = ("MarginUsed", "CollateralValue", "Collateral", "RmsPayInAmt", "RmsPayOutAmt")
_TIME_FORMATS = ("%d-%b-%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")



@dataclass(frozen=True)
class ViewSession:
    """The first login step's view token and sid (only good for the MPIN step)."""

    token: str
    sid: str


@dataclass(frozen=True)
class TradeSession:
    """The trading session: token, sid, the per-user `baseUrl` and the token's `exp`."""

    token: str
    sid: str
    base_url: str
    expires_at: datetime


@dataclass(frozen=True)
class Position:
    """A position (`quick/user/positions` row): filled buys and sells today plus carried-forward quantities and
    amounts (`cfBuyQty`/`cfSellQty`, `cfBuyAmt`/`cfSellAmt`)."""

    symbol: str
    product: str
    buy_quantity: int
    sell_quantity: int
    buy_amount: Decimal
    sell_amount: Decimal

    @property
    def net_quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity


@dataclass(frozen=True)
class QuoteRow:
    """One quotes reply row, keyed by instrument token (the client maps it back to a symbol)."""

    token: str
    ltp: Decimal
    lower_band: Decimal | None
    upper_band: Decimal | None
    prev_close: Decimal | None


def _data(body: Any, what: str) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise MalformedResponse(f"{what}: reply has no 'data'")
    return body["data"]


def _rows(body: Any, what: str) -> list[dict[str, Any]]:
    """The `data` rows of a book; the empty-book reply (stCode 5203) is an empty list."""
    if isinstance(body, dict) and str(body.get("stCode")).strip() == ST_CODE_EMPTY:
        return []
    rows = _data(body, what)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MalformedResponse(f"{what}: 'data' is not a list of rows")
    return rows


def _field(row: Mapping[str, Any], key: str, what: str) -> Any:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise MalformedResponse(f"{what}: row without '{key}'")
    return value


def _dec(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise MalformedResponse(f"{what}: {value!r} is not a number") from None


def _price(value: Any, what: str) -> Decimal:
    """A price that must be there: zero is never a price."""
    number = _dec(value, what)
    if number <= 0:
        raise MalformedResponse(f"{what}: {value!r} is not a price")
    return number


def _int(value: Any, what: str) -> int:
    number = _dec(value, what)
    if number != number.to_integral_value():
        raise MalformedResponse(f"{what}: {value!r} is not a whole number")
    return int(number)


def _opt_dec(row: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    """A price that may be unset: missing, blank or any zero ("0.00", "0.0000") is None, never a price of 0."""
    value = row.get(key)
    if value is None or not str(value).strip():
        return None
    number = _dec(value, f"{what} {key}")
    return number if number != 0 else None


def _when(text: Any, what: str) -> datetime:
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(str(text).strip(), fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    raise MalformedResponse(f"{what}: unreadable time {text!r}")


def canonical_symbol(trading_symbol: str) -> str:
    """`RELIANCE-EQ` -> `RELIANCE`; `BAJAJ-AUTO-EQ` -> `BAJAJ-AUTO`; `M&M` stays `M&M`."""
    s = trading_symbol.strip().upper()
    for suffix in _SERIES:
        if s.endswith(suffix) and len(s) > len(suffix):
            return s[: -len(suffix)]
    return s


class UnknownStatuses:
    """Order status strings seen that the table does not know: each is logged once, and `seen()` lists them
    (with a count of rows) for the dashboard. Thread-safe."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, status: str) -> None:
        with self._lock:
            first = status not in self._seen
            self._seen[status] = self._seen.get(status, 0) + 1
        if first:
            log.warning("order book: unknown order status %r, treated as still active", status)

    def seen(self) -> dict[str, int]:
        with self._lock:
            return dict(self._seen)


def order_status(raw: Any, on_unknown: Callable[[str], None] | None = None) -> OrderStatus:
    """The state for an `ordSt` string; an unknown one is `UNKNOWN` (reported through `on_unknown`)."""
    key = " ".join(str(raw).split()).lower()
    status = ORDER_STATUS.get(key)
    if status is None:
        if on_unknown is not None:
            on_unknown(key)
        return OrderStatus.UNKNOWN
    return status


def _side(raw: Any, what: str) -> Side:
    try:
        return _SIDES[str(raw).strip().upper()]
    except KeyError:
        raise MalformedResponse(f"{what}: unknown transaction type {raw!r}") from None


def _tag(row: Mapping[str, Any]) -> str | None:
    tag = str(row.get("GuiOrdId") or "").strip()
    return tag or None


def parse_view_login(body: Any) -> ViewSession:
    data = _data(body, "login")
    try:
        return ViewSession(token=str(data["token"]), sid=str(data["sid"]))
    except (KeyError, TypeError):
        raise LoginFailed("login reply has no view token or sid") from None


def parse_trade_login(body: Any) -> TradeSession:
    data = _data(body, "validate")
    if not isinstance(data, dict) or not data.get("token") or not data.get("sid"):
        raise LoginFailed("validate reply has no trade token or sid")
    base_url = str(data.get("baseUrl") or "").strip()
    if not base_url.startswith(("http://", "https://")):
        raise LoginFailed("validate reply has no usable baseUrl: cannot route trading calls")
    return TradeSession(str(data["token"]), str(data["sid"]), base_url.rstrip("/"), jwt_expiry(str(data["token"])))


def jwt_expiry(token: str) -> datetime:
    """The `exp` claim of a JWT, read without checking the signature (only to plan a re-login)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC).astimezone(IST)
    except (IndexError, ValueError, KeyError, TypeError):
        raise MalformedResponse("trade token is not a JWT with an 'exp' claim") from None


def parse_ack(body: Any, what: str) -> str:
    """The order number of a write's acknowledgement. A "success" without one leaves the outcome unknown."""
    if not isinstance(body, dict) or not str(body.get("nOrdNo") or "").strip():
        raise AmbiguousOutcome(f"{what}: acknowledgement without nOrdNo; reconcile by tag")
    return str(body["nOrdNo"]).strip()


class _OddFields:
    """Fields of a book row that could not be read (a row keeps its identity and status): each field name is
    logged once per process. Thread-safe."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, field: str, value: Any, what: str) -> None:
        with self._lock:
            first = field not in self._seen
            self._seen.add(field)
        if first:
            log.warning("%s: unreadable %s %r; the row is kept (its identity and status), the field ignored", what,
                        field, value)


_ODD = _OddFields()


def _soft(read: Callable[[], _T], field: str, value: Any, what: str, default: _T) -> _T:
    try:
        return read()
    except MalformedResponse:
        _ODD(field, value, what)
        return default


def _order(row: Mapping[str, Any], on_unknown: Callable[[str], None] | None) -> Order:
    """One order row. Its identity (number, symbol, side, quantity) and status must read; any other field that
    does not (an unknown price type, an unparsable price or time) is logged once and ignored. Unreadable fill
    fields leave the status `UNKNOWN` (still active) with nothing filled."""
    what = f"orders row {row.get('nOrdNo')!r}"
    status = order_status(_field(row, "ordSt", what), on_unknown)
    raw_type = str(row.get("prcTp") or "").strip().upper()
    price = _soft(lambda: _opt_dec(row, "prc", what), "prc", row.get("prc"), what, None)
    order_type = _PRICE_TYPES.get(raw_type)
    if order_type is None:
        _ODD("prcTp", row.get("prcTp"), what)
        order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
    try:
        filled = _int(row.get("fldQty") or 0, what)
        avg = _opt_dec(row, "avgPrc", what)
    except MalformedResponse:
        _ODD("fldQty/avgPrc", (row.get("fldQty"), row.get("avgPrc")), what)
        filled, avg, status = 0, None, OrderStatus.UNKNOWN
    return Order(
        order_id=str(_field(row, "nOrdNo", what)),
        tag=_tag(row),
        symbol=canonical_symbol(str(_field(row, "trdSym", what))),
        side=_side(_field(row, "trnsTp", what), what),
        quantity=_int(_field(row, "qty", what), what),
        order_type=order_type,
        price=price if order_type is OrderType.LIMIT else None,
        status=status,
        filled_quantity=filled,
        average_price=avg if filled else None,
        amo=" ".join(str(row["ordSt"]).split()).lower() in _AMO_STATUSES,
        placed_at=_soft(lambda: _when(row["ordDtTm"], what), "ordDtTm", row.get("ordDtTm"), what, None)
        if row.get("ordDtTm") else None,
        reject_reason=str(row.get("rejRsn") or "").strip() or None,
    )


def parse_orders(body: Any, on_unknown: Callable[[str], None] | None = None) -> OrderBook:
    """The order book. A row that cannot be read is logged by its order number and listed in `skipped`; the
    other rows still count. Unknown statuses are `UNKNOWN` and reported through `on_unknown`."""
    rows, skipped, tags = [], [], []
    for row in _rows(body, "orders"):
        try:
            rows.append(_order(row, on_unknown))
        except MalformedResponse as exc:
            skipped.append(_row_id(row))
            tags.append(_tag(row))
            log.warning("order book: row skipped: %s", exc)
    return OrderBook(rows, tuple(skipped), tuple(tags))


def _row_id(row: Mapping[str, Any]) -> str:
    return str(row.get("nOrdNo") or "?").strip()


def _fill(row: Mapping[str, Any]) -> Fill:
    what = f"trades row {row.get('nOrdNo')!r}"
    # flDt + flTm is the fill time; exTm is the order's exchange time (trade book doc sample).
    when = f"{row['flDt']} {row['flTm']}" if row.get("flDt") and row.get("flTm") else _field(row, "exTm", what)
    return Fill(
        order_id=str(_field(row, "nOrdNo", what)),
        tag=_tag(row),
        symbol=canonical_symbol(str(_field(row, "trdSym", what))),
        side=_side(_field(row, "trnsTp", what), what),
        quantity=_int(_field(row, "fldQty", what), what),
        price=_price(_field(row, "avgPrc", what), what),
        at=_when(when, what),
    )


def parse_fills(body: Any) -> FillBook:
    """The trade book; unreadable rows are skipped and listed by order number, as in `parse_orders`."""
    rows, skipped, tags = [], [], []
    for row in _rows(body, "trades"):
        try:
            rows.append(_fill(row))
        except MalformedResponse as exc:
            skipped.append(_row_id(row))
            tags.append(_tag(row))
            log.warning("trade book: row skipped: %s", exc)
    return FillBook(rows, tuple(skipped), tuple(tags))


def parse_holdings(body: Any) -> list[Holding]:
    out = []
    for row in _rows(body, "holdings"):
        what = f"holdings row {row.get('displaySymbol')!r}"
        out.append(
            Holding(
                symbol=canonical_symbol(str(_field(row, "displaySymbol", what))),
                quantity=_int(_field(row, "quantity", what), what),
                sellable_quantity=_int(_field(row, "sellableQuantity", what), what),
                average_price=_dec(_field(row, "averagePrice", what), what),
                close_price=_opt_dec(row, "closingPrice", what),
            )
        )
    return out


def parse_positions(body: Any) -> list[Position]:
    out = []
    for row in _rows(body, "positions"):
        what = f"positions row {row.get('trdSym')!r}"
        qty = {k: _int(row.get(k) or 0, what) for k in ("flBuyQty", "flSellQty", "cfBuyQty", "cfSellQty")}
        out.append(
            Position(
                symbol=canonical_symbol(str(_field(row, "trdSym", what))),
                product=str(row.get("prod") or ""),
                buy_quantity=qty["flBuyQty"] + qty["cfBuyQty"],
                sell_quantity=qty["flSellQty"] + qty["cfSellQty"],
                buy_amount=_dec(row.get("buyAmt") or 0, what) + _dec(row.get("cfBuyAmt") or 0, what),
                sell_amount=_dec(row.get("sellAmt") or 0, what) + _dec(row.get("cfSellAmt") or 0, what),
            )
        )
    return out


def parse_funds(body: Any) -> Funds:
    """Cash for delivery buys is `Net`, and only `Net`: a missing `Net` is an error, never "the largest number"."""
    if not isinstance(body, dict) or body.get("Net") is None:
        raise MalformedResponse("limits: reply has no 'Net'")
    extra = {k: _dec(body[k], f"limits {k}") for k in _FUNDS_EXTRA if body.get(k) not in (None, "")}
    return Funds(available_cash=_dec(body["Net"], "limits Net"), extra=extra)


def quotes_refused(body: Any) -> bool:
    """A whole quote reply that is one instrument's refusal (HTTP 200, Not_Ok, stCode 1009: OpenAlgo data.py)."""
    return isinstance(body, dict) and str(body.get("stCode", "")).strip() == ST_CODE_BAD_INSTRUMENT


def parse_quotes(body: Any) -> dict[str, QuoteRow]:
    """Quote rows by instrument token. The reply is a top-level JSON array; an element that is a per-instrument
    refusal (`Not_Ok`, e.g. stCode 1009) or cannot be read is dropped (logged), not the batch. Circuit limits
    are `low_price_range` / `high_price_range` (SDK 3.x quotes sample)."""
    if quotes_refused(body):
        return {}
    if not isinstance(body, list):
        raise MalformedResponse("quotes: reply is not a list")
    out = {}
    for row in body:
        try:
            quote = _quote(row)
        except MalformedResponse as exc:
            log.warning("quotes: row dropped: %s", exc)
            continue
        if quote is not None:
            out[quote.token] = quote
    return out


def _quote(row: Any) -> QuoteRow | None:
    if not isinstance(row, dict):
        raise MalformedResponse(f"quotes row {row!r}: not an object")
    if str(row.get("stat", "")).strip().lower() == "not_ok":
        log.warning("quotes: instrument refused (stCode %s: %s)", row.get("stCode"), row.get("errMsg"))
        return None
    what = f"quotes row {row.get('exchange_token')!r}"
    raw_ohlc = row.get("ohlc")
    ohlc: Mapping[str, Any] = raw_ohlc if isinstance(raw_ohlc, dict) else {}
    token = str(_field(row, "exchange_token", what)).strip()
    return QuoteRow(
        token=token,
        ltp=_dec(_field(row, "ltp", what), what),
        lower_band=_opt_dec(row, "low_price_range", what),
        upper_band=_opt_dec(row, "high_price_range", what),
        prev_close=_opt_dec(ohlc, "close", what),
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (the delta-seconds form; an HTTP date is ignored)."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
