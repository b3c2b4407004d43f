"""Issue 15's "Why" bullets, one test each, through the real client (behind the session manager and the order
manager) against the fake Kotak server over loopback HTTP. The fake's duplicate-tag refusal is off
(`tag_guard=off`): it is undocumented, so nothing may rely on it. New orders show in the books 2 s after they
are placed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from swingtrader.account_view import read_account
from swingtrader.broker.base import (
    Fill,
    ForeignOrder,
    Holding,
    Order,
    OrderStatus,
    OrderType,
    SessionExpired,
    Side,
)
from swingtrader.broker.kotak_neo import KotakNeoBroker
from swingtrader.broker.kotak_neo.fake_exchange import WireError
from swingtrader.broker.kotak_neo.harness import FakeKotak, client_for, fake_credentials, start_fake
from swingtrader.broker.session import SessionManager
from swingtrader.clock import SimClock, ist_date
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.order_path.intent import FillEvent, OrderIntent
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.relay import ResolvePolicy
from swingtrader.order_path.risk import RiskLimits
from swingtrader.order_path.state import LocalStatus
from swingtrader.recovery import arm_at_start
from swingtrader.service import ClockMode, Service, ServiceHooks, build_service
from swingtrader.store import Store
from swingtrader.store import tables as t
from tests.integration.kotak_support import MemoryExchange, sim_clock

PRICES = {"RELIANCE": Decimal("2950.50"), "M&M": Decimal("3010.00"), "BAJAJ-AUTO": Decimal("9120.00"),
          "TCS": Decimal("4100.00")}
POLICY = ResolvePolicy(settle=timedelta(seconds=60), max_backoff=timedelta(minutes=5),
                       deadline=timedelta(minutes=30), min_lookups=3)
NO_DATA = b'{"stat": "Not_Ok", "stCode": 5203, "errMsg": "No Data"}'


class KotakLikeExchange(MemoryExchange):
    """The memory exchange with Kotak's habits: its books show only today's orders and trades; an order can fill
    in parts (`fill_part`); holdings reads can fail (`holdings_fail`)."""

    holdings_fail = False

    def orders(self) -> list[Order]:
        today = ist_date(self.clock.now())
        return [o for o in super().orders() if o.placed_at is None or ist_date(o.placed_at) == today]

    def fills(self) -> list[Fill]:
        return [f for f in super().fills() if ist_date(f.at) == ist_date(self.clock.now())]

    def holdings(self) -> list[Holding]:
        if self.holdings_fail:
            raise WireError("holdings service error", code=99999, status=500)
        return super().holdings()

    def fill_part(self, order_id: str, quantity: int, price: Decimal) -> None:
        with self._lock:
            o = self._orders[order_id]
            done = o.filled_quantity + quantity
            avg = ((o.average_price or Decimal(0)) * o.filled_quantity + price * quantity) / done
            status = OrderStatus.FILLED if done == o.quantity else OrderStatus.OPEN
            self._orders[order_id] = replace(o, status=status, filled_quantity=done, average_price=avg)
            self._fills.append(Fill(order_id, o.tag, o.symbol, o.side, quantity, price, self.clock.now()))


@pytest.fixture
def clock() -> SimClock:
    return sim_clock()


@pytest.fixture
def exchange(clock: SimClock) -> KotakLikeExchange:
    return KotakLikeExchange(clock, PRICES)


@pytest.fixture
def knobs() -> str:
    return "tag_guard=off,visibility_delay=2s"


@pytest.fixture
def fake(exchange: MemoryExchange, clock: SimClock, knobs: str) -> Iterator[FakeKotak]:
    with start_fake(exchange, clock, credentials=fake_credentials(15), faults=knobs) as f:
        yield f


@pytest.fixture
def client(fake: FakeKotak, clock: SimClock, tmp_path) -> Iterator[KotakNeoBroker]:
    with client_for(fake, clock, sleep=lambda _s: None, timeout=2.0, cache_dir=tmp_path / "cache") as b:
        yield b


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'orders.sqlite'}")


@pytest.fixture
def told() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def fills() -> list[FillEvent]:
    return []


@pytest.fixture
def manager(client: KotakNeoBroker, clock: SimClock, store: Store, told, fills) -> OrderManager:
    risk = RiskLimits(Decimal("1e9"), Decimal("1e10"), Decimal("20"), lambda: False, lambda: Decimal(0))
    return OrderManager(store, SessionManager(client, clock), clock, risk, policy=POLICY,
                        on_event=lambda kind, rec, _d: told.append((kind, rec.tag)),
                        on_fill=lambda f, _c: fills.append(f))


@pytest.fixture
def service(client: KotakNeoBroker, clock: SimClock, store: Store, tmp_path, nifty_dir, told) -> Service:
    """The service over the real client, as `run` builds it; its notifications land in `told`."""
    hooks = ServiceHooks(notify=lambda kind, title, _body: told.append((str(kind), title)))
    return build_service(load_settings(None, data_dir=tmp_path), clock=clock, clock_mode=ClockMode.VIRTUAL,
                         calendar=TradingCalendar.load(cache_dir=tmp_path / "cal"), store=store,
                         bars=open_bar_source(str(nifty_dir)), broker=client, hooks=hooks)


def attention(store: Store, clock: SimClock) -> dict[str, str]:
    """The dashboard's list of orders a person must look at: tag -> why."""
    return {o.tag: o.reason or "" for o in read_account(store, clock.now()).lost_orders}


