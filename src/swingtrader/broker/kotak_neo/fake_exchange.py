"""The fake server's back office: Kotak-shaped requests become calls on a `Broker` (the exchange), and its
answers become Kotak-shaped JSON. Written from the wire contract in KOTAK_NEO_API.md, independently of the
client's parsers (the official SDK checks that both sides agree with Kotak)."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from swingtrader.broker.base import (
    Broker,
    Fill,
    Order,
    OrderCompleted,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    SessionExpired,
    Side,
)
from swingtrader.broker.kotak_neo.faults import FaultPlan
from swingtrader.clock import IST, Clock, ist_date

T = TypeVar("T")
SEGMENT = "nse_cm"
# Real NSE tokens for a few names; others get a stable made-up token.
_KNOWN_TOKENS = {
    "RELIANCE": "2885", "TCS": "11536", "INFY": "1594", "HDFCBANK": "1333", "ICICIBANK": "4963", "SBIN": "3045",
    "ITC": "1660", "M&M": "2031", "BAJAJ-AUTO": "16669", "LT": "11483", "AXISBANK": "5900", "KOTAKBANK": "1922",
    "HINDUNILVR": "1394", "BHARTIARTL": "10604", "MARUTI": "10999", "TATAMOTORS": "3456", "WIPRO": "3787",
}
DEFAULT_UNIVERSE = tuple(_KNOWN_TOKENS)
_STATUS_TEXT = {
    OrderStatus.OPEN: "open",
    OrderStatus.FILLED: "complete",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
}
# status_noise: strings of the same meaning as ours (SDK orderfeed/models.py, kotak-neo-api #97), and one
# nobody documented.
_SAME_MEANING = {
    "open": ("modified", "not modified", "not cancelled", "modify pending", "modify validation pending"),
    "open pending": ("validation pending", "put order req received"),
    "after market order req received": ("modify after market order req received",),
}
UNDOCUMENTED_STATUS = "frozen by exchange"
_HAND_STATUSES = ("trigger pending", "cancelled after market order", "modify after market order req received",
                  "cancel pending", UNDOCUMENTED_STATUS)
_DUPLICATE_TAG = {"stCode": 32, "errMsg": "error from core",
                  "stat": "Put Order Response : Client OrderID already exists Data: 0"}
_PLACE_KEYS = ("am", "dq", "es", "mp", "pc", "pr", "pt", "qt", "rt", "tp", "ts", "tt")
_MODIFY_KEYS = ("no", "pr", "pt", "qt", "vd", "tp", "dq", "am", "mp")


class WireError(Exception):
    """A request the fake refuses; becomes `{"stat": "Not_Ok", "stCode", "errMsg"}` with `status`."""

    def __init__(self, message: str, *, code: int = 1005, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class Universe:
    """The fake instrument master: canonical symbol <-> `SYMBOL-EQ` and a stable token."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._token: dict[str, str] = {}
        for s in dict.fromkeys(s.strip().upper() for s in symbols):
            token = _KNOWN_TOKENS.get(s) or str(100000 + zlib.crc32(s.encode()) % 800000)
            while token in self._token.values():
                token = str(int(token) + 1)
            self._token[s] = token
        self._symbol = {t: s for s, t in self._token.items()}

    def token(self, symbol: str) -> str:
        return self._token.get(symbol, "0")

    def symbols(self) -> Iterable[str]:
        return self._token.keys()

    def symbol_of_token(self, token: str) -> str | None:
        return self._symbol.get(token)

    def symbol_of_trading(self, trading_symbol: str) -> str | None:
        s = trading_symbol.strip().upper()
        return s[:-3] if s.endswith("-EQ") and s[:-3] in self._token else None

    def csv(self) -> str:
        """The master CSV as Kotak publishes it: a header with a stray space, tick sizes with trailing spaces."""
        lines = ["pSymbol,pGroup,pExchSeg,pInstType,pSymbolName,pTrdSymbol,pISIN,lLotSize,dTickSize ,lFreezeQty"]
        for s, t in self._token.items():  # dTickSize in paise (the SDK's nse_cm.csv: RELIANCE-EQ 5)
            lines.append(f"{t},EQ,{SEGMENT},,{s},{s}-EQ,INE000000000,1,5   ,100000")
        return "\n".join(lines) + "\n"


def _num(value: Decimal | None) -> str:
    if value is None:
        return "0.00"
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)


def _stamp(moment: datetime | None) -> str:
    return (moment.astimezone(IST) if moment else datetime(1980, 1, 1, tzinfo=IST)).strftime("%d-%b-%Y %H:%M:%S")


def _ok(**fields: Any) -> dict[str, Any]:
    return {**fields, "stat": "Ok", "stCode": 200}


