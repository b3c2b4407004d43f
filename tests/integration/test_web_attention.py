"""What needs a person, shown on the dashboard through real HTTP requests: lost orders (overview and orders page),
order statuses Kotak sent that we do not know (from the running service's session manager, over the real Kotak
client against the fake server), the age of the paper prices, and the one login breaker reset after three refused
logins by the dashboard's re-login and through the owner's control endpoint (`broker-check --reset-login`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from swingtrader.broker.base import LoginFailed
from swingtrader.broker.kotak_neo.fake_exchange import UNDOCUMENTED_STATUS
from swingtrader.broker.kotak_neo.harness import FakeKotak, client_for, fake_credentials, start_fake
from swingtrader.clock import SimClock
from swingtrader.config import load_settings
from swingtrader.control import LiveControl
from swingtrader.control_server import request_reset_login
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.owner import start_control
from swingtrader.service import ClockMode, Service, build_service
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.lease import Lease, current
from swingtrader.store.state import ServiceState
from swingtrader.web import create_app, start_web_in_thread
from tests.integration.kotak_support import MemoryExchange, sim_clock
from tests.integration.test_web_pages import DAYS, NOW, at, fill_store

PASSWORD = "correct-horse-battery-staple"
LOST_SINCE = at(DAYS[2], 9, 47, 12)


def _lose_an_order(store: Store) -> None:
    """A buy whose send went unanswered and that no read proved present or absent by its deadline."""
    with store.begin() as conn:
        oid = conn.execute(t.orders.insert().values(
            tag="ST240306PBB00007", trading_date=DAYS[2], task="premarket_retry", purpose="entry", symbol="M&M",
            side="BUY", quantity=17, order_type="LIMIT", price=Decimal("1874.35"), amo=False, status="lost",
            filled_quantity=0, reason="no proof either way after 4 lookups", created_at=at(DAYS[2], 9, 0, 2),
            updated_at=LOST_SINCE + timedelta(minutes=5))).inserted_primary_key[0]
        conn.execute(t.order_events.insert(), [
            {"order_id": oid, "at": at(DAYS[2], 9, 0, 2), "event": "created", "status": "sending", "detail": None},
            {"order_id": oid, "at": at(DAYS[2], 9, 0, 3), "event": "ambiguous", "status": "unknown", "detail": None},
            {"order_id": oid, "at": LOST_SINCE, "event": "lost", "status": "lost", "detail": None},
        ])


class Settings:
    """The settings the app reads (the real `Settings` needs a full environment)."""

    def __init__(self, log_dir: Path, max_age: int) -> None:
        self.web_password = None
        self.effective_log_dir = log_dir
        self.kill_switch = False
        self.paper_max_price_age_days = max_age


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[httpx.Client, Store]]:
    """The read-only `dashboard --db` view of a store with a lost order and prices 3 trading days old."""
    store = Store.open(sqlite_url(tmp_path / "attention.sqlite"))
    fill_store(store)
    _lose_an_order(store)
    ServiceState(store).set_prices(DAYS[2] - timedelta(days=6), 3, at(DAYS[2], 9, 14))
    handle = start_web_in_thread(create_app(store, settings=Settings(tmp_path, 1), read_only=True,
                                            clock=SimClock(NOW)), "127.0.0.1", 0)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, store
    handle.stop()
    store.dispose()


def test_lost_orders_are_listed_on_the_overview_and_the_orders_page(read_only) -> None:
    client, _ = read_only
    overview = client.get("/api/overview").json()
    (lost,) = overview["lost_orders"]
    assert datetime.fromisoformat(lost.pop("since")) == LOST_SINCE  # the time of its `lost` event
    assert lost == {"id": lost["id"], "tag": "ST240306PBB00007", "trading_date": "2024-03-06", "symbol": "M&M",
                    "side": "BUY", "quantity": 17, "price": "1874.35", "reason": "no proof either way after 4 lookups"}
    assert overview["open_orders"] == 2  # the lost buy may be working at the broker: it counts as open
    assert overview["unknown_statuses"] == {}  # a read-only dashboard has no session to ask
    page = client.get("/").text
    block = page[page.index('id="lost-orders"'):page.index("</section>", page.index('id="lost-orders"'))]
    for needle in ("1 lost order: a person must decide", "ST240306PBB00007", "M&amp;M", "BUY", ">17<",
                   "2024-03-06 09:47:12", "no proof either way after 4 lookups"):
        assert needle in block, needle
    assert page.index('id="lost-orders"') < page.index('class="cards"')  # first thing on the page
    assert 'href="/orders?status=lost" class="bad">1 lost' in page
    assert 'id="unknown-statuses"' not in page
    orders = client.get("/orders", params={"page": 1, "status": "filled"}).text  # on every listing of orders
    assert 'id="lost-orders"' in orders and "2024-03-06 09:47:12" in orders
    listing = client.get("/orders").text
    assert '<tr class="lost">' in listing and 'class="badge s-lost">lost' in listing
    assert client.get("/api/orders").json()["lost"][0]["tag"] == "ST240306PBB00007"


def test_without_lost_orders_there_is_no_warning(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "calm.sqlite"))
    fill_store(store)
    handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(NOW)), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            assert client.get("/api/overview").json()["lost_orders"] == []
            assert 'id="lost-orders"' not in client.get("/").text
            assert 'id="lost-orders"' not in client.get("/orders").text
            assert 'id="prices"' not in client.get("/").text  # no service published its prices
    finally:
        handle.stop()
        store.dispose()


def test_paper_prices_show_their_age_and_warn_when_older_than_the_setting(read_only) -> None:
    client, store = read_only
    prices = client.get("/api/overview").json()["prices"]
    assert prices == {"as_of": "2024-02-29", "age_days": 3, "at": "2024-03-06T09:14:00+05:30", "max_age_days": 1,
                      "stale": True}
    page = client.get("/").text
    card = page[page.index('id="prices"'):page.index("</div>\n  </div>", page.index('id="prices"'))]
    assert "Paper prices" in card and 'class="v bad">3 trading days old' in card and "bars of 2024-02-29" in card
    assert "older than 1 trading day: paper fills are refused" in card
    ServiceState(store).set_prices(DAYS[1], 1, at(DAYS[2], 9, 15))  # the refresh found the day before's bars
    assert client.get("/api/overview").json()["prices"]["stale"] is False
    page = client.get("/").text
    assert 'class="v ok">1 trading day old' in page and "paper fills are refused" not in page


# ---- the running service: its session manager over the real Kotak client and the fake server ----------------
@dataclass
class Running:
    client: httpx.Client
    service: Service
    fake: FakeKotak
    clock: SimClock

    def act(self, path: str) -> httpx.Response:
        token = self.client.get("/api/csrf", auth=("me", PASSWORD)).json()["token"]
        return self.client.post(path, auth=("me", PASSWORD), headers={"X-CSRF-Token": token})


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    clock = sim_clock()
    exchange = MemoryExchange(clock, {"RELIANCE": Decimal("2950.50"), "M&M": Decimal("3010.00")})
    settings = load_settings(None, data_dir=tmp_path, web_password=PASSWORD)
    store = Store.open(sqlite_url(tmp_path / "service.sqlite"))
    with (start_fake(exchange, clock, credentials=fake_credentials(8), faults="status_noise=1,seed=4") as fake,
          client_for(fake, clock, timeout=2.0, cache_dir=tmp_path / "cache") as kotak):
        service = build_service(settings, clock=clock, clock_mode=ClockMode.VIRTUAL,
                                calendar=TradingCalendar.load(cache_dir=tmp_path / "cache"), store=store,
                                bars=open_bar_source("synthetic"), broker=kotak)
        app = create_app(store, settings=settings, control=LiveControl(service, "live"), clock=clock)
        handle = start_web_in_thread(app, "127.0.0.1", 0)
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            yield Running(client, service, fake, clock)
        handle.stop()
    store.dispose()


def test_statuses_kotak_sent_that_we_do_not_know_show_on_the_overview(running: Running) -> None:
    auth = ("me", PASSWORD)
    assert running.client.get("/api/overview", auth=auth).json()["unknown_statuses"] == {}
    assert 'id="unknown-statuses"' not in running.client.get("/", auth=auth).text
    book = running.service.broker.orders()  # hand-placed orders in the book: statuses beyond ours
    assert any(o.tag and o.tag.endswith("NEOWEB") for o in book)
    shown = running.client.get("/api/overview", auth=auth).json()["unknown_statuses"]
    assert UNDOCUMENTED_STATUS in shown and shown == running.service.broker.unknown_statuses()
    page = running.client.get("/", auth=auth).text
    block = page[page.index('id="unknown-statuses"'):page.index("</section>", page.index('id="unknown-statuses"'))]
    assert f'<span class="mono">{UNDOCUMENTED_STATUS}</span>' in block
    assert f"seen {shown[UNDOCUMENTED_STATUS]} time" in block


def test_three_refused_logins_then_the_dashboards_relogin_logs_in(running: Running) -> None:
    for _ in range(3):
        running.fake.serve_next("login", 400, b'{"error": [{"code": "10522", "message": "Invalid TOTP"}]}')
    session = running.service.broker
    for _ in range(3):
        with pytest.raises(LoginFailed, match="Invalid TOTP"):
            session.login()
        running.clock.advance(timedelta(seconds=30))
    with pytest.raises(LoginFailed, match="human checks"):
        session.funds()  # the breaker is open: no call reaches the broker
    assert session.login_blocked and session.session is None
    assert running.act("/api/actions/relogin").json() == {"ok": True, "action": "relogin"}
    state = _until_logged_in(running)
    assert state["logged_in"] is True and state["logins_today"] == 1 and not session.login_blocked
    assert session.funds().available_cash > 0


def _until_logged_in(running: Running, limit_s: float = 20) -> dict[str, Any]:
    """The re-login runs in its own thread: wait for its outcome (bounded), not for a time."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        state = running.client.get("/api/overview", auth=("me", PASSWORD)).json()["session"]
        if state["logged_in"]:
            return state
        time.sleep(0.05)
    raise AssertionError("the dashboard's re-login did not log in")



