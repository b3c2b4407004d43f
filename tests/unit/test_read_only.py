from datetime import date
from decimal import Decimal

import pytest

from swingtrader.broker.base import OrderType, Side
from swingtrader.broker.readonly import ReadOnlyBroker
from swingtrader.broker.session import SessionManager
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path.intent import OrderIntent
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.risk import RiskLimits
from swingtrader.order_path.state import LocalStatus
from tests.unit.paper_fixtures import at, make_market

FRI = date(2024, 6, 28)


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


def test_read_only_mode_reads_but_never_sends_an_order(tmp_path, calendar):
    exchange, clock, store, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    session = SessionManager(ReadOnlyBroker(exchange), clock)
    risk = RiskLimits(Decimal("1e9"), Decimal("1e9"), Decimal("20"), lambda: False, lambda: Decimal(0))
    manager = OrderManager(store, session, clock, risk)
    intent = OrderIntent(FRI, "place_buy_orders", "entry", "AAA", Side.BUY, 10, OrderType.LIMIT,
                         Decimal("101.00"), True, Decimal("100"))
    record = manager.submit(intent)
    assert (record.status, record.reason) == (LocalStatus.REJECTED, "read_only")
    assert session.funds().available_cash == Decimal(100000)  # reads work, on a real login
    assert session.logins == 1
    assert exchange.orders() == []  # nothing reached the exchange
