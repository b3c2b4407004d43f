"""`SWINGTRADER_PAPER_PRICES=broker`: the paper exchange fills on the real Kotak client's quotes, served over HTTP
by the fake Kotak server (whose quotes are its own exchange's prices), and never sends the broker an order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.broker.base import OrderRequest, OrderStatus, OrderType, Side
from swingtrader.broker.kotak_neo.harness import start_fake
from swingtrader.broker.paper import PaperBroker
from swingtrader.clock import SimClock
from swingtrader.config import Settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.runtime import make_broker
from swingtrader.service import paper_path
from swingtrader.store import Store
from swingtrader.store.state import ServiceState
from tests.integration.kotak_support import MemoryExchange
from tests.unit.paper_fixtures import BARS, at

MON = date(2024, 7, 1)  # AAA's bar: open 101, low 99, high 104, close 103 (an up day); previous close 100
ORDER_PATHS = ("quick/order/rule/ms/place", "quick/order/vr/modify", "quick/order/cancel")


class Market:
    """The paper exchange with `paper_prices=broker`, the fake Kotak server quoting `broker.prices`."""

    def __init__(self, tmp: Path) -> None:
        calendar = TradingCalendar.load(cache_dir=tmp / "cal")
        (tmp / "bars").mkdir()
        (tmp / "bars" / "AAA.csv").write_text(BARS)
        bars = self.bars = open_bar_source(str(tmp / "bars"))
        self.calendar = calendar
        self.clock = SimClock(at(MON, 10, 0))
        self.broker = MemoryExchange(self.clock, {"AAA": Decimal("97.35")})
        self.record = tmp / "requests.jsonl"
        self.fake = start_fake(self.broker, self.clock, symbols=["AAA"], record=self.record)
        c = self.fake.credentials
        settings = Settings(
            data_dir=tmp / "var", paper_prices="broker", paper_max_quote_age_seconds=120,
            kotak_login_url=self.fake.url, kotak_consumer_key=c.consumer_key, kotak_mobile_number=c.mobile_number,
            kotak_ucc=c.ucc, kotak_totp_secret=c.totp_secret, kotak_mpin=c.mpin, kotak_reads_per_second=1000,
        )
        self.store = Store.open(f"sqlite:///{tmp / 'paper.sqlite'}")
        paper = make_broker(settings, self.store, self.clock, bars, calendar)  # what `run` builds in paper mode
        assert isinstance(paper, PaperBroker)
        self.paper = paper
        self.paper.login()

    def buy(self, limit: str, tag: str) -> str:
        return self.paper.place_order(OrderRequest("AAA", Side.BUY, 10, OrderType.LIMIT, Decimal(limit), tag))

    def status(self, order_id: str) -> tuple[OrderStatus, Decimal | None]:
        [order] = [o for o in self.paper.orders() if o.order_id == order_id]
        return order.status, order.average_price

    def requests(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def close(self) -> None:
        self.fake.stop()
        self.store.dispose()


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    m = Market(tmp_path)
    yield m
    m.close()


def test_a_marketable_limit_fills_at_the_quote_not_the_bar_price(market: Market) -> None:
    bar_path = paper_path(market.bars, market.calendar)
    assert bar_path.price_at("AAA", MON, at(MON, 10, 0)) == Decimal("100.28")  # on bars, 99.00 would rest
    order_id = market.buy("99.00", "B1")  # the broker quotes 97.35: crossed
    assert market.status(order_id) == (OrderStatus.FILLED, Decimal("97.35"))
    [fill] = market.paper.fills()
    assert (fill.price, fill.at) == (Decimal("97.35"), at(MON, 10, 0))
    assert market.paper.quotes(["AAA"])["AAA"].ltp == Decimal("97.35")
    assert not [r for r in market.requests() if str(r["path"]).endswith(ORDER_PATHS)]
    assert any("quotes" in str(r["path"]) for r in market.requests())


def test_a_resting_limit_fills_at_its_limit_when_a_quote_crosses_it(market: Market) -> None:
    order_id = market.buy("95.00", "B2")
    assert market.status(order_id) == (OrderStatus.OPEN, None)
    market.clock.advance(timedelta(minutes=1))
    market.broker.prices["AAA"] = Decimal("95.40")  # near, not through
    assert market.status(order_id) == (OrderStatus.OPEN, None)
    market.clock.advance(timedelta(minutes=1))
    market.broker.prices["AAA"] = Decimal("94.80")
    assert market.status(order_id) == (OrderStatus.FILLED, Decimal("95.00"))
    assert market.paper.cash() < Decimal("1000000") - Decimal("950")
    paths = [str(r["path"]) for r in market.requests()]
    assert not [p for p in paths if p.endswith(ORDER_PATHS)] and sum("quotes" in p for p in paths) >= 3


def test_no_fill_on_stale_quotes_then_a_fill_once_they_are_fresh(market: Market) -> None:
    assert market.paper.quotes(["AAA"])["AAA"].ltp == Decimal("97.35")  # seen at 10:00
    del market.broker.prices["AAA"]  # the broker stops quoting AAA
    market.clock.advance(timedelta(minutes=3))  # the 10:00 quote is 180 s old: stale
    order_id = market.buy("99.00", "B3")  # would cross 97.35
    assert market.status(order_id) == (OrderStatus.OPEN, None)
    assert market.paper.quotes(["AAA"]) == {}
    quotes = ServiceState(market.store).quotes()
    assert quotes is not None and quotes.at == at(MON, 10, 0) and quotes.stale(market.clock.now())
    market.clock.advance(timedelta(minutes=1))
    market.broker.prices["AAA"] = Decimal("98.10")
    assert market.status(order_id) == (OrderStatus.FILLED, Decimal("98.10"))
    quotes = ServiceState(market.store).quotes()
    assert quotes is not None and quotes.at == at(MON, 10, 4) and not quotes.stale(market.clock.now())
    assert not [r for r in market.requests() if str(r["path"]).endswith(ORDER_PATHS)]


def swingtrader(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWINGTRADER_")}
    return subprocess.run([sys.executable, "-m", "swingtrader", *args], cwd=cwd, env=clean | env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["check-config"], ["run"]])
def test_broker_prices_without_credentials_exit_2_naming_them(tmp_path: Path, command: list[str]) -> None:
    result = swingtrader(tmp_path, *command, SWINGTRADER_PAPER_PRICES="broker", SWINGTRADER_KOTAK_UCC="ZQ7K3",
                         SWINGTRADER_KOTAK_MPIN="482913", SWINGTRADER_DATA_DIR=str(tmp_path / "var"),
                         SWINGTRADER_WEB_ENABLED="false")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    named = ["SWINGTRADER_KOTAK_CONSUMER_KEY", "SWINGTRADER_KOTAK_MOBILE_NUMBER", "SWINGTRADER_KOTAK_TOTP_SECRET"]
    assert [n for n in named if n not in result.stderr] == []
    assert "SWINGTRADER_KOTAK_UCC" not in result.stderr and "SWINGTRADER_KOTAK_MPIN" not in result.stderr
    assert "482913" not in result.stdout + result.stderr
    assert not (tmp_path / "var" / "swingtrader.sqlite").exists()


def test_the_quotes_age_shows_on_the_dashboard_and_in_status(market: Market, tmp_path: Path) -> None:
    import httpx

    from swingtrader.web import create_app, start_web_in_thread

    market.buy("99.00", "B4")  # fills at 10:00 on the quote seen then
    market.clock.advance(timedelta(minutes=1, seconds=30))
    handle = start_web_in_thread(create_app(market.store, read_only=True, clock=market.clock), "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            quotes = client.get("/api/overview").json()["quotes"]
            assert (quotes["age_s"], quotes["max_age_s"], quotes["stale"]) == (90.0, 120, False)
            market.clock.advance(timedelta(minutes=1))
            page = client.get("/").text
    finally:
        handle.stop()
    card = page[page.index('id="quotes"'):page.index("</div>\n  </div>", page.index('id="quotes"'))]
    assert "Paper prices (broker quotes)" in card and "2024-07-01 10:00:00" in card
    assert "older than 120 s: paper fills are refused" in card
    result = swingtrader(tmp_path, "status", SWINGTRADER_DATABASE_URL=f"sqlite:///{tmp_path / 'paper.sqlite'}")
    assert result.returncode == 0, result.stderr
    assert ("paper prices: broker quotes of 2024-07-01 10:00:00 IST" in result.stdout
            and "stale (over 120 s), no paper fills" in result.stdout)  # status reads the wall clock: long stale