def _no_data() -> dict[str, Any]:
    return {"stat": "Not_Ok", "stCode": 5203, "errMsg": "No Data"}


def _require(fields: dict[str, Any], keys: Iterable[str]) -> None:
    missing = [k for k in keys if not str(fields.get(k, "")).strip()]
    if missing:
        raise WireError(f"Missing mandatory field(s): {', '.join(missing)}")


def _qty(value: Any) -> int:
    try:
        qty = int(str(value))
    except ValueError:
        raise WireError(f"invalid quantity {value!r}") from None
    if qty <= 0:
        raise WireError("quantity must be positive")
    return qty


def _price(price_type: Any, value: Any) -> tuple[OrderType, Decimal | None]:
    kinds = {"L": OrderType.LIMIT, "MKT": OrderType.MARKET}
    if price_type not in kinds:
        raise WireError(f"price type {price_type!r} is not supported here (L, MKT)")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise WireError(f"invalid price {value!r}") from None
    if kinds[price_type] is OrderType.LIMIT and price <= 0:
        raise WireError("a limit order needs a positive price")
    return kinds[price_type], (price if kinds[price_type] is OrderType.LIMIT else None)


class ExchangeDesk:
    """Serialised access to the exchange, with the fake's own standing session on it, and Kotak's habits:
    a client tag is accepted once per day, new orders show only after `visibility_delay`, tags are rewritten
    after a modify or cancel, and statuses are an open set (the knobs in `faults.py`)."""

    def __init__(self, exchange: Broker, universe: Universe, clock: Clock, plan: FaultPlan | None = None) -> None:
        self.exchange = exchange
        self.universe = universe
        self._clock = clock
        self._plan = plan or FaultPlan()
        self._lock = threading.Lock()
        self._tags: set[tuple[date, str]] = set()
        self._placed_at: dict[str, datetime] = {}
        self._rewritten: dict[str, str] = {}
        self._unquoted: set[str] = set()

    def refuse_quotes(self, symbols: Iterable[str]) -> None:
        self._unquoted.update(symbols)

    def _call(self, fn: Callable[[], T]) -> T:
        with self._lock:
            return self._call_locked(fn)

    def _call_locked(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except SessionExpired:
            self.exchange.login()
            return fn()

    def _visible(self, order_id: str) -> bool:
        placed = self._placed_at.get(order_id)
        return placed is None or self._clock.now() >= placed + self._plan.spec.visibility_delay

    # ---- writes -----------------------------------------------------------------------------------------------
    def place(self, f: dict[str, Any]) -> dict[str, Any]:
        _require(f, _PLACE_KEYS)
        if f["es"] != SEGMENT:
            raise WireError(f"exchange segment {f['es']!r} is not traded here")
        symbol = self.universe.symbol_of_trading(str(f["ts"]))
        if symbol is None:
            raise WireError(f"unknown trading symbol {f['ts']!r}", code=1007)
        if f["tt"] not in ("B", "S") or f["am"] not in ("YES", "NO") or f["rt"] not in ("DAY", "IOC"):
            raise WireError("invalid tt, am or rt")
        order_type, price = _price(f["pt"], f["pr"])
        tag = str(f.get("ig") or "")
        try:
            req = OrderRequest(symbol=symbol, side=Side.BUY if f["tt"] == "B" else Side.SELL, quantity=_qty(f["qt"]),
                               order_type=order_type, price=price, tag=tag, amo=f["am"] == "YES",
                               product=str(f["pc"]), validity=str(f["rt"]))
            with self._lock:
                key = (ist_date(self._clock.now()), tag)
                if tag and key in self._tags and self._plan.spec.tag_guard:
                    return dict(_DUPLICATE_TAG)
                order_id = self._call_locked(lambda: self.exchange.place_order(req))
                if tag:
                    self._tags.add(key)
                self._placed_at[order_id] = self._clock.now()
            return _ok(nOrdNo=order_id)
        except OrderRejected as exc:
            return {"stat": "Not_Ok", "stCode": 1009, "errMsg": str(exc)}

    def modify(self, f: dict[str, Any]) -> dict[str, Any]:
        _require(f, _MODIFY_KEYS)
        order_type, price = _price(f["pt"], f["pr"])
        qty, no = _qty(f["qt"]), str(f["no"])
        return self._amend(no, lambda: self.exchange.modify_order(no, quantity=qty, price=price, order_type=order_type))

    def cancel(self, f: dict[str, Any]) -> dict[str, Any]:
        _require(f, ("on", "am"))
        no = str(f["on"])
        return self._amend(no, lambda: self.exchange.cancel_order(no), cancel=True)

    def _amend(self, order_id: str, fn: Callable[[], None], *, cancel: bool = False) -> dict[str, Any]:
        try:
            self._call(fn)
        except OrderCompleted:
            return {"stat": "Not_Ok", "stCode": 1021, "errMsg": "order is completed", "nOrdNo": order_id}
        except OrderRejected as exc:
            return {"stat": "Not_Ok", "stCode": 1009, "errMsg": str(exc)}
        if self._plan.chance(self._plan.spec.tag_rewrite, "tag_rewrite"):
            self.rewrite_tag(order_id, cancel=cancel)
        return _ok(nOrdNo=order_id)

    def rewrite_tag(self, order_id: str, *, cancel: bool) -> None:
        """Rewrite an order's `GuiOrdId` as Kotak does (Kotak-neo-api-v2 #33): `<tag>-<epoch>` after a cancel,
        `<epoch>-<n>-****-ADMINAPI` after a modify."""
        stamp = int(self._clock.now().timestamp())
        tag = next((o.tag for o in self._call(self.exchange.orders) if o.order_id == order_id), None) or ""
        self._rewritten[order_id] = f"{tag}-{stamp}" if cancel else f"{stamp}-{order_id[-6:]}-****-ADMINAPI"

    def _stale(self) -> bool:
        """A book read answered `5203 "No Data"` though the account has orders (kotak-neo-api #103)."""
        return self._plan.chance(self._plan.spec.stale_books, "stale_book")

    def _priced(self, order_id: str, fills: list[Fill]) -> bool:
        """Whether the order's latest fill already shows its price (`price_delay`: fldQty before avgPrc)."""
        delay = self._plan.spec.price_delay
        times = [x.at for x in fills if x.order_id == order_id]
        return not delay or not times or self._clock.now() >= max(times) + delay

    # ---- reads ------------------------------------------------------------------------------------------------
    def order_book(self, order_id: str | None = None) -> dict[str, Any]:
        """The order book, or one order's rows (`GET quick/user/orders/<order_no>`)."""
        if self._stale():
            return _no_data()
        orders = [o for o in self._call(self.exchange.orders) if self._visible(o.order_id)]
        if order_id is not None:
            orders = [o for o in orders if o.order_id == order_id]
        fills = self._call(self.exchange.fills) if self._plan.spec.price_delay else []
        rows = [self._order_row(o, noise=True, priced=self._priced(o.order_id, fills)) for o in orders]
        if order_id is None and self._plan.spec.status_noise > 0:
            rows += self._hand_rows()
        return _ok(data=rows) if rows else _no_data()

    def history(self, f: dict[str, Any]) -> dict[str, Any]:
        _require(f, ("nOrdNo",))
        no = str(f["nOrdNo"])
        rows = [self._order_row(o) for o in self._call(self.exchange.orders) if o.order_id == no and self._visible(no)]
        return _ok(data=rows) if rows else _no_data()

    def trades(self) -> dict[str, Any]:
        if self._stale():
            return _no_data()
        fills = self._call(self.exchange.fills)
        rows = [self._fill_row(x) for x in fills if self._visible(x.order_id) and self._priced(x.order_id, fills)]
        return _ok(data=rows) if rows else _no_data()

    def _hand_rows(self) -> list[dict[str, Any]]:
        """Orders the account holder placed by hand (a stop loss, after-market orders): statuses beyond ours."""
        symbol = next(iter(self.universe.symbols()))
        stamp = int(datetime(2025, 1, 1, tzinfo=IST).timestamp())
        return [
            {"nOrdNo": f"99{i:08d}", "ordSt": status, **self._instrument_fields(symbol), "trnsTp": "S",
             "prcTp": "SL", "prc": "100.00", "trgPrc": "101.00", "qty": "1", "fldQty": "0", "unFldSz": "1",
             "cnlQty": "0", "avgPrc": "0.00", "prod": "CNC", "vldt": "DAY", "ordDtTm": _stamp(None), "rejRsn": "",
             "GuiOrdId": f"{stamp}-{i:06d}-****-NEOWEB"}
            for i, status in enumerate(_HAND_STATUSES, start=1)
        ]

    def positions(self) -> dict[str, Any]:
        book: dict[str, list[Fill]] = {}
        for fill in self._call(self.exchange.fills):
            book.setdefault(fill.symbol, []).append(fill)
        rows = []
        for symbol, fills in book.items():
            buys = [x for x in fills if x.side is Side.BUY]
            sells = [x for x in fills if x.side is Side.SELL]
            rows.append({
                **self._instrument_fields(symbol), "prod": "CNC",
                "flBuyQty": str(sum(x.quantity for x in buys)), "flSellQty": str(sum(x.quantity for x in sells)),
                "cfBuyQty": "0", "cfSellQty": "0", "cfBuyAmt": "0.00", "cfSellAmt": "0.00",
                "buyAmt": _num(sum((x.price * x.quantity for x in buys), Decimal(0))),
                "sellAmt": _num(sum((x.price * x.quantity for x in sells), Decimal(0))),
            })
        return _ok(data=rows) if rows else _no_data()

    def holdings(self) -> dict[str, Any]:
        rows = [
            {
                "displaySymbol": h.symbol, "symbol": h.symbol, "exchangeSegment": SEGMENT,
                "instrumentToken": int(self.universe.token(h.symbol)), "quantity": str(h.quantity),
                "sellableQuantity": str(h.sellable_quantity), "averagePrice": str(h.average_price),
                "closingPrice": str(h.close_price) if h.close_price is not None else "0",
                "instrumentType": "Equity",
            }
            for h in self._call(self.exchange.holdings)
        ]
        return {"data": rows}

    def limits(self) -> dict[str, Any]:
        funds = self._call(self.exchange.funds)
        return _ok(Net=str(funds.available_cash), MarginUsed="0", CollateralValue=str(funds.available_cash),
                   Category="CLIENT")

    def quotes(self, tokens: list[str]) -> list[dict[str, Any]] | dict[str, Any]:
        """Quote rows (circuit limits as `low_price_range`/`high_price_range`, SDK 3.x sample); a batch naming
        an instrument not listed is answered, whole, with `Not_Ok` stCode 1009 (OpenAlgo data.py)."""
        symbols = [self.universe.symbol_of_token(t) for t in tokens]
        if None in symbols or self._unquoted.intersection(s for s in symbols if s):
            return {"stat": "Not_Ok", "stCode": 1009, "errMsg": "Invalid instrument token"}
        quotes = self._call(lambda: self.exchange.quotes([s for s in symbols if s]))
        return [
            {
                "exchange_token": self.universe.token(q.symbol), "display_symbol": f"{q.symbol}-EQ",
                "exchange": SEGMENT, "ltp": str(q.ltp),
                "ohlc": {"close": str(q.prev_close) if q.prev_close is not None else "0"},
                **({"low_price_range": str(q.lower_band)} if q.lower_band is not None else {}),
                **({"high_price_range": str(q.upper_band)} if q.upper_band is not None else {}),
            }
            for q in quotes.values()
        ]

    @staticmethod
    def master_paths(base_url: str, day: date) -> dict[str, Any]:
        folder = f"{base_url}/scripmaster/{day.isoformat()}"
        return {"data": {"filesPaths": [f"{folder}/{seg}-v1.csv" for seg in (SEGMENT, "bse_cm")],
                         "baseFolder": folder}}

    # ---- rows -------------------------------------------------------------------------------------------------
    def _instrument_fields(self, symbol: str) -> dict[str, str]:
        return {"trdSym": f"{symbol}-EQ", "sym": symbol, "tok": self.universe.token(symbol), "exSeg": SEGMENT}

    def _order_row(self, o: Order, noise: bool = False, priced: bool = True) -> dict[str, Any]:
        if o.status is OrderStatus.PENDING:
            status = "after market order req received" if o.amo else "open pending"
        else:
            status = _STATUS_TEXT[o.status]
        if noise and status in _SAME_MEANING:
            p = self._plan.spec.status_noise
            if self._plan.chance(p / 4, "status_undocumented"):
                status = UNDOCUMENTED_STATUS
            elif self._plan.chance(p, "status_noise"):
                status = self._plan.pick(_SAME_MEANING[status])
        unfilled = o.quantity - o.filled_quantity
        return {
            "nOrdNo": o.order_id, "ordSt": status, **self._instrument_fields(o.symbol),
            "trnsTp": "B" if o.side is Side.BUY else "S", "prcTp": "L" if o.order_type is OrderType.LIMIT else "MKT",
            "prc": _num(o.price), "qty": str(o.quantity), "fldQty": str(o.filled_quantity),
            "unFldSz": str(unfilled if o.status.is_active else 0),
            "cnlQty": str(unfilled if o.status is OrderStatus.CANCELLED else 0),
            "avgPrc": _num(o.average_price if priced else None), "prod": "CNC", "vldt": "DAY",
            "ordDtTm": _stamp(o.placed_at),
            "rejRsn": o.reject_reason or "", "GuiOrdId": self._rewritten.get(o.order_id, o.tag or ""),
        }

    def _fill_row(self, x: Fill) -> dict[str, Any]:
        stamp = _stamp(x.at)
        return {
            "nOrdNo": x.order_id, **self._instrument_fields(x.symbol), "trnsTp": "B" if x.side is Side.BUY else "S",
            "fldQty": str(x.quantity), "avgPrc": _num(x.price), "flDt": stamp[:11], "flTm": stamp[12:],
            "exTm": stamp, "prod": "CNC", "GuiOrdId": self._rewritten.get(x.order_id, x.tag or ""),
        }
