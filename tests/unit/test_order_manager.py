from datetime import date, timedelta
from decimal import Decimal

import pytest

from swingtrader.broker.base import AmbiguousOutcome, BrokerUnavailable, DuplicateTag, OrderType, Side
from swingtrader.broker.session import SessionManager
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path.intent import OrderIntent, client_tag
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.risk import RiskLimits
from swingtrader.order_path.state import LocalStatus
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
        self.blind_fills = self.blind_book = False
        self.books_are_complete = False  # a network in front of the exchange may hide what the exchange holds

    def orders(self):
        if self.blind_book:
            raise BrokerUnavailable("order book unreadable")
        return self.inner.orders()

    def fills(self):
        if self.blind_fills:
            raise BrokerUnavailable("trade book unreadable")
        return self.inner.fills()

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def place_order(self, request):
        self.sent += 1
        if self.mode == "refuse":
            self.mode = None
            raise BrokerUnavailable("connection reset")
        if self.mode == "crash":
            self.mode = None
            raise Crash
        if self.mode in ("ghost", "dup"):  # the send never arrived, but the reply does not say so
            mode, self.mode = self.mode, None
            raise DuplicateTag("Client OrderID already exists") if mode == "dup" else AmbiguousOutcome("timeout")
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


class Crash(BaseException):
    """The process dies mid-send."""


def managed(tmp_path, calendar):
    """(a factory of order managers on one store, the wire, the exchange, the clock, the notifications)."""
    exchange, clock, store, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    wire = FlakyWire(exchange)
    risk = RiskLimits(Decimal("1000000"), Decimal("10000000"), Decimal("20"), lambda: False, lambda: Decimal(0))
    seen: list[tuple[str, str]] = []

    def manager() -> OrderManager:
        return OrderManager(store, SessionManager(wire, clock), clock, risk,
                            on_event=lambda kind, rec, _detail: seen.append((kind, rec.tag)))

    return manager, wire, exchange, clock, seen


def test_an_unknown_send_is_resent_only_after_both_books_prove_it_absent(tmp_path, calendar):
    manager, wire, exchange, clock, _ = managed(tmp_path, calendar)
    om = manager()
    acked = om.submit(intent("BBB"))  # the book has a row the store knows: it can prove absence
    wire.mode = "ghost"
    rec = om.submit(intent())
    assert rec.status is LocalStatus.UNKNOWN and wire.sent == 2
    for _ in range(5):  # every 10 s: the relay does not re-send before the settle delay
        om.reconcile()
        clock.advance(timedelta(seconds=10))
    assert wire.sent == 2
    clock.advance(timedelta(seconds=30))
    om.reconcile()
    assert wire.sent == 3 and tags_in_book(exchange) == [acked.tag, rec.tag]
    assert om.by_tag(rec.tag).status is LocalStatus.PENDING


def test_an_empty_book_never_proves_absence(tmp_path, calendar):
    manager, wire, _, clock, seen = managed(tmp_path, calendar)
    om = manager()
    wire.mode = "ghost"
    rec = om.submit(intent())
    for _ in range(12):  # both books read fine, and empty: silence, not proof
        clock.advance(timedelta(minutes=10))
        om.reconcile()
    assert wire.sent == 1 and om.by_tag(rec.tag).status is LocalStatus.LOST and ("order_lost", rec.tag) in seen


def test_an_order_that_cannot_be_proven_absent_is_lost_and_notified_never_resent(tmp_path, calendar):
    manager, wire, exchange, clock, seen = managed(tmp_path, calendar)
    om = manager()
    wire.mode, wire.blind_fills = "ghost", True
    rec = om.submit(intent())
    for _ in range(12):
        clock.advance(timedelta(minutes=10))
        om.reconcile()
    assert om.by_tag(rec.tag).status is LocalStatus.LOST and ("order_lost", rec.tag) in seen
    assert wire.sent == 1 and tags_in_book(exchange) == []
    assert [r.tag for r in om.active()] == [rec.tag]  # still shown as working: a person decides


def test_a_duplicate_tag_refusal_is_never_followed_by_another_send(tmp_path, calendar):
    manager, wire, _, clock, seen = managed(tmp_path, calendar)
    om = manager()
    wire.mode = "dup"
    rec = om.submit(intent())
    assert rec.status is LocalStatus.UNKNOWN and rec.reason == "DuplicateTag"
    for _ in range(12):
        clock.advance(timedelta(minutes=10))
        om.reconcile()
    assert wire.sent == 1 and om.by_tag(rec.tag).status is LocalStatus.LOST and ("order_lost", rec.tag) in seen


def test_a_restart_doubts_an_intent_left_sending(tmp_path, calendar):
    manager, wire, exchange, clock, _ = managed(tmp_path, calendar)
    manager().submit(intent("BBB"))  # acknowledged: the book has a row the store knows
    wire.mode = "crash"
    with pytest.raises(Crash):
        manager().submit(intent())
    again = manager()  # the process died while sending: a new one on the same store
    assert again.submit(intent()).status is LocalStatus.SENDING and wire.sent == 2  # not sent blind
    clock.advance(timedelta(minutes=2))
    again.reconcile()
    assert wire.sent == 3 and len(tags_in_book(exchange)) == 2


def test_an_order_book_that_stays_unreadable_ends_in_lost_too(tmp_path, calendar):
    manager, wire, _, clock, seen = managed(tmp_path, calendar)
    om = manager()
    wire.mode = "ghost"
    rec = om.submit(intent())
    wire.blind_book = True
    for _ in range(12):
        clock.advance(timedelta(minutes=10))
        with pytest.raises(BrokerUnavailable):
            om.reconcile()
    assert om.by_tag(rec.tag).status is LocalStatus.LOST and ("order_lost", rec.tag) in seen and wire.sent == 1
