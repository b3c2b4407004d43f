from datetime import date
from decimal import Decimal

import pytest

from swingtrader.broker.base import (
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    SessionExpired,
    Side,
)
from swingtrader.market.calendar import TradingCalendar
from tests.unit.paper_fixtures import at, make_market

FRI, MON, TUE = date(2024, 6, 28), date(2024, 7, 1), date(2024, 7, 2)


@pytest.fixture(scope="module")
def calendar(tmp_path_factory):
    return TradingCalendar.load(cache_dir=tmp_path_factory.mktemp("cal"))


def buy(tag, price, qty=100, amo=True, kind=OrderType.LIMIT):
    return OrderRequest("AAA", Side.BUY, qty, kind, None if price is None else Decimal(price), tag, amo=amo)


def sell(tag, price, qty=100):
    return OrderRequest("AAA", Side.SELL, qty, OrderType.LIMIT, Decimal(price), tag)


def test_amo_buy_fills_at_the_next_open_and_settles_t_plus_1(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    broker.login()
    oid = broker.place_order(buy("T1", "101.00"))
    assert broker.orders()[0].status is OrderStatus.PENDING
    assert broker.funds().available_cash < Decimal(100000) - Decimal(10100)  # blocked with charges
    clock.sleep_until(at(MON, 9, 0))
    broker.login()
    clock.sleep_until(at(MON, 9, 16))
    (order,) = [o for o in broker.orders() if o.order_id == oid]
    assert order.status is OrderStatus.FILLED and order.average_price == Decimal("101.00")
    (h,) = broker.holdings()
    assert (h.quantity, h.sellable_quantity) == (100, 0)  # bought today: not sellable yet
    with pytest.raises(OrderRejected) as exc:
        broker.place_order(sell("S0", "110.00"))
    assert exc.value.reason == "insufficient_holdings"
    clock.sleep_until(at(TUE, 9, 0))
    broker.login()
    clock.sleep_until(at(TUE, 9, 15))
    assert broker.holdings()[0].sellable_quantity == 100


def test_a_resting_sell_fills_at_its_limit_when_the_path_reaches_it(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    broker.login()
    broker.place_order(buy("T1", "101.00"))
    clock.sleep_until(at(TUE, 9, 20))
    broker.login()
    cash_before = broker.cash()
    oid = broker.place_order(sell("S1", "105.00"))
    # Tuesday is a down day: open 103 -> high 106 at 11:20 -> low 100 -> close 101.
    clock.sleep_until(at(TUE, 10, 0))
    assert next(o for o in broker.orders() if o.order_id == oid).status is OrderStatus.OPEN
    clock.sleep_until(at(TUE, 11, 0))
    order = next(o for o in broker.orders() if o.order_id == oid)
    assert order.status is OrderStatus.FILLED and order.average_price == Decimal("105.00")
    assert broker.holdings() == []
    proceeds = broker.cash() - cash_before
    assert Decimal("10460") < proceeds < Decimal("10470")  # 10,500 less STT (10.50), DP fee (23.60), charges


def test_rejections_are_in_the_book_and_raise(tmp_path, calendar):
    broker, _, _, _ = make_market(tmp_path, calendar, at(FRI, 16, 5), cash="5000")
    broker.login()
    cases = {"off_tick": buy("R1", "100.005"), "outside_band": buy("R2", "130.00"),
             "insufficient_funds": buy("R3", "100.00", qty=100)}
    for reason, request in cases.items():
        with pytest.raises(OrderRejected) as exc:
            broker.place_order(request)
        assert exc.value.reason == reason
    with pytest.raises(OrderRejected) as exc:
        broker.place_order(buy("R4", "100.00", qty=1, amo=False))
    assert exc.value.reason == "market_closed"
    book = {o.tag: o for o in broker.orders()}
    assert {book[t].status for t in ("R1", "R2", "R3", "R4")} == {OrderStatus.REJECTED}


def test_day_orders_expire_at_the_close_and_release_cash(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 10, 0))
    broker.login()
    oid = broker.place_order(buy("D1", "98.00", amo=False))  # Monday's low is 99: never reached
    assert broker.funds().available_cash < Decimal(100000) - Decimal(9800)
    clock.sleep_until(at(MON, 15, 31))
    order = next(o for o in broker.orders() if o.order_id == oid)
    assert order.status is OrderStatus.CANCELLED
    assert broker.funds().available_cash == Decimal(100000)


def test_the_session_token_expires_at_ist_midnight(tmp_path, calendar):
    broker, clock, _, _ = make_market(tmp_path, calendar, at(MON, 9, 0))
    info = broker.login()
    assert info.expires_at == at(TUE, 0, 0)
    clock.sleep_until(at(MON, 23, 59))
    broker.orders()
    clock.sleep_until(at(TUE, 0, 0))
    with pytest.raises(SessionExpired):
        broker.orders()


def test_state_survives_a_restart(tmp_path, calendar):
    broker, clock, store, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    broker.login()
    broker.place_order(buy("T1", "101.00"))
    clock.sleep_until(at(MON, 9, 30))
    broker.login()
    broker.orders()
    from swingtrader.broker.paper import PaperBroker

    again = PaperBroker(store, clock, broker._path, calendar, initial_cash=Decimal(1))
    again.login()
    assert again.cash() == broker.cash()
    assert [(h.symbol, h.quantity) for h in again.holdings()] == [("AAA", 100)]
