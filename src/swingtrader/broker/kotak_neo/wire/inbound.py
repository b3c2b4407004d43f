"""Replies from Kotak Neo: classify a reply into a typed error, or read it into domain objects.

Part of the wire package: the only place that knows Kotak's field names (see `wire/__init__.py`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerError,
    BrokerUnavailable,
    Fill,
    Funds,
    Holding,
    LoginFailed,
    MalformedResponse,
    Order,
    OrderCompleted,
    OrderRejected,
    OrderStatus,
    OrderType,
    RateLimited,
    SessionExpired,
    Side,
)
from swingtrader.broker.kotak_neo.wire.outbound import (
    CANCEL,
    LOGIN,
    MODIFY,
    SESSION_CODES,
    ST_CODE_COMPLETED,
    ST_CODE_EMPTY,
    VALIDATE,
    Endpoint,
)
from swingtrader.clock import IST

AMO_STATUS = "after market order req received"
# ordSt strings -> the closed set of states. Anything else is MalformedResponse, never "open".
ORDER_STATUS: Mapping[str, OrderStatus] = {
    "put order req received": OrderStatus.PENDING,
    "validation pending": OrderStatus.PENDING,
    "open pending": OrderStatus.PENDING,
    AMO_STATUS: OrderStatus.PENDING,
    "open": OrderStatus.OPEN,
    "modified": OrderStatus.OPEN,
    "modify pending": OrderStatus.OPEN,  # the *pending / *validation pending forms: third-party material
    "modify validation pending": OrderStatus.OPEN,
    "cancel pending": OrderStatus.OPEN,
    "complete": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}
_SIDES = {"B": Side.BUY, "S": Side.SELL, "BUY": Side.BUY, "SELL": Side.SELL}
# Stop orders placed by hand are still limit / market orders once triggered.
_PRICE_TYPES = {"L": OrderType.LIMIT, "SL": OrderType.LIMIT, "MKT": OrderType.MARKET, "SL-M": OrderType.MARKET}
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
    """A day position (positions book row): filled buys and sells today plus carried-forward quantities."""

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


def _message(body: Any) -> tuple[str | None, str]:
    """(code, message) from either failure shape, or from a 401 gateway body."""
    if not isinstance(body, dict):
        return None, ""
    if isinstance(body.get("error"), list) and body["error"] and isinstance(body["error"][0], dict):
        first = body["error"][0]
        return _str_or_none(first.get("code")), str(first.get("message", ""))
    code = _str_or_none(body.get("stCode", body.get("code")))
    return code, str(body.get("errMsg") or body.get("emsg") or body.get("description") or body.get("message") or "")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def classify(ep: Endpoint, status: int, body: Any, retry_after: float | None) -> BrokerError | None:
    """The typed error a reply stands for, or None if it is a success (or the empty-book reply).

    `body` is the decoded JSON, or `None` when the body was not JSON."""
    login = ep in (LOGIN, VALIDATE)
    code, msg = _message(body)
    where = f"{ep.op}: HTTP {status}"
    if status == 429:
        return RateLimited(f"{where}: rate limited", retry_after=retry_after, status=status)
    if status >= 500:
        if ep.write:
            return AmbiguousOutcome(f"{where}: broker error after a {ep.op}; reconcile by tag", status=status)
        return BrokerUnavailable(f"{where}: broker unavailable", status=status)
    if body is None:
        if ep.write and status < 400:
            return AmbiguousOutcome(f"{where}: reply to a {ep.op} was not JSON; reconcile by tag", status=status)
        return BrokerUnavailable(f"{where}: reply was not JSON", status=status)
    if login:
        if status >= 400 or (isinstance(body, dict) and "data" not in body):
            return LoginFailed(f"{ep.op} refused: {msg or 'no data in reply'}", code=code, status=status)
        return None
    if status in (401, 403) or code in SESSION_CODES:
        return SessionExpired(f"{where}: session expired or invalid ({msg or 'no message'})", code=code, status=status)
    failed = status >= 400 or (isinstance(body, dict) and str(body.get("stat", "")).lower() == "not_ok")
    if not failed:
        return None
    if code == str(ST_CODE_EMPTY):
        return None
    if code == str(ST_CODE_COMPLETED) and ep.op in (MODIFY.op, CANCEL.op):
        return OrderCompleted(f"{ep.op}: order is completed ({msg})", code=code, status=status)
    if ep.write:
        return OrderRejected(f"{ep.op} rejected: {msg or 'no reason given'}", reason=msg, code=code, status=status)
    return BrokerUnavailable(f"{where}: broker refused the read: {msg or 'no message'} (stCode {code})", code=code)


def _data(body: Any, what: str) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise MalformedResponse(f"{what}: reply has no 'data'")
    return body["data"]


def _rows(body: Any, what: str) -> list[dict[str, Any]]:
    """The `data` rows of a book; the empty-book reply (stCode 5203) is an empty list."""
    if isinstance(body, dict) and str(body.get("stCode")) == str(ST_CODE_EMPTY):
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


def _int(value: Any, what: str) -> int:
    number = _dec(value, what)
    if number != number.to_integral_value():
        raise MalformedResponse(f"{what}: {value!r} is not a whole number")
    return int(number)


def _opt_dec(row: Mapping[str, Any], key: str, what: str) -> Decimal | None:
    value = row.get(key)
    if value is None or str(value).strip() in ("", "0", "0.0", "0.00"):
        return None
    return _dec(value, f"{what} {key}")


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


def order_status(raw: Any) -> OrderStatus:
    try:
        return ORDER_STATUS[str(raw).strip().lower()]
    except KeyError:
        raise MalformedResponse(f"orders: unknown order status {raw!r}") from None


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
    if not isinstance(body, dict) or not body.get("nOrdNo"):
        raise MalformedResponse(f"{what}: acknowledgement without nOrdNo")
    return str(body["nOrdNo"])


def _order(row: Mapping[str, Any]) -> Order:
    what = f"orders row {row.get('nOrdNo')!r}"
    order_type = _PRICE_TYPES.get(str(_field(row, "prcTp", what)).strip().upper())
    if order_type is None:
        raise MalformedResponse(f"{what}: unknown price type {row.get('prcTp')!r}")
    filled = _int(row.get("fldQty") or 0, what)
    avg = _opt_dec(row, "avgPrc", what)
    return Order(
        order_id=str(_field(row, "nOrdNo", what)),
        tag=_tag(row),
        symbol=canonical_symbol(str(_field(row, "trdSym", what))),
        side=_side(_field(row, "trnsTp", what), what),
        quantity=_int(_field(row, "qty", what), what),
        order_type=order_type,
        price=_opt_dec(row, "prc", what) if order_type is OrderType.LIMIT else None,
        status=order_status(_field(row, "ordSt", what)),
        filled_quantity=filled,
        average_price=avg if filled else None,
        amo=str(row["ordSt"]).strip().lower() == AMO_STATUS,
        placed_at=_when(row["ordDtTm"], what) if row.get("ordDtTm") else None,
        reject_reason=str(row.get("rejRsn") or "").strip() or None,
    )


def parse_orders(body: Any) -> list[Order]:
    return [_order(row) for row in _rows(body, "orders")]


def parse_fills(body: Any) -> list[Fill]:
    fills = []
    for row in _rows(body, "trades"):
        what = f"trades row {row.get('nOrdNo')!r}"
        when = row.get("exTm") or f"{_field(row, 'flDt', what)} {_field(row, 'flTm', what)}"
        fills.append(
            Fill(
                order_id=str(_field(row, "nOrdNo", what)),
                tag=_tag(row),
                symbol=canonical_symbol(str(_field(row, "trdSym", what))),
                side=_side(_field(row, "trnsTp", what), what),
                quantity=_int(_field(row, "fldQty", what), what),
                price=_dec(_field(row, "avgPrc", what), what),
                at=_when(when, what),
            )
        )
    return fills


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
                buy_amount=_dec(row.get("buyAmt") or 0, what),
                sell_amount=_dec(row.get("sellAmt") or 0, what),
            )
        )
    return out


def parse_funds(body: Any) -> Funds:
    """Cash for delivery buys is `Net`, and only `Net`: a missing `Net` is an error, never "the largest number"."""
    if not isinstance(body, dict) or body.get("Net") is None:
        raise MalformedResponse("limits: reply has no 'Net'")
    extra = {k: _dec(body[k], f"limits {k}") for k in _FUNDS_EXTRA if body.get(k) not in (None, "")}
    return Funds(available_cash=_dec(body["Net"], "limits Net"), extra=extra)


def parse_quotes(body: Any) -> dict[str, QuoteRow]:
    """Quote rows by instrument token. The reply is a top-level JSON array."""
    if not isinstance(body, list):
        raise MalformedResponse("quotes: reply is not a list")
    out = {}
    for row in body:
        what = f"quotes row {row.get('exchange_token') if isinstance(row, dict) else row!r}"
        if not isinstance(row, dict):
            raise MalformedResponse(f"{what}: not an object")
        ohlc = row.get("ohlc") if isinstance(row.get("ohlc"), dict) else {}
        token = str(_field(row, "exchange_token", what))
        out[token] = QuoteRow(
            token=token,
            ltp=_dec(_field(row, "ltp", what), what),
            lower_band=_opt_dec(row, "lower_circuit_limit", what),
            upper_band=_opt_dec(row, "upper_circuit_limit", what),
            prev_close=_opt_dec(ohlc, "close", what),
        )
    return out


def retry_after(headers: Mapping[str, str]) -> float | None:
    """`Retry-After` in seconds (the delta-seconds form; an HTTP date is ignored)."""
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
