from datetime import date
from decimal import Decimal

import pytest

from swingtrader.broker.base import AmbiguousOutcome, BrokerUnavailable, OrderType, Side
from swingtrader.broker.session import SessionManager
from swingtrader.market.calendar import TradingCalendar
from swingtrader.orders import LocalStatus, OrderIntent, OrderManager, RiskLimits, client_tag
from tests.unit.paper_fixtures import at, make_market

FRI = date(2024, 6, 28)


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


class FlakyWire:
    """Network faults in front of the real paper exchange: `lose` sends the order and drops the reply,
    `refuse` fails before the order reaches the exchange."""

    def __init__(self, inner):
        self.inner, self.name, self.mode, self.sent = inner, "flaky", None, 0

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def place_order(self, request):
        self.sent += 1
        if self.mode == "refuse":
            self.mode = None
            raise BrokerUnavailable("connection reset")
        oid = self.inner.place_order(request)
        if self.mode == "lose":
            self.mode = None
            raise AmbiguousOutcome("reply lost")
        return oid


def setup(tmp_path, calendar, paused=False, max_value="1000000"):
    exchange, clock, store, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    wire = FlakyWire(exchange)
    risk = RiskLimits(Decimal(max_value), Decimal("10000000"), Decimal("20"), lambda: paused, lambda: Decimal(0))
    return OrderManager(store, SessionManager(wire, clock), clock, risk), wire, exchange


def intent(symbol="AAA", qty=10, price="101.00"):
    return OrderIntent(FRI, "place_buy_orders", "entry", symbol, Side.BUY, qty, OrderType.LIMIT, Decimal(price),
                       True, Decimal("100"))


def first_tag(om):
    return om.find(intent()).tag


def tags_in_book(exchange):
    return [o.tag for o in exchange.orders()]


def test_tags_come_from_a_per_day_sequence_and_a_rerun_finds_its_tag(tmp_path, calendar):
    assert client_tag(FRI, "place_buy_orders", Side.BUY, 7) == "ST240628PBB00007"
    om, _, _ = setup(tmp_path, calendar)
    symbols = [f"S{i:04d}" for i in range(12)]  # more than 10 attempts / symbols: no modulo, no hash
    recs = [om.record_failed(intent(symbol=s), "insufficient_funds") for s in symbols]
    recs += [om.record_failed(OrderIntent(FRI, "position_monitor", "stop", "AAA", Side.SELL, 1, OrderType.LIMIT,
                                          Decimal("100"), False, Decimal("100"), attempt=a), "x") for a in range(12)]
    tags = [r.tag for r in recs]
    assert len(set(tags)) == len(tags) == 24 and all(len(tag) == 16 for tag in tags)
    assert tags[0] == "ST240628PBB00001" and tags[-1] == "ST240628PMS00024"
    again = OrderManager(om._store, om._broker, om._clock, om._risk)  # a restart: same store
    assert again.find(intent(symbol="S0003")).tag == tags[3]


def test_submitting_the_same_intent_twice_sends_once(tmp_path, calendar):
    om, wire, exchange = setup(tmp_path, calendar)
    first = om.submit(intent())
    second = om.submit(intent())
    assert first.id == second.id and first.status is LocalStatus.PENDING
    assert wire.sent == 1 and tags_in_book(exchange) == [first_tag(om)]


def test_a_lost_reply_is_resolved_by_tag_not_by_resending(tmp_path, calendar):
    om, wire, exchange = setup(tmp_path, calendar)
    wire.mode = "lose"
    rec = om.submit(intent())
    assert rec.status is LocalStatus.PENDING and rec.broker_order_id is not None
    om.submit(intent())
    assert wire.sent == 1 and tags_in_book(exchange) == [first_tag(om)]


def test_an_order_that_never_reached_the_broker_is_sent_again(tmp_path, calendar):
    om, wire, exchange = setup(tmp_path, calendar)
    wire.mode = "refuse"
    rec = om.submit(intent())
    assert rec.status is LocalStatus.SENDING and tags_in_book(exchange) == []
    again = om.submit(intent())
    assert again.status is LocalStatus.PENDING
    assert wire.sent == 2 and tags_in_book(exchange) == [first_tag(om)]


def test_the_kill_switch_and_limits_block_before_anything_is_sent(tmp_path, calendar):
    om, wire, _ = setup(tmp_path, calendar, paused=True)
    assert om.submit(intent()).reason == "kill_switch"
    (tmp_path / "b").mkdir()
    om2, wire2, _ = setup(tmp_path / "b", calendar, max_value="500")
    rec = om2.submit(intent())
    assert (rec.status, rec.reason) == (LocalStatus.FAILED, "max_order_value")
    assert wire.sent == 0 and wire2.sent == 0
