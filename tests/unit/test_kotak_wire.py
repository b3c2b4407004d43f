"""The Kotak Neo wire mapping, the fault SPEC, pacing and the TOTP guard, on plain values."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerUnavailable,
    DuplicateTag,
    LoginFailed,
    MalformedResponse,
    OrderCompleted,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    RateLimited,
    SessionExpired,
    Side,
)
from swingtrader.broker.kotak_neo.auth import KotakCredentials, TotpGuard
from swingtrader.broker.kotak_neo.faults import FaultPlan, FaultSpec
from swingtrader.broker.kotak_neo.instruments import InstrumentMaster
from swingtrader.broker.kotak_neo.ratelimit import Backoff, RateLimiter
from swingtrader.broker.kotak_neo.wire import inbound as rx
from swingtrader.broker.kotak_neo.wire import outbound as tx
from swingtrader.broker.kotak_neo.wire.master import master_url_for, parse_master_csv
from swingtrader.clock import IST, SimClock

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ROW = {"nOrdNo": "2503040001", "ordSt": "open", "trdSym": "BAJAJ-AUTO-EQ", "trnsTp": "S", "prcTp": "L",
       "prc": "9120.50", "qty": "10", "fldQty": "4", "avgPrc": "9120.50", "ordDtTm": "04-Mar-2025 10:15:32",
       "rejRsn": "", "GuiOrdId": "20250304-sell-BAJAJ-AUTO-1"}


@pytest.mark.parametrize(
    ("ep", "status", "body", "expected"),
    [
        (tx.ORDERS, 401, {"code": "900901", "description": "Invalid JWT token"}, SessionExpired),
        (tx.ORDERS, 403, {"message": "Invalid session, please re-login to continue"}, SessionExpired),
        (tx.HOLDINGS, 200, {"stat": "Not_Ok", "stCode": "900901", "errMsg": "Invalid JWT token"}, SessionExpired),
        (tx.ORDERS, 429, {}, RateLimited),
        (tx.ORDERS, 503, None, BrokerUnavailable),
        (tx.HOLDINGS, 200, None, BrokerUnavailable),
        (tx.PLACE, 504, None, AmbiguousOutcome),
        (tx.PLACE, 200, None, AmbiguousOutcome),
        (tx.PLACE, 200, {"stat": "Not_Ok", "stCode": 1009, "errMsg": "RMS: insufficient margin"}, OrderRejected),
        (tx.CANCEL, 200, {"stat": "Not_Ok", "stCode": 1021, "errMsg": "order is completed"}, OrderCompleted),
        (tx.MODIFY, 400, {"stat": "Not_Ok", "stCode": 1021, "errMsg": "order is completed"}, OrderCompleted),
        (tx.LOGIN, 400, {"error": [{"code": "10522", "message": "Invalid TOTP"}]}, LoginFailed),
        (tx.VALIDATE, 401, {"stCode": 10031, "errMsg": "Invalid MPIN", "status": "failure"}, LoginFailed),
        (tx.ORDERS, 200, {"stat": "Not_Ok", "stCode": 5203, "errMsg": "No Data"}, None),
        (tx.ORDERS, 200, {"stat": "Ok", "data": []}, None),
        (tx.PLACE, 200, {"stCode": 100022, "errMsg": "invalid session token", "stat": "Not_Ok"}, SessionExpired),
        (tx.LIMITS, 200, {"stat": "error in neo-login-check-api"}, SessionExpired),
        (tx.PLACE, 200, {"stCode": 32, "errMsg": "error from core",
                         "stat": "Put Order Response : Client OrderID already exists Data: 0"}, DuplicateTag),
        (tx.PLACE, 200, {"stCode": 100008, "errMsg": "unauthorized", "stat": "Not_Ok"}, OrderRejected),
        (tx.ORDERS, 200, {"stCode": 100008, "errMsg": "unauthorized", "stat": "Not_Ok"}, BrokerUnavailable),
        (tx.PLACE, 200, {"stat": "Something new", "stCode": 7}, AmbiguousOutcome),
        (tx.ORDERS, 200, {"stat": "Something new", "data": []}, BrokerUnavailable),
        (tx.PLACE, 200, {"stat": "OK", "stCode": 200, "nOrdNo": "1"}, None),
        (tx.QUOTES, 200, {"stat": "Not_Ok", "stCode": 1009, "errMsg": "Invalid instrument"}, None),
    ],
)
def test_classify(ep: tx.Endpoint, status: int, body: object, expected: type | None) -> None:
    error = rx.classify(ep, status, body, None)
    assert (type(error) if error else None) is expected


def test_retry_after_and_rejection_reason_travel_with_the_error() -> None:
    err = rx.classify(tx.ORDERS, 429, {}, rx.retry_after({"retry-after": "2"}))
    assert isinstance(err, RateLimited) and err.retry_after == 2.0
    rej = rx.classify(tx.PLACE, 200, {"stat": "Not_Ok", "stCode": 1009, "errMsg": "price out of band"}, None)
    assert isinstance(rej, OrderRejected) and rej.reason == "price out of band"


def test_order_row_maps_to_the_domain() -> None:
    [order] = rx.parse_orders({"stat": "Ok", "data": [ROW]})
    assert order.symbol == "BAJAJ-AUTO" and order.side is Side.SELL and order.status is OrderStatus.OPEN
    assert (order.quantity, order.filled_quantity, order.price) == (10, 4, Decimal("9120.50"))
    assert order.placed_at == datetime(2025, 3, 4, 10, 15, 32, tzinfo=IST) and order.tag == ROW["GuiOrdId"]


@pytest.mark.parametrize(("text", "status"), [("complete", OrderStatus.FILLED), ("  Open ", OrderStatus.OPEN),
                                              ("after market order req received", OrderStatus.PENDING),
                                              ("rejected", OrderStatus.REJECTED), ("cancelled", OrderStatus.CANCELLED)])
def test_order_statuses(text: str, status: OrderStatus) -> None:
    assert rx.order_status(text) is status


def test_unknown_status_is_still_active_and_a_bad_row_is_skipped_by_number() -> None:
    seen = rx.UnknownStatuses()
    rows = [{**ROW, "ordSt": "some new status"}, {**ROW, "nOrdNo": "2503040002", "qty": "ten"},
            {**ROW, "nOrdNo": "2503040003", "ordSt": "Some  New Status"}]
    book = rx.parse_orders({"stat": "Ok", "data": rows}, seen)
    assert [o.order_id for o in book] == ["2503040001", "2503040003"]
    assert all(o.status is OrderStatus.UNKNOWN and o.status.is_active for o in book)
    assert book.skipped == ("2503040002",) and seen.seen() == {"some new status": 2}
    with pytest.raises(MalformedResponse, match="'data'"):
        rx.parse_holdings({"stat": "Ok"})


def test_empty_book_is_empty() -> None:
    assert rx.parse_orders({"stat": "Not_Ok", "stCode": 5203, "errMsg": "No Data"}) == []
    assert rx.parse_fills({"stat": "Not_Ok", "stCode": 5203}) == []


@pytest.mark.parametrize(("trading", "canonical"), [("RELIANCE-EQ", "RELIANCE"), ("M&M-EQ", "M&M"),
                                                    ("BAJAJ-AUTO-EQ", "BAJAJ-AUTO"), ("BAJAJ-AUTO", "BAJAJ-AUTO"),
                                                    ("m&m", "M&M"), ("XYZ-BE", "XYZ")])
def test_canonical_symbol(trading: str, canonical: str) -> None:
    assert rx.canonical_symbol(trading) == canonical


def test_funds_is_net_never_the_largest_number() -> None:
    funds = rx.parse_funds({"Net": "1500.25", "CollateralValue": "990000", "MarginUsed": "12", "stat": "Ok"})
    assert funds.available_cash == Decimal("1500.25") and funds.extra["CollateralValue"] == Decimal("990000")


def test_place_and_modify_fields_are_strings_as_the_sdk_sends() -> None:
    limit = OrderRequest("M&M", Side.BUY, 3, OrderType.LIMIT, Decimal("3010.5"), "tag-1", amo=True)
    assert tx.place_fields(limit, "M&M-EQ") == {
        "am": "YES", "dq": "0", "es": "nse_cm", "mp": "0", "pc": "CNC", "pr": "3010.50", "pt": "L", "qt": "3",
        "rt": "DAY", "tp": "0", "ts": "M&M-EQ", "tt": "B", "ig": "tag-1", "os": "NEOTRADEAPI"}
    market = OrderRequest("TCS", Side.SELL, 1, OrderType.MARKET, None, "tag-2")
    assert tx.place_fields(market, "TCS-EQ")["pr"] == "0" and tx.place_fields(market, "TCS-EQ")["pt"] == "MKT"
    fields = tx.modify_fields("42", quantity=2, price=Decimal("100"), order_type=OrderType.LIMIT, amo=False)
    assert (fields["no"], fields["qt"], fields["pr"], fields["vd"]) == ("42", "2", "100.00", "DAY")
    assert json.loads(tx.form_body({"on": "42", "am": "NO"})["jData"]) == {"on": "42", "am": "NO"}
    assert tx.quotes_path(["1", "2"], "ltp").endswith("/neosymbol/nse_cm|1,nse_cm|2/ltp")


def _jwt(claims: dict) -> str:
    def b64(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'HS256'})}.{b64(claims)}.c2ln"


def test_login_replies() -> None:
    exp = datetime(2025, 3, 5, 0, 0, tzinfo=IST)
    session = rx.parse_trade_login({"data": {"token": _jwt({"exp": int(exp.timestamp())}), "sid": "s",
                                             "baseUrl": "https://e21.kotaksecurities.com/"}})
    assert session.expires_at == exp and session.base_url == "https://e21.kotaksecurities.com"
    with pytest.raises(LoginFailed, match="baseUrl"):
        rx.parse_trade_login({"data": {"token": _jwt({"exp": 1}), "sid": "s"}})
    with pytest.raises(MalformedResponse, match="exp"):
        rx.jwt_expiry("not-a-jwt")


def test_master_csv_reads_tick_size_in_paise_strips_stray_spaces_and_prefers_the_eq_series() -> None:
    text = ("pSymbol,pGroup,pExchSeg,pSymbolName,pTrdSymbol,lLotSize,dTickSize \n"
            "16669 ,EQ,nse_cm,BAJAJ-AUTO,BAJAJ-AUTO-EQ,1,5   \n"
            "2031,EQ,nse_cm,M&M,M&M-EQ, 1 , 10\n"
            "9999,BL,nse_cm,M&M,M&M-BL,1,5\n"
            "1,EQ,bse_cm,M&M,M&M,1,5\n")
    instruments = parse_master_csv(text)
    assert [(i.symbol, i.token, i.tick_size) for i in instruments][:2] == [
        ("BAJAJ-AUTO", "16669", Decimal("0.05")), ("M&M", "2031", Decimal("0.10"))]
    master = InstrumentMaster(lambda: text, SimClock(datetime(2025, 3, 4, 9, tzinfo=IST)))
    assert master.get("m&m").trading_symbol == "M&M-EQ" and master.by_token("9999").trading_symbol == "M&M-BL"
    assert master_url_for(["https://x/2025/bse_cm-v1.csv", "https://x/2025/nse_cm-v1.csv"]).endswith("nse_cm-v1.csv")


def test_fault_spec() -> None:
    spec = FaultSpec.parse("expire=2h,http429=0.02,http5xx=0.01,lost_reply=0.005,non_json=0.01,latency_ms=5,seed=7")
    assert spec.expire_every == timedelta(hours=2) and spec.http429 == 0.02 and spec.seed == 7
    assert FaultSpec.parse(None) == FaultSpec()
    for bad, message in (("nope=1", "unknown fault"), ("http429=2", "out of range"), ("expire=soon", "duration"),
                         ("seed", "needs a value")):
        with pytest.raises(ValueError, match=message):
            FaultSpec.parse(bad)
    draws = [FaultPlan(FaultSpec(http429=0.5, seed=1)).draw() for _ in range(2)]
    assert draws[0] == draws[1]  # seeded


def test_rate_limiter_spaces_calls_without_spinning() -> None:
    now, slept = [100.0], []
    limiter = RateLimiter(10, sleep=slept.append, monotonic=lambda: now[0])
    for _ in range(4):
        limiter.acquire()
    assert slept == pytest.approx([0.1, 0.2, 0.3])
    now[0] += 5
    assert limiter.acquire() == 0


def test_backoff_is_bounded_jittered_and_honours_retry_after() -> None:
    a, b = Backoff(rng=random.Random(3)), Backoff(rng=random.Random(3))
    delays = [a.delay(n) for n in range(4)]
    assert delays == [b.delay(n) for n in range(4)] and all(0 <= d <= 4 for d in delays)
    assert a.delay(0, retry_after=7.0) == 7.0


def test_totp_guard_never_reuses_a_window() -> None:
    clock = SimClock(datetime(2025, 3, 4, 9, 0, 1, tzinfo=IST))
    guard = TotpGuard(SecretStr(SECRET), clock)
    first, second = guard.code(), guard.code()
    assert first != second and clock.now() >= datetime(2025, 3, 4, 9, 0, 30, tzinfo=IST)
    strict = TotpGuard(SecretStr(SECRET), clock, wait=False)
    strict.code()
    with pytest.raises(LoginFailed, match="already used"):
        strict.code()
    with pytest.raises(LoginFailed, match="base32 secret"):
        TotpGuard(SecretStr("not base32!"), clock)


def test_credentials_from_settings() -> None:
    class Settings:
        kotak_consumer_key = SecretStr("ck")
        kotak_mobile_number = SecretStr("+919999999999")
        kotak_ucc = None
        kotak_totp_secret = SecretStr(SECRET)
        kotak_mpin = SecretStr(" ")

    with pytest.raises(ValueError, match="kotak_ucc, kotak_mpin"):
        KotakCredentials.from_settings(Settings())
    Settings.kotak_ucc, Settings.kotak_mpin = SecretStr("AB123"), SecretStr("123456")
    creds = KotakCredentials.from_settings(Settings())
    assert "123456" not in repr(creds) and creds.ucc.get_secret_value() == "AB123"


def test_a_refused_instrument_inside_a_quote_batch_drops_alone() -> None:
    body = [{"exchange_token": "2885", "ltp": "2950.5", "low_price_range": "2655.45", "high_price_range": "3245.55",
             "ohlc": {"close": "2950.50"}},
            {"stat": "Not_Ok", "stCode": 1009, "errMsg": "Invalid instrument"},
            {"exchange_token": "11536", "ltp": "not a price"}]
    rows = rx.parse_quotes(body)
    assert list(rows) == ["2885"]
    assert (rows["2885"].lower_band, rows["2885"].upper_band) == (Decimal("2655.45"), Decimal("3245.55"))
    assert rx.parse_quotes({"stat": "Not_Ok", "stCode": 1009, "errMsg": "Invalid instrument"}) == {}