def buy(clock: SimClock, symbol: str, price: str, qty: int = 2) -> OrderIntent:
    return OrderIntent(ist_date(clock.now()), "place_buy_orders", "entry", symbol, Side.BUY, qty, OrderType.LIMIT,
                       Decimal(price), False, PRICES[symbol])


def per_tag(exchange: MemoryExchange) -> Counter[str]:
    return Counter(o.tag for o in exchange.orders())


def traded(manager: OrderManager, clock: SimClock) -> str:
    """An order that filled at once: the account has traded today. Returns its tag."""
    rec = manager.submit(buy(clock, "RELIANCE", "2990.00"))
    clock.advance(timedelta(seconds=5))
    manager.reconcile()
    assert manager.by_tag(rec.tag).status is LocalStatus.FILLED
    return rec.tag


def book_with_rows_but_not(fake: FakeKotak, client: KotakNeoBroker) -> bytes:
    """A read that succeeded with rows, none of them an order the store knows (a partial book)."""
    row = {"nOrdNo": "9900000001", "ordSt": "open", "trdSym": "TCS-EQ", "sym": "TCS", "tok": "11536",
           "exSeg": "nse_cm", "trnsTp": "S", "prcTp": "L", "prc": "4200.00", "qty": "1", "fldQty": "0",
           "avgPrc": "0.00", "GuiOrdId": "1735669800-000001-****-NEOWEB"}
    return json.dumps({"stat": "Ok", "stCode": 200, "data": [row]}).encode()


def test_1_a_stale_no_data_or_partial_book_never_proves_absence(manager, fake, client, exchange, clock, told):
    traded(manager, clock)
    fake.drop_next("place_order")
    rec = manager.submit(buy(clock, "M&M", "2900.00"))  # reached the exchange; its reply was lost
    assert rec.status is LocalStatus.UNKNOWN and per_tag(exchange)[rec.tag] == 1
    stale = [NO_DATA, b'{"stat": "Ok", "stCode": 200, "data": []}', book_with_rows_but_not(fake, client)]
    for i in range(12):  # every read for the next hour is stale: 5203, an empty list, a partial book
        clock.advance(timedelta(minutes=5))
        fake.serve_next("orders", 200, stale[i % 3])
        fake.serve_next("fills", 200, NO_DATA)
        manager.reconcile()
        assert per_tag(exchange)[rec.tag] == 1, "sent again on a stale book"
    assert manager.by_tag(rec.tag).status is LocalStatus.LOST and ("order_lost", rec.tag) in told
    clock.advance(timedelta(minutes=5))
    fake.serve_next("fills", 200, NO_DATA)  # the trade book read that `reconcile` does not make
    manager.reconcile()  # a fresh book shows it: resolved by its tag
    assert manager.by_tag(rec.tag).broker_order_id is not None and per_tag(exchange)[rec.tag] == 1