def test_the_owners_control_endpoint_resets_its_login_breaker(running: Running, tmp_path: Path) -> None:
    """What `broker-check --reset-login` asks of the running service: the owner's control endpoint
    (`owner.start_control`, as `run` starts it) resets the service's one breaker, then a login goes through."""
    service, settings = running.service, running.service.settings
    lease = Lease(service.store, running.clock, mode="paper", expiry=timedelta(seconds=60))
    lease.acquire()
    control = start_control(service, lease, settings)
    try:
        url = current(service.store).control_url
        assert url and url.startswith("http://127.0.0.1:")
        for _ in range(3):
            running.fake.serve_next("login", 400, b'{"error": [{"code": "10522", "message": "Invalid TOTP"}]}')
            with pytest.raises(LoginFailed, match="Invalid TOTP"):
                service.broker.login()
            running.clock.advance(timedelta(seconds=30))
        assert service.broker.login_blocked
        (tmp_path / "elsewhere").mkdir()
        with pytest.raises(OSError):  # no token file: nobody else's process may ask
            request_reset_login(url, tmp_path / "elsewhere")
        assert service.broker.login_blocked
        assert request_reset_login(url, settings.data_dir) == (200, {"was_blocked": True})
        assert not service.broker.login_blocked
        assert service.broker.login().expires_at > running.clock.now()
        assert request_reset_login(url, settings.data_dir) == (200, {"was_blocked": False})
    finally:
        control.stop()
        lease.release()
