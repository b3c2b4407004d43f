"""KotakNeoBroker against the fake Kotak Neo server over a real loopback socket."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerUnavailable,
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
from swingtrader.broker.kotak_neo import KotakNeoBroker
from swingtrader.broker.kotak_neo.harness import FakeKotak, client_for, fake_credentials, start_fake
from swingtrader.broker.session import SessionManager
from swingtrader.clock import SimClock
from tests.integration.kotak_support import MemoryExchange, sim_clock

PRICES = {"RELIANCE": Decimal("2950.50"), "M&M": Decimal("3010.00"), "BAJAJ-AUTO": Decimal("9120.00"),
          "TCS": Decimal("4100.00")}


@pytest.fixture
def clock() -> SimClock:
    return sim_clock()


@pytest.fixture
def exchange(clock: SimClock) -> MemoryExchange:
    return MemoryExchange(clock, PRICES, holdings={"TCS": (10, Decimal("3900.25"))})


@pytest.fixture
def fake(exchange: MemoryExchange, clock: SimClock, tmp_path) -> Iterator[FakeKotak]:
    with start_fake(exchange, clock, credentials=fake_credentials(3), record=tmp_path / "rec.jsonl") as f:
        yield f


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def broker(fake: FakeKotak, clock: SimClock, sleeps: Sleeps, tmp_path) -> Iterator[KotakNeoBroker]:
    with client_for(fake, clock, sleep=sleeps, rng=random.Random(1), cache_dir=tmp_path / "cache",
                    timeout=2.0, reads_per_second=1000, orders_per_second=1000) as b:
        b.login()
        yield b


def buy(symbol: str = "RELIANCE", price: str | None = "2900.00", tag: str = "t1", amo: bool = False) -> OrderRequest:
    kind = OrderType.LIMIT if price else OrderType.MARKET
    return OrderRequest(symbol, Side.BUY, 5, kind, Decimal(price) if price else None, tag, amo=amo)


def test_login_reads_expiry_from_the_trade_jwt(fake: FakeKotak, clock: SimClock) -> None:
    with client_for(fake, clock) as b:
        info = b.login()
    assert info.expires_at == clock.now().replace(hour=0, minute=0) + timedelta(days=1)
    assert info.token.get_secret_value().count(".") == 2
    assert b.call_counts() == {"login": 1, "validate": 1}


def test_place_modify_cancel_and_read_the_books(broker: KotakNeoBroker, exchange: MemoryExchange) -> None:
    resting = broker.place_order(buy(tag="rest-1"))
    filled = broker.place_order(buy("M&M", price=None, tag="mkt-1"))
    broker.modify_order(resting, quantity=7, price=Decimal("2910.05"), order_type=OrderType.LIMIT)
    by_id = {o.order_id: o for o in broker.orders()}
    assert by_id[resting].quantity == 7 and by_id[resting].price == Decimal("2910.05")
    assert by_id[resting].status is OrderStatus.OPEN and by_id[resting].tag == "rest-1"
    assert by_id[filled].status is OrderStatus.FILLED and by_id[filled].symbol == "M&M"
    assert by_id[filled].average_price == Decimal("3010.00") and by_id[filled].price is None
    broker.cancel_order(resting)
    assert {o.order_id: o.status for o in broker.orders()}[resting] is OrderStatus.CANCELLED
    with pytest.raises(OrderCompleted):
        broker.cancel_order(filled)
    with pytest.raises(OrderCompleted):
        broker.modify_order(filled, quantity=1, price=Decimal("3000"), order_type=OrderType.LIMIT)
    [fill] = broker.fills()
    assert (fill.order_id, fill.tag, fill.symbol, fill.quantity, fill.price) == (filled, "mkt-1", "M&M", 5,
                                                                                  Decimal("3010.00"))
    holdings = {h.symbol: h for h in broker.holdings()}
    assert holdings["TCS"].average_price == Decimal("3900.25") and holdings["M&M"].quantity == 5
    assert broker.funds().available_cash == exchange.cash
    [pos] = broker.positions()
    assert (pos.symbol, pos.net_quantity, pos.buy_amount) == ("M&M", 5, Decimal("15050.00"))
    assert [o.status for o in broker.order_history(resting)] == [OrderStatus.CANCELLED]


def test_amo_order_is_pending_and_cancel_sends_am_yes(broker: KotakNeoBroker, tmp_path) -> None:
    order_id = broker.place_order(buy("BAJAJ-AUTO", price="9000.00", tag="amo-1", amo=True))
    [order] = [o for o in broker.orders() if o.order_id == order_id]
    assert order.status is OrderStatus.PENDING and order.amo and order.symbol == "BAJAJ-AUTO"
    broker.cancel_order(order_id)
    lines = (tmp_path / "rec.jsonl").read_text().splitlines()
    assert '"am": "YES"' in next(x for x in lines if "quick/order/cancel" in x)


def test_empty_books_are_empty_lists(broker: KotakNeoBroker) -> None:
    assert broker.orders() == [] and broker.fills() == [] and broker.positions() == []


def test_rejected_order_raises_with_the_reason(broker: KotakNeoBroker) -> None:
    with pytest.raises(OrderRejected, match="not in today's instrument master"):
        broker.place_order(buy("NOSUCH"))
    with pytest.raises(OrderRejected) as err:
        broker.place_order(buy("INFY"))  # listed, but the exchange has no price for it
    assert "no price for INFY" in err.value.reason


def test_quotes_are_batched_by_fifty(fake: FakeKotak, exchange: MemoryExchange, clock: SimClock, tmp_path) -> None:
    symbols = [f"SYM{i:03d}" for i in range(120)]
    exchange.prices.update({s: Decimal(100 + i) for i, s in enumerate(symbols)})
    with start_fake(exchange, clock, symbols=symbols) as big, client_for(big, clock, sleep=lambda _s: None) as b:
        b.login()
        quotes = b.quotes([*symbols, "RELIANCE", "NOSUCH"])
        assert b.call_counts()["quotes"] == 3
    assert len(quotes) == 121 and "NOSUCH" not in quotes
    assert quotes["SYM007"].ltp == Decimal("107") and quotes["RELIANCE"].prev_close == PRICES["RELIANCE"]
    assert quotes["RELIANCE"].upper_band == PRICES["RELIANCE"] * Decimal("1.2")


def test_lost_reply_on_place_is_ambiguous_and_the_order_is_found_by_tag(broker: KotakNeoBroker,
                                                                        fake: FakeKotak) -> None:
    broker.instrument("RELIANCE")  # master loaded before the fault is armed
    fake._faults.spec = type(fake._faults.spec)(lost_reply=1.0)
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(buy(tag="lost-1"))
    fake._faults.spec = type(fake._faults.spec)()
    assert [o.tag for o in broker.orders()] == ["lost-1"]
    assert fake.fault_counts()["lost_reply"] == 1
    assert broker.call_counts()["place_order"] == 1  # never re-sent


def test_reads_retry_429_and_5xx_then_succeed(broker: KotakNeoBroker, fake: FakeKotak, caplog) -> None:
    fake.serve_next("holdings", 429, b'{"error": [{"code": "429", "message": "slow down"}]}')
    fake.serve_next("holdings", 503, b"<html>busy</html>", "text/html")
    assert [h.symbol for h in broker.holdings()] == ["TCS"]
    assert broker.call_counts()["holdings"] == 3
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2 and "HTTP 429" in retries[0] and "HTTP 503" in retries[1]


def test_retry_after_is_honoured(fake: FakeKotak, clock: SimClock) -> None:
    sleeps = Sleeps()
    with client_for(fake, clock, sleep=sleeps, reads_per_second=1000) as b:
        b.login()
        fake._faults.spec = type(fake._faults.spec)(http429=1.0)
        with pytest.raises(RateLimited):
            b.funds()
    assert b.call_counts()["funds"] == 4 and sleeps.count(1.0) == 3  # Retry-After: 1


def test_a_write_is_never_retried(broker: KotakNeoBroker, fake: FakeKotak) -> None:
    broker.instrument("RELIANCE")
    fake.serve_next("place_order", 502, b"<html>bad gateway</html>", "text/html")
    with pytest.raises(AmbiguousOutcome):
        broker.place_order(buy())
    fake.serve_next("cancel_order", 429, b"{}")
    with pytest.raises(RateLimited):
        broker.cancel_order("123")
    assert broker.call_counts()["place_order"] == 1 and broker.call_counts()["cancel_order"] == 1


def test_session_expiry_raises_session_expired_401_and_403(broker: KotakNeoBroker, fake: FakeKotak) -> None:
    fake.expire_now()
    with pytest.raises(SessionExpired) as first:
        broker.orders()
    with pytest.raises(SessionExpired) as second:
        broker.funds()
    assert {first.value.status, second.value.status} <= {401, 403}
    assert fake.fault_counts()["expire"] == 1
    broker.login()
    assert broker.orders() == []


def test_not_logged_in_is_session_expired(fake: FakeKotak, clock: SimClock) -> None:
    with client_for(fake, clock) as b, pytest.raises(SessionExpired):
        b.orders()


# ---- bad input: each a clear, classified error, never "no data" ----------------------------------------------
def test_wrong_mpin_is_login_failed(fake: FakeKotak, clock: SimClock) -> None:
    creds = fake.credentials
    wrong = type(creds)(creds.consumer_key, creds.mobile_number, creds.ucc, creds.totp_secret,
                        type(creds.mpin)("000000"))
    with KotakNeoBroker(wrong, login_url=fake.url, clock=clock) as b, pytest.raises(LoginFailed, match="MPIN"):
        b.login()


def test_stale_totp_is_login_failed(fake: FakeKotak, clock: SimClock) -> None:
    behind = SimClock(clock.now() - timedelta(minutes=5))  # the client's clock is 5 minutes slow
    with client_for(fake, behind) as b, pytest.raises(LoginFailed, match="TOTP"):
        b.login()


def test_login_reply_without_base_url_is_login_failed(fake: FakeKotak, clock: SimClock) -> None:
    reply = b'{"data": {"token": "a.eyJleHAiOiAxfQ.c", "sid": "s", "kType": "Trade", "status": "success"}}'
    fake.serve_next("validate", 200, reply)
    with client_for(fake, clock) as b, pytest.raises(LoginFailed, match="baseUrl"):
        b.login()


def test_one_login_breaker_in_the_session_manager_reset_by_a_person(fake: FakeKotak, clock: SimClock) -> None:
    for _ in range(3):
        fake.serve_next("login", 400, b'{"error": [{"code": "10522", "message": "Invalid TOTP"}]}')
    with client_for(fake, clock) as b:
        session = SessionManager(b, clock)
        for _ in range(3):
            with pytest.raises(LoginFailed, match="Invalid TOTP"):
                session.login()
            clock.advance(timedelta(seconds=30))
        with pytest.raises(LoginFailed, match="human checks"):
            session.login()
        assert b.call_counts() == {"login": 3} and session.login_blocked
        session.reset_failures()  # the dashboard's re-login and broker-check do this
        assert session.login().expires_at > clock.now() and b.call_counts()["login"] == 4


def test_a_totp_code_is_never_used_twice(fake: FakeKotak, clock: SimClock) -> None:
    with client_for(fake, clock) as b:
        b.login()
        before = clock.now()
        b.login()  # same window: the client waits (on the clock) for the next one
    assert int(clock.now().timestamp()) // 30 == int(before.timestamp()) // 30 + 1


def test_unknown_order_status_is_active_and_listed_not_a_failed_book(broker: KotakNeoBroker, fake: FakeKotak) -> None:
    row = ('{"stat": "Ok", "stCode": 200, "data": [{"nOrdNo": "1", "ordSt": "frozen by exchange", "trdSym": '
           '"RELIANCE-EQ", "trnsTp": "B", "prcTp": "L", "prc": "1.00", "qty": "1", "fldQty": "0"}, {"nOrdNo": "2", '
           '"ordSt": "open", "trdSym": "RELIANCE-EQ", "trnsTp": "B", "prcTp": "L", "prc": "1.00", "qty": "x"}]}')
    fake.serve_next("orders", 200, row.encode())
    book = broker.orders()
    assert [(o.order_id, o.status) for o in book] == [("1", OrderStatus.UNKNOWN)] and book.skipped == ("2",)
    assert broker.unknown_statuses() == {"frozen by exchange": 1}


def test_holdings_reply_that_is_not_json_is_broker_unavailable(broker: KotakNeoBroker, fake: FakeKotak) -> None:
    for _ in range(4):
        fake.serve_next("holdings", 200, b"<html>maintenance</html>", "text/html")
    with pytest.raises(BrokerUnavailable, match="not JSON"):
        broker.holdings()


def test_limits_without_net_is_malformed(broker: KotakNeoBroker, fake: FakeKotak) -> None:
    fake.serve_next("funds", 200, b'{"stat": "Ok", "stCode": 200, "CollateralValue": "99999999"}')
    with pytest.raises(MalformedResponse, match="Net"):
        broker.funds()


def test_instrument_master_is_cached_on_disk_per_day(fake: FakeKotak, clock: SimClock, tmp_path) -> None:
    for _ in range(2):
        with client_for(fake, clock, cache_dir=tmp_path / "c") as b:
            ins = b.instrument("BAJAJ-AUTO")
            assert b.instrument("M&M").trading_symbol == "M&M-EQ"
    assert (ins.trading_symbol, ins.token, ins.tick_size) == ("BAJAJ-AUTO-EQ", "16669", Decimal("0.05"))
    assert b.call_counts() == {}  # the second client read the day's file
    clock.advance(timedelta(days=1))
    with client_for(fake, clock, cache_dir=tmp_path / "c") as b:
        b.instrument("TCS")
        assert b.call_counts() == {"instruments": 1, "instrument_file": 1}
    assert len(list((tmp_path / "c").iterdir())) == 1