def test_7_a_tag_rewritten_by_a_manual_cancel_or_modify_never_proves_absence(manager, fake, exchange, clock, told):
    traded(manager, clock)
    fake.drop_next("place_order")
    cancelled = manager.submit(buy(clock, "M&M", "2900.00"))
    fake.drop_next("place_order")
    modified = manager.submit(buy(clock, "TCS", "4000.00"))
    assert {cancelled.status, modified.status} == {LocalStatus.UNKNOWN}
    ids = {o.tag: o.order_id for o in exchange.orders()}
    exchange.cancel_order(ids[cancelled.tag])
    fake.rewrite_tag(ids[cancelled.tag], cancel=True)  # by hand in the app: GuiOrdId becomes <tag>-<epoch>
    fake.rewrite_tag(ids[modified.tag], cancel=False)  # a modify by hand: <epoch>-<n>-****-ADMINAPI
    for _ in range(12):
        clock.advance(timedelta(minutes=5))
        manager.reconcile()
    assert per_tag(exchange)[cancelled.tag] == 1 and per_tag(exchange)[modified.tag] == 1
    done = manager.by_tag(cancelled.tag)
    assert (done.broker_order_id, done.status) == (ids[cancelled.tag], LocalStatus.CANCELLED)
    # the ADMINAPI row on TCS BUY, an order number the store does not know, may be ours: no proof, a person decides
    assert manager.by_tag(modified.tag).status is LocalStatus.LOST and ("order_lost", modified.tag) in told


def row(order_id: str, tag: str, status: str, filled: int, avg: str, *, qty: int = 10, price_type: str = "L",
        symbol: str = "M&M") -> dict[str, str]:
    """An order book row as Kotak sends it."""
    return {"nOrdNo": order_id, "ordSt": status, "trdSym": f"{symbol}-EQ", "sym": symbol, "exSeg": "nse_cm",
            "trnsTp": "B", "prcTp": price_type, "prc": "2900.00", "qty": str(qty), "fldQty": str(filled),
            "avgPrc": avg, "GuiOrdId": tag}


def book(*rows: dict[str, str]) -> bytes:
    return json.dumps({"stat": "Ok", "stCode": 200, "data": list(rows)}).encode()


@pytest.mark.parametrize("knobs", ["tag_guard=off,price_delay=10m"])
def test_2_a_fill_reported_before_its_price_is_held_then_priced_never_lost(manager, fake, exchange, store, clock,
                                                                         fills):
    rec = manager.submit(buy(clock, "M&M", "2900.00", qty=10))  # rests: the last price is 3010
    oid = rec.broker_order_id
    exchange.fill_part(oid, 4, Decimal("2850"))
    clock.advance(timedelta(minutes=1))
    manager.reconcile()  # fldQty 4, avgPrc "0.00"; the trade book does not show it yet
    held = manager.by_tag(rec.tag)
    assert (held.status, held.filled_quantity, _fills_of(store, rec.id)) == (LocalStatus.OPEN, 0, [])
    exchange.fill_part(oid, 6, Decimal("2850"))
    clock.advance(timedelta(minutes=1))
    manager.reconcile()  # "complete", fldQty 10, still no price: kept active, nothing recorded
    held = manager.by_tag(rec.tag)
    assert (held.status, held.filled_quantity, _fills_of(store, rec.id)) == (LocalStatus.OPEN, 0, [])
    clock.advance(timedelta(minutes=11))
    manager.reconcile()  # the price shows
    done = manager.by_tag(rec.tag)
    assert (done.status, done.filled_quantity, done.average_price) == (LocalStatus.FILLED, 10, Decimal("2850"))
    assert _fills_of(store, rec.id) == [(10, Decimal("2850"))] and [(f.quantity, f.price) for f in fills] == [
        (10, Decimal("2850"))]
    # a zero written with four places is no price, and a filled quantity that goes down is ignored
    other = manager.submit(buy(clock, "TCS", "4000.00", qty=10))
    fake.serve_next("orders", 200, book(row(other.broker_order_id, other.tag, "open", 3, "0.0000", symbol="TCS")))
    fake.serve_next("fills", 200, NO_DATA)
    manager.reconcile()
    assert (manager.by_tag(other.tag).filled_quantity, _fills_of(store, other.id)) == (0, [])
    fake.serve_next("orders", 200, book(row(other.broker_order_id, other.tag, "open", 5, "3990.00", symbol="TCS")))
    manager.reconcile()
    fake.serve_next("orders", 200, book(row(other.broker_order_id, other.tag, "open", 2, "3990.00", symbol="TCS")))
    manager.reconcile()
    assert manager.by_tag(other.tag).filled_quantity == 5 and _fills_of(store, other.id) == [(5, Decimal("3990"))]


