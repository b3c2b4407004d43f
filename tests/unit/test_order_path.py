"""The order path's pieces through their public entry points: the state table, the gate and the risk limits
in front of the ledger, one outcome per intent, and an intent that replaces the working order. A real paper
exchange and a real SQLite store; the wire in front only counts and can lose a send."""

from datetime import date
from decimal import Decimal

import pytest

from swingtrader.broker.base import AmbiguousOutcome, OrderType, Side
from swingtrader.broker.session import SessionManager
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path import state
from swingtrader.order_path.intent import Gate, OrderIntent, Verdict
from swingtrader.order_path.ledger import Ledger
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.risk import RiskLimits
from swingtrader.order_path.state import IllegalTransition, LocalStatus
from tests.unit.paper_fixtures import at, make_market

FRI = date(2024, 6, 28)


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


class CountingWire:
    """The paper exchange, counting sends and cash reads; `ghost` makes the next send fail without arriving."""

    def __init__(self, inner):
        self.inner, self.name, self.sent, self.cash_reads, self.ghost = inner, "counting", 0, 0, False

    def __getattr__(self, item):
        return getattr(self.inner, item)

    def funds(self):
        self.cash_reads += 1
        return self.inner.funds()

    def place_order(self, request):
        self.sent += 1
        if self.ghost:
            self.ghost = False
            raise AmbiguousOutcome("timeout")
        return self.inner.place_order(request)


def setup(tmp_path, calendar, paused=False):
    exchange, clock, store, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    wire = CountingWire(exchange)
    risk = RiskLimits(Decimal("1000000"), Decimal("10000000"), Decimal("20"), lambda: paused, lambda: Decimal(0))
    return OrderManager(store, SessionManager(wire, clock), clock, risk), wire, exchange, store, clock


def buy(price="99.00", gate=None, replaces=False, attempt=1):
    return OrderIntent(FRI, "place_buy_orders", "entry", "AAA", Side.BUY, 10, OrderType.LIMIT, Decimal(price), True,
                       Decimal("100"), attempt=attempt, gate=gate, replaces=replaces)


def test_the_state_table_refuses_an_illegal_transition_and_the_ledger_writes_nothing(tmp_path, calendar):
    state.check(LocalStatus.SENDING, LocalStatus.UNKNOWN, "T")  # allowed: no error
    state.check(LocalStatus.LOST, LocalStatus.FILLED, "T")  # a lost order found later
    for final in (LocalStatus.FILLED, LocalStatus.CANCELLED, LocalStatus.REJECTED, LocalStatus.FAILED):
        with pytest.raises(IllegalTransition):
            state.check(final, LocalStatus.OPEN, "T")
    with pytest.raises(IllegalTransition):
        state.check(LocalStatus.PENDING, LocalStatus.LOST, "T")  # acknowledged: only the book moves it
    assert all(s in state.NEXT[s] for s in LocalStatus)  # staying is always allowed (a fill, an event)

    _, _, _, store, clock = setup(tmp_path, calendar)
    ledger = Ledger(store, clock, on_write=lambda _r: None)
    failed = ledger.insert(buy(), LocalStatus.FAILED, "insufficient_funds")
    with pytest.raises(IllegalTransition):
        ledger.update(failed, status=LocalStatus.PENDING, broker_order_id="X1", event="sent")
    stored = ledger.reload(failed)
    assert (stored.status, stored.broker_order_id) == (LocalStatus.FAILED, None)
    with pytest.raises(IllegalTransition):
        ledger.insert(buy(attempt=2), LocalStatus.PENDING, None)  # a new order starts sending or failed
    assert [o.id for o in ledger.for_day(FRI)] == [failed.id]


def test_a_gate_refusal_returns_its_reason_and_stores_no_order(tmp_path, calendar):
    om, wire, exchange, _, _ = setup(tmp_path, calendar)
    full = Gate(cash_needed=Decimal("1000"), held=frozenset({"BBB"}), max_positions=1)
    outcome = om.place(buy(gate=full))
    assert (outcome.verdict, outcome.reason, outcome.record) == (Verdict.REFUSED, "max_positions", None)
    assert wire.cash_reads == 0  # decided without reading the cash
    short = Gate(cash_needed=Decimal("100000.01"))  # the paper account holds 100000
    outcome = om.place(buy(gate=short))
    assert (outcome.verdict, outcome.reason, outcome.record) == (Verdict.REFUSED, "insufficient_funds", None)
    assert om.for_day(FRI) == [] and wire.sent == 0 and exchange.orders() == []


def test_a_short_cash_refusal_the_gate_records_is_stored_failed_and_never_rejudged(tmp_path, calendar):
    om, wire, _, _, _ = setup(tmp_path, calendar)
    outcome = om.place(buy(gate=Gate(cash_needed=Decimal("100000.01"), record_short_cash=True)))
    assert outcome.verdict is Verdict.REFUSED and outcome.record is not None
    assert (outcome.record.status, outcome.record.reason) == (LocalStatus.FAILED, "insufficient_funds")
    again = om.place(buy(gate=Gate(cash_needed=Decimal("1"))))  # the same intent, now affordable: stored already
    assert again.record is not None and again.record.id == outcome.record.id
    assert again.verdict is Verdict.REFUSED and wire.sent == 0 and wire.cash_reads == 1


def test_a_risk_limit_refusal_is_stored_failed_with_its_reason_and_never_sent(tmp_path, calendar):
    om, wire, _, _, _ = setup(tmp_path, calendar, paused=True)
    outcome = om.place(buy(gate=Gate(cash_needed=Decimal("990"))))
    assert (outcome.verdict, outcome.reason) == (Verdict.REFUSED, "kill_switch")
    assert outcome.record is not None and outcome.record.status is LocalStatus.FAILED and wire.sent == 0


def test_one_outcome_per_intent_placed_or_in_doubt(tmp_path, calendar):
    om, wire, exchange, _, _ = setup(tmp_path, calendar)
    placed = om.place(buy())
    assert placed.verdict is Verdict.PLACED and placed.record is not None
    assert [o.order_id for o in exchange.orders()] == [placed.record.broker_order_id]
    wire.ghost = True
    doubt = om.place(buy(attempt=2))
    assert doubt.verdict is Verdict.IN_DOUBT and doubt.record is not None
    assert doubt.record.status is LocalStatus.UNKNOWN and doubt.record.broker_order_id is None
    assert om.place(buy(attempt=2)).verdict is Verdict.IN_DOUBT and wire.sent == 2  # looked up, not re-sent


def test_an_intent_that_replaces_moves_the_working_order_instead_of_placing_another(tmp_path, calendar):
    om, wire, exchange, _, _ = setup(tmp_path, calendar)
    first = om.place(buy("99.00", replaces=True))
    moved = om.place(buy("98.50", replaces=True))
    assert first.record is not None and moved.record is not None
    assert moved.record.id == first.record.id and moved.record.price == Decimal("98.50")
    assert [(o.order_id, o.price) for o in exchange.orders()] == [(first.record.broker_order_id, Decimal("98.50"))]
    assert wire.sent == 1
