"""Recovery after downtime (issue 10): a paper-mode service stopped while the exchange carries on learns, at
its first reconcile after start, what happened: after-market buys filled at an open it slept through (at the
exchange's prices and times) and DAY sells that expired at a close it slept through, which the sell task then
replaces. Positions end equal to the broker's holdings and nothing is flagged.

Real parts throughout: the service (`build_service`) and the paper exchange on one SQLite store, the bundled
Nifty 50 bars, a virtual clock. A restart is a new service and a new exchange object on the same store."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import select

from swingtrader.account_view import read_account
from swingtrader.broker import paper_store
from swingtrader.broker.base import OrderRequest, OrderType, Side
from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path.state import LocalStatus
from swingtrader.recovery import arm_at_start
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_broker
from swingtrader.store import Store
from swingtrader.store import tables as t


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


class World:
    """The store, data and settings a service is (re)started on; `start` builds one as `run` does."""

    def __init__(self, tmp_path, nifty_dir, **overrides) -> None:
        self.settings = load_settings(None, data_dir=tmp_path, **overrides)
        self.calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
        self.bars = open_bar_source(str(nifty_dir))
        self.store = Store.open(f"sqlite:///{tmp_path / 'r.sqlite'}")
        self.alerts: list[tuple[str, str]] = []

    def start(self, moment: datetime, *, recover: bool = True):
        clock = SimClock(moment)
        exchange = paper_broker(self.settings, self.store, clock, self.bars, self.calendar)
        hooks = ServiceHooks(notify=lambda kind, title, _body: self.alerts.append((str(kind), title)))
        service = build_service(self.settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=self.calendar,
                                store=self.store, bars=self.bars, broker=exchange, hooks=hooks)
        if recover:
            arm_at_start(service.context)  # what `swingtrader run` does after its first login
        return service, exchange

    def run(self, service, until: datetime, start_day: date | None = None) -> None:
        service.scheduler.run(start_day=start_day, until=until)
        service.ledger.close()


def holdings_of(exchange) -> dict[str, tuple[int, Decimal]]:
    exchange.login()
    return {h.symbol: (h.quantity, h.average_price) for h in exchange.holdings()}


def positions_of(service) -> dict[str, tuple[int, Decimal]]:
    return {p.symbol: (p.quantity, p.average_price) for p in service.context.portfolio.open_positions()}


def flags(store: Store) -> list:
    with store.connect() as conn:
        return conn.execute(select(t.signals).where(t.signals.c.kind.in_(("holdings_mismatch",
                                                                         "holding_missing")))).all()


def test_a_restart_after_downtime_settles_fills_and_expiries(tmp_path, nifty_dir):
    w = World(tmp_path, nifty_dir)
    d, d1, d2, d3 = date(2024, 1, 23), date(2024, 1, 24), date(2024, 1, 25), date(2024, 1, 29)
    service, _ = w.start(at(date(2024, 1, 1), 8, 0), recover=False)
    w.run(service, at(d, 16, 10), start_day=date(2024, 1, 1))  # stopped after the day's after-market buys
    amo = [o for o in service.context.orders.for_day(d, "place_buy_orders") if o.status is LocalStatus.PENDING]
    assert {o.symbol for o in amo} == {"INDUSINDBK", "BAJAJFINSV"}
    assert set(positions_of(service)) == {"EICHERMOT"}

    # down all of D+1: the exchange fills the buys at its open; back on D+2 mid-morning
    service, exchange = w.start(at(d2, 10, 30))
    w.run(service, at(d2, 10, 31))
    assert positions_of(service) == holdings_of(exchange)
    assert set(positions_of(service)) >= {"EICHERMOT", "INDUSINDBK"}  # BAJAJFINSV's catch-up sell may fill
    with w.store.connect() as conn:
        exchange_fills = {r.order_id: (r.price, r.at) for r in paper_store.fills_since(conn)}
        ours = conn.execute(select(t.fills.c.order_id, t.fills.c.price, t.fills.c.at)).all()
    by_local = {r.order_id: (r.price, r.at) for r in ours}
    for o in amo:
        rec = service.context.orders.by_tag(o.tag)
        assert rec.status is LocalStatus.FILLED
        price, when = exchange_fills[rec.broker_order_id]
        assert by_local[rec.id] == (price, when)
        assert when == at(d1, 9, 15)  # the open of D+1, not the restart
    sells = {o.symbol: o for o in service.context.orders.for_day(d2, "place_sell_orders")}
    assert set(sells) == {"EICHERMOT", "INDUSINDBK", "BAJAJFINSV"}  # the catch-up sells went out

    # stopped after D+2's last monitor run, before anything reconciled the close; back on the next session
    w.run(service, at(d2, 15, 45), start_day=d2)
    open_sells = {o.symbol: o for o in service.context.orders.active(side=Side.SELL)}
    assert open_sells, "a DAY sell still open at the stop"
    service, exchange = w.start(at(d3, 10, 30))
    w.run(service, at(d3, 10, 31))
    for symbol, old in open_sells.items():
        rec = service.context.orders.by_tag(old.tag)
        if symbol in positions_of(service):
            assert (rec.status, rec.reason) == (LocalStatus.CANCELLED, "expired")
            new = service.context.orders.active(side=Side.SELL, symbol=symbol)
            assert len(new) == 1 and new[0].trading_date == d3 and new[0].broker_order_id != old.broker_order_id
        else:  # it filled at the exchange before the close: recorded at the exchange's time
            assert rec.status is LocalStatus.FILLED
    assert positions_of(service) == holdings_of(exchange)
    assert flags(w.store) == []
    assert not [a for a in w.alerts if a[0] == "holdings_mismatch"]
    w.store.dispose()


@pytest.mark.parametrize("mode", ["flag", "adopt"])
def test_extra_holdings_are_flagged_or_adopted_at_the_evening_reconcile(tmp_path, nifty_dir, mode):
    w = World(tmp_path, nifty_dir, holdings_mismatch=mode)
    d, d1 = date(2024, 1, 19), date(2024, 1, 23)
    service, exchange = w.start(at(date(2024, 1, 1), 8, 0), recover=False)
    w.run(service, at(d, 16, 10), start_day=date(2024, 1, 1))
    exchange.place_order(OrderRequest(symbol="EICHERMOT", side=Side.BUY, quantity=5, order_type=OrderType.MARKET,
                                      price=None, tag="HAND-1", amo=True))  # the account holder, by hand
    w.run(service, at(d1, 18, 5), start_day=d)
    held, ours = holdings_of(exchange)["EICHERMOT"][0], positions_of(service)["EICHERMOT"][0]
    [flag] = flags(w.store)
    assert (flag.trading_date, flag.symbol, flag.kind) == (d1, "EICHERMOT", "holdings_mismatch")
    assert ("holdings_mismatch", f"EICHERMOT: holdings {held}, positions {held - 5}") in w.alerts
    if mode == "flag":
        assert flag.detail == {"ours": ours, "held": ours + 5, "difference": 5, "action": "flagged"}
    else:
        assert ours == held
        assert flag.detail == {"ours": held - 5, "held": held, "difference": 5, "action": "adopted"}
    view = read_account(w.store, at(d1, 18, 6))
    assert [(f["symbol"], f["detail"]["difference"]) for f in view.holdings_flags] == [("EICHERMOT", 5)]
    w.store.dispose()