def test_3_one_order_that_cannot_be_settled_never_stops_the_reconcile(service, exchange, clock, store, told):
    orders = service.context.orders
    old = orders.submit(buy(clock, "M&M", "2900.00"))  # a DAY buy that rests, then the service stops
    clock.advance(timedelta(days=1))  # the next session: the old order is gone from today's books
    new = orders.submit(buy(clock, "TCS", "4000.00"))
    exchange.holdings_fail = True  # every holdings read fails: the old order cannot be settled
    arm_at_start(service.context)
    exchange.fill(new.broker_order_id)
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        orders.reconcile()  # never raises: the failure is the old order's
    assert orders.by_tag(new.tag).status is LocalStatus.FILLED  # live orders still follow the book
    assert attention(store, clock)[old.tag].startswith("needs attention: recovery failed: BrokerUnavailable")
    assert [k for k, _ in told].count("order_attention") == 1  # told once, retried with backoff
    exchange.holdings_fail = False
    clock.advance(timedelta(minutes=20))
    orders.reconcile()
    done = orders.by_tag(old.tag)
    assert (done.status, done.reason) == (LocalStatus.CANCELLED, "expired") and old.tag not in attention(store, clock)


def test_4_an_empty_holdings_read_never_records_a_sale(service, fake, exchange, clock, store, told):
    ctx = service.context
    bought = ctx.orders.submit(buy(clock, "RELIANCE", "2990.00", qty=5))  # fills at once
    clock.advance(timedelta(seconds=5))
    ctx.orders.reconcile()
    assert ctx.orders.by_tag(bought.tag).status is LocalStatus.FILLED and ctx.portfolio.position("RELIANCE")
    sell = ctx.orders.submit(OrderIntent(ist_date(clock.now()), "place_sell_orders", "target", "RELIANCE", Side.SELL,
                                         5, OrderType.LIMIT, Decimal("3100.00"), False, PRICES["RELIANCE"]))
    clock.advance(timedelta(days=1))  # the sell expired at the close the service slept through
    arm_at_start(ctx)
    fake.serve_next("holdings", 200, b'{"data": []}')
    ctx.orders.reconcile()
    clock.advance(timedelta(minutes=1))
    fake.serve_next("holdings", 200, NO_DATA)
    ctx.orders.reconcile()
    assert ctx.portfolio.position("RELIANCE").quantity == 5  # the shares are still held
    assert ctx.orders.by_tag(sell.tag).status.is_active and sell.tag in attention(store, clock)
    assert ("order_attention", "SELL RELIANCE: attention") in told
    clock.advance(timedelta(minutes=3))
    ctx.orders.reconcile()  # holdings that read with rows show the shares: it expired
    done = ctx.orders.by_tag(sell.tag)
    assert (done.status, done.reason) == (LocalStatus.CANCELLED, "expired")
    assert ctx.portfolio.position("RELIANCE").quantity == 5


