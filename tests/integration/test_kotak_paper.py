"""Orders sent through KotakNeoBroker and the fake really fill on the paper exchange (PaperBroker)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from swingtrader.broker.base import OrderRejected, OrderRequest, OrderStatus, OrderType, Side
from swingtrader.broker.kotak_neo.harness import client_for, start_fake
from swingtrader.broker.session import SessionManager

FRI, MON = date(2024, 6, 28), date(2024, 7, 1)


def test_an_amo_buy_through_the_fake_fills_at_the_next_open(tmp_path) -> None:
    pytest.importorskip("swingtrader.service", reason="the paper exchange's modules are not all there yet",
                        exc_type=ImportError)
    from swingtrader.market.calendar import TradingCalendar
    from tests.unit.paper_fixtures import at, make_market

    calendar = TradingCalendar.load(cache_dir=tmp_path / "cal")
    paper, clock, _, _ = make_market(tmp_path, calendar, at(FRI, 16, 5))
    with start_fake(paper, clock, symbols=["AAA"], faults="seed=1") as fake, client_for(fake, clock) as client:
        broker = SessionManager(client, clock)
        order_id = broker.place_order(OrderRequest("AAA", Side.BUY, 100, OrderType.LIMIT, Decimal("101.00"), "T1",
                                                   amo=True))
        [pending] = broker.orders()
        assert (pending.order_id, pending.status, pending.amo, pending.tag) == (order_id, OrderStatus.PENDING, True,
                                                                                 "T1")
        clock.sleep_until(at(MON, 9, 16))  # past midnight: the session expired, the manager logs in again
        [filled] = broker.orders()
        assert filled.status is OrderStatus.FILLED and filled.average_price == Decimal("101.00")
        [holding] = broker.holdings()
        assert (holding.symbol, holding.quantity, holding.sellable_quantity) == ("AAA", 100, 0)
        with pytest.raises(OrderRejected, match="sellable"):
            broker.place_order(OrderRequest("AAA", Side.SELL, 100, OrderType.LIMIT, Decimal("110.00"), "S1"))
        [fill] = broker.fills()
        assert (fill.order_id, fill.quantity, fill.price) == (order_id, 100, Decimal("101.00"))
        assert broker.funds().available_cash == paper.funds().available_cash
        assert broker.quotes(["AAA"])["AAA"].ltp == paper.quotes(["AAA"])["AAA"].ltp
        assert broker.logins == 2 and client.call_counts()["login"] == 2
