"""The official SDK (`neo_api_client`, test-only dependency) against the fake: the fake is faithful if the SDK
logs in and trades on it and reads what it expects; the client is faithful if it sends what the SDK sends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from swingtrader.broker.base import OrderRequest, OrderType, Side
from swingtrader.broker.kotak_neo.harness import FakeKotak, client_for, fake_credentials, start_fake
from swingtrader.clock import SimClock
from tests.integration.kotak_support import MemoryExchange, sim_clock

PRICES = {"RELIANCE": Decimal("2950.50"), "M&M": Decimal("3010.00"), "TCS": Decimal("4100.00")}
# Transport and telemetry headers that say nothing about the Kotak contract.
_TRANSPORT = {"host", "user-agent", "accept-encoding", "connection", "content-length", "x-request-id", "x-client-id"}


class ToFake(httpx.BaseTransport):
    """Sends every request the SDK makes (login host, config service, baseUrl) to the fake."""

    def __init__(self, url: str) -> None:
        self._target = httpx.URL(url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=self._target.host, port=self._target.port)
        request.headers["Host"] = f"{self._target.host}:{self._target.port}"
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def neo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    mp = pytest.MonkeyPatch()
    mp.setenv("NEO_LOG_FILE_ENABLED", "false")  # it would write ./logs/neo-api-client.log
    mp.setenv("NEO_LOG_LEVEL", "NOLOG")  # and print JSON to stdout on HTTP errors
    mp.setenv("NEO_HOLDINGS_CACHE_DIR", str(tmp_path_factory.mktemp("neo-holdings")))  # not under $HOME
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    yield pytest.importorskip("neo_api_client")
    for name, level in levels.items():  # importing the SDK pins these two loggers to WARNING, process-wide
        logging.getLogger(name).setLevel(level)
    mp.undo()


@pytest.fixture
def clock() -> SimClock:
    return sim_clock()


@pytest.fixture
def exchange(clock: SimClock) -> MemoryExchange:
    return MemoryExchange(clock, PRICES, holdings={"TCS": (10, Decimal("3900.25"))})


@pytest.fixture
def fake(exchange: MemoryExchange, clock: SimClock, tmp_path: Path) -> Iterator[FakeKotak]:
    with start_fake(exchange, clock, credentials=fake_credentials(11), record=tmp_path / "rec.jsonl") as f:
        yield f


def sdk_session(neo: Any, fake: FakeKotak, clock: SimClock) -> Any:
    c = fake.credentials
    api = neo.NeoAPI(consumer_key=c.consumer_key.get_secret_value(), environment="prod", transport=ToFake(fake.url))
    login = api.totp_login(mobile_number=c.mobile_number.get_secret_value(), ucc=c.ucc.get_secret_value(),
                           totp=pyotp.TOTP(c.totp_secret.get_secret_value()).at(clock.now()))
    assert login["data"]["kType"] == "View" and login["data"]["status"] == "success"
    validate = api.totp_validate(mpin=c.mpin.get_secret_value())
    assert validate["data"]["kType"] == "Trade" and validate["data"]["baseUrl"] == fake.url
    return api


def sdk_trading_day(api: Any) -> dict[str, str]:
    """The SDK's round of operations, each checked for the result the SDK's caller expects."""
    placed = api.place_order(exchange_segment="nse_cm", product="CNC", price="2900.00", order_type="L", quantity="5",
                             validity="DAY", trading_symbol="RELIANCE-EQ", transaction_type="B", amo="NO", tag="tag-1")
    assert placed["stat"] == "Ok" and placed["stCode"] == 200
    resting = placed["nOrdNo"]
    assert api.modify_order(order_id=resting, price="2910.05", order_type="L", quantity="7",
                            validity="DAY")["stat"] == "Ok"
    [row] = api.order_report()["data"]
    assert (row["nOrdNo"], row["ordSt"], row["qty"], row["prc"], row["GuiOrdId"], row["trdSym"]) == (
        resting, "open", "7", "2910.05", "tag-1", "RELIANCE-EQ")
    assert api.order_history(order_id=resting)["data"]["data"][0]["nOrdNo"] == resting
    assert api.cancel_order(order_id=resting)["stat"] == "Ok"
    assert api.order_report()["data"][0]["ordSt"] == "cancelled"
    market = api.place_order(exchange_segment="nse_cm", product="CNC", price="0", order_type="MKT", quantity="5",
                             validity="DAY", trading_symbol="M&M-EQ", transaction_type="B", amo="NO", tag="tag-2")
    filled = market["nOrdNo"]
    completed = api.cancel_order(order_id=filled)
    assert completed["stCode"] == 1021 and completed["status_code"] == 400
    [trade] = api.trade_report()["data"]
    assert (trade["nOrdNo"], trade["fldQty"], trade["avgPrc"], trade["GuiOrdId"]) == (filled, "5", "3010.00", "tag-2")
    holdings = {h["displaySymbol"]: h for h in api.holdings()["data"]}
    assert holdings["TCS"]["quantity"] == "10" and holdings["M&M"]["sellableQuantity"] == "5"
    [position] = api.positions()["data"]
    assert (position["trdSym"], position["flBuyQty"], position["buyAmt"]) == ("M&M-EQ", "5", "15050.00")
    assert Decimal(api.limits()["Net"]) == Decimal("1000000") - Decimal("15050.00")
    [quote] = api.quotes(instrument_tokens=[{"instrument_token": "2885", "exchange_segment": "nse_cm"}],
                         quote_type="all")
    assert (quote["exchange_token"], quote["ltp"]) == ("2885", "2950.50")
    assert api.scrip_master(exchange_segment="nse_cm").endswith("/nse_cm-v1.csv")
    return {resting: "<resting>", filled: "<filled>"}


def test_the_sdk_logs_in_and_trades_on_the_fake(neo: Any, fake: FakeKotak, clock: SimClock) -> None:
    sdk_trading_day(sdk_session(neo, fake, clock))


def test_the_sdk_is_refused_a_wrong_mpin(neo: Any, fake: FakeKotak, clock: SimClock) -> None:
    c = fake.credentials
    api = neo.NeoAPI(consumer_key=c.consumer_key.get_secret_value(), environment="prod", transport=ToFake(fake.url))
    api.totp_login(mobile_number=c.mobile_number.get_secret_value(), ucc=c.ucc.get_secret_value(),
                   totp=pyotp.TOTP(c.totp_secret.get_secret_value()).at(clock.now()))
    refused = api.totp_validate(mpin="000000")
    assert "data" not in refused and refused["errMsg"] == "Invalid MPIN"
    assert "Error Message" in api.order_report()  # the SDK itself refuses: no 2FA session


def client_trading_day(fake: FakeKotak, clock: SimClock) -> dict[str, str]:
    """The same operations through KotakNeoBroker."""
    with client_for(fake, clock, sleep=lambda _s: None) as b:
        b.login()
        b.instrument("RELIANCE")  # the master download is ours alone; keep it out of the comparison window
        resting = b.place_order(OrderRequest("RELIANCE", Side.BUY, 5, OrderType.LIMIT, Decimal("2900.00"), "tag-1"))
        b.modify_order(resting, quantity=7, price=Decimal("2910.05"), order_type=OrderType.LIMIT)
        b.orders()
        b.order_history(resting)
        b.cancel_order(resting)
        b.orders()
        filled = b.place_order(OrderRequest("M&M", Side.BUY, 5, OrderType.MARKET, None, "tag-2"))
        with pytest.raises(Exception, match="completed"):
            b.cancel_order(filled)
        b.fills()
        b.holdings()
        b.positions()
        b.funds()
        b.quotes(["RELIANCE"])
    return {resting: "<resting>", filled: "<filled>"}


def _shape(line: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    fields = line.get("jData") or line.get("json") or {}
    return {
        "method": line["method"],
        "path": line["path"],
        "headers": sorted({h.lower() for h in line["headers"]} - _TRANSPORT),
        "fields": {k: ids.get(v, v) for k, v in fields.items()},
    }


def test_the_client_sends_what_the_sdk_sends(neo: Any, exchange: MemoryExchange, clock: SimClock,
                                             tmp_path: Path) -> None:
    creds = fake_credentials(12)
    with start_fake(exchange, clock, credentials=creds, record=tmp_path / "sdk.jsonl") as fake:
        sdk_ids = sdk_trading_day(sdk_session(neo, fake, clock))
    clock.advance(timedelta(seconds=30))  # a fresh TOTP window for the second login
    with start_fake(exchange, clock, credentials=creds, record=tmp_path / "ours.jsonl") as fake:
        our_ids = client_trading_day(fake, clock)

    def load(name: str, ids: dict[str, str]) -> list[dict[str, Any]]:
        lines = [json.loads(x) for x in (tmp_path / name).read_text().splitlines()]
        skip = ("/5config/", "/script-details/1.0/masterscrip/", "/scripmaster/")  # SDK-only / ours-only reads
        for x in lines:  # SDK 3.0.9 reads positions where the 2026 SDK and OpenAlgo no longer do
            x["path"] = x["path"].replace("/portfolio/v2/positions", "/quick/user/positions")
        return [_shape(x, ids) for x in lines if not x["path"].startswith(skip)]

    sdk, ours = load("sdk.jsonl", sdk_ids), load("ours.jsonl", our_ids)
    assert [(x["method"], x["path"]) for x in ours] == [(x["method"], x["path"]) for x in sdk]
    for mine, theirs in zip(ours, sdk, strict=True):
        assert mine == theirs, f"{mine['path']}: ours {mine} != sdk {theirs}"