def test_5_auth_malformed_duplicate_and_foreign_replies(manager, fake, client, exchange, clock, store):
    traded(manager, clock)
    auth = b'{"stat": "Not_Ok", "error": [{"code": "10020", "message": "Authentication Failed"}]}'
    fake.serve_next("place_order", 400, auth)
    rec = manager.submit(buy(clock, "M&M", "2900.00"))
    assert rec.status is not LocalStatus.REJECTED and per_tag(exchange)[rec.tag] == 0  # re-login, then look it up
    clock.advance(timedelta(minutes=3))
    manager.reconcile()  # complete books without it: absence proven, sent once
    assert per_tag(exchange)[rec.tag] == 1
    seen: list[str] = []
    session = SessionManager(client, clock, on_event=lambda event, _d: seen.append(event))
    access = b'{"stCode": 100021, "errMsg": "invalid  access type", "stat": "Not_Ok"}'
    fake.serve_next("orders", 200, access)
    fake.serve_next("orders", 200, access)
    with pytest.raises(SessionExpired):
        session.orders()
    assert seen.count("login") == 2 and seen[-1] == "refused"  # re-logged in once, then a person is told
    fake.serve_next("place_order", 400, b'{"stCode": 1007, "errMsg": "body invalid", "stat": "bad request"}')
    bad = manager.submit(buy(clock, "TCS", "4000.00"))
    for _ in range(3):
        clock.advance(timedelta(minutes=3))
        manager.reconcile()
    assert manager.by_tag(bad.tag).status is LocalStatus.REJECTED and per_tag(exchange)[bad.tag] == 0
    fake.serve_next("place_order", 200, b'{"stat": "Not_Ok", "errMsg": "Put Order Response : Client OrderID '
                                        b'already exists", "stCode": 5204}')
    assert manager.submit(buy(clock, "BAJAJ-AUTO", "9000.00")).reason == "DuplicateTag"
    fake.serve_next("cancel_order", 400, b'{"error": [{"code": "91400", "message": "This feature is only '
                                         b'available for orders placed via our API"}]}')
    with pytest.raises(ForeignOrder):
        client.cancel_order("99000000001")


def test_6_a_row_with_an_unknown_price_type_or_field_keeps_its_order(manager, fake, exchange, clock, store):
    traded(manager, clock)
    rec = manager.submit(buy(clock, "M&M", "2900.00", qty=2))
    fake.drop_next("place_order")
    doubt = manager.submit(buy(clock, "TCS", "4000.00", qty=2))
    gone = manager.submit(buy(clock, "BAJAJ-AUTO", "9000.00", qty=2))
    clock.advance(timedelta(minutes=2))
    tcs = next(o for o in exchange.orders() if o.tag == doubt.tag)
    fake.serve_next("orders", 200, book(
        row(rec.broker_order_id, rec.tag, "complete", 2, "2890.00", qty=2, price_type="LMT"),
        {**row(tcs.order_id, doubt.tag, "open", 0, "0.00", qty=2, price_type="XYZ", symbol="TCS"),
         "prc": "n/a", "ordDtTm": "yesterday"},
        row(gone.broker_order_id, gone.tag, "canceled", 0, "0.00", qty=2, symbol="BAJAJ-AUTO")))
    manager.reconcile()
    done = manager.by_tag(rec.tag)
    assert (done.status, done.filled_quantity, _fills_of(store, rec.id)) == (LocalStatus.FILLED, 2,
                                                                           [(2, Decimal("2890"))])
    found = manager.by_tag(doubt.tag)
    assert found.broker_order_id == tcs.order_id and found.status is LocalStatus.OPEN  # identity kept, active
    assert manager.by_tag(gone.tag).status is LocalStatus.CANCELLED


def test_8_positions_come_from_quick_user_positions_with_carried_forward_amounts(exchange, clock, tmp_path):
    record = tmp_path / "requests.jsonl"
    with start_fake(exchange, clock, credentials=fake_credentials(8), record=record) as fake, \
            client_for(fake, clock, sleep=lambda _s: None, cache_dir=tmp_path / "cache") as client:
        client.login()
        fake.serve_next("positions", 200, json.dumps({"stat": "Ok", "stCode": 200, "data": [{
            "trdSym": "RELIANCE-EQ", "tok": "2885", "prod": "CNC", "flBuyQty": "2", "flSellQty": "0",
            "cfBuyQty": "5", "cfSellQty": "0", "buyAmt": "5900.00", "sellAmt": "0.00", "cfBuyAmt": "14500.00",
            "cfSellAmt": "0.00"}]}).encode())
        [position] = client.positions()
    assert (position.symbol, position.net_quantity, position.buy_amount) == ("RELIANCE", 7, Decimal("20400.00"))
    paths = [json.loads(line)["path"] for line in record.read_text().splitlines()]
    assert "/quick/user/positions" in paths


def _fills_of(store: Store, order_id: int) -> list[tuple[int, Decimal]]:
    with store.connect() as conn:
        rows = conn.execute(select(t.fills.c.quantity, t.fills.c.price).where(t.fills.c.order_id == order_id)).all()
    return [(r.quantity, r.price) for r in rows]
