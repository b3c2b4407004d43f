"""Requests to Kotak Neo: endpoints (method, path, credentials), headers and body fields, as the SDK sends them.

Part of the wire package: the only place that knows Kotak's field names (see `wire/__init__.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from swingtrader.broker.base import OrderRequest, OrderType, Side

NEO_FIN_KEY = "neotradeapi"
ORDER_SOURCE = "NEOTRADEAPI"
SEGMENT = "nse_cm"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
QUOTE_BATCH = 50


@dataclass(frozen=True)
class Endpoint:
    """One operation: HTTP method, path (relative to the login host or the session `baseUrl`), and which
    credentials it carries (`consumer`: Authorization; `session`: Sid + Auth)."""

    op: str
    method: str
    path: str
    consumer: bool
    session: bool
    content_type: str = JSON
    accept: str | None = None
    write: bool = False


LOGIN = Endpoint("login", "POST", "login/1.0/tradeApiLogin", consumer=True, session=False)
VALIDATE = Endpoint("validate", "POST", "login/1.0/tradeApiValidate", consumer=True, session=False)
PLACE = Endpoint("place_order", "POST", "quick/order/rule/ms/place", True, True, FORM, write=True)
MODIFY = Endpoint("modify_order", "POST", "quick/order/vr/modify", True, True, FORM, write=True)
CANCEL = Endpoint("cancel_order", "POST", "quick/order/cancel", True, True, FORM, write=True)
ORDERS = Endpoint("orders", "GET", "quick/user/orders", False, True, accept=JSON)
HISTORY = Endpoint("order_history", "POST", "quick/order/history", False, True, FORM)
TRADES = Endpoint("fills", "GET", "quick/user/trades", False, True, accept=JSON)
POSITIONS = Endpoint("positions", "GET", "quick/user/positions", False, True, accept=JSON)  # SDK 2026, OpenAlgo
HOLDINGS = Endpoint("holdings", "GET", "portfolio/v1/holdings", False, True, FORM, accept="*/*")
LIMITS = Endpoint("funds", "POST", "quick/user/limits", False, True, FORM)
QUOTES = Endpoint("quotes", "GET", "script-details/1.0/quotes/neosymbol", True, False, FORM)
MASTER = Endpoint("instruments", "GET", "script-details/1.0/masterscrip/file-paths", True, False, FORM)
LIMITS_FIELDS = {"seg": "ALL", "exch": "ALL", "prod": "ALL"}

_SIDE_CODES = {Side.BUY: "B", Side.SELL: "S"}
_PRICE_TYPE_CODES = {OrderType.LIMIT: "L", OrderType.MARKET: "MKT"}


def headers(ep: Endpoint, *, consumer_key: str, sid: str = "", token: str = "") -> dict[str, str]:
    """The headers the SDK sends for `ep` (same names, same case)."""
    h: dict[str, str] = {}
    if ep.consumer:
        h["Authorization"] = consumer_key
    if ep in (LOGIN, VALIDATE):
        h["neo-fin-key"] = NEO_FIN_KEY
        if ep is VALIDATE:
            h["sid"], h["Auth"] = sid, token
    elif ep.session:
        h["Sid"], h["Auth"] = sid, token
    h["Content-Type"] = ep.content_type
    if ep.accept:
        h["accept"] = ep.accept
    return h


def login_body(mobile_number: str, ucc: str, totp: str) -> dict[str, str]:
    return {"mobileNumber": mobile_number, "ucc": ucc, "totp": totp}


def validate_body(mpin: str) -> dict[str, str]:
    return {"mpin": mpin}


def format_price(price: Decimal | None) -> str:
    """Prices travel as strings with two decimals; a market order's price is "0"."""
    return "0" if price is None else f"{price:.2f}"


def place_fields(req: OrderRequest, trading_symbol: str) -> dict[str, str]:
    return {
        "am": "YES" if req.amo else "NO",
        "dq": "0",
        "es": SEGMENT,
        "mp": "0",
        "pc": req.product,
        "pr": format_price(req.price if req.order_type is OrderType.LIMIT else None),
        "pt": _PRICE_TYPE_CODES[req.order_type],
        "qt": str(req.quantity),
        "rt": req.validity,
        "tp": "0",
        "ts": trading_symbol,
        "tt": _SIDE_CODES[req.side],
        "ig": req.tag,
        "os": ORDER_SOURCE,
    }


def modify_fields(
    order_id: str, *, quantity: int, price: Decimal | None, order_type: OrderType, amo: bool, validity: str = "DAY"
) -> dict[str, str]:
    return {
        "mp": "0",
        "dq": "0",
        "vd": validity,
        "pr": format_price(price if order_type is OrderType.LIMIT else None),
        "pt": _PRICE_TYPE_CODES[order_type],
        "am": "YES" if amo else "NO",
        "tp": "0",
        "qt": str(quantity),
        "no": order_id,
        "os": ORDER_SOURCE,
    }


def cancel_fields(order_id: str, *, amo: bool) -> dict[str, str]:
    return {"on": order_id, "am": "YES" if amo else "NO"}


def order_path(order_id: str) -> str:
    """The single-order read: `quick/user/orders/<order_no>` (SDK 3.0.9 `order_report(order_id=...)`)."""
    return f"{ORDERS.path}/{order_id}"


def history_fields(order_id: str) -> dict[str, str]:
    return {"nOrdNo": order_id}


def quotes_path(tokens: Iterable[str], quote_type: str = "all") -> str:
    """`<seg>|<token>,<seg>|<token>/<type>`: the `|` and `,` stay literal."""
    return f"{QUOTES.path}/{','.join(f'{SEGMENT}|{t}' for t in tokens)}/{quote_type}"


def form_body(fields: Mapping[str, str]) -> dict[str, str]:
    return {"jData": json.dumps(dict(fields))}


