"""A real headless Chromium (Debian's, driven by Playwright) opens every dashboard page over a filled store,
finds figures the store holds, and saves a screenshot of the overview under test-output/dashboard/."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from swingtrader.clock import SimClock
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.web import create_app, start_web_in_thread
from swingtrader.web.format import money
from tests.integration.test_web_actions import PASSWORD, RecordingControl, Settings
from tests.integration.test_web_pages import NOW, fill_store

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    store = Store.open(sqlite_url(tmp_path / "dash.sqlite"))
    fill_store(store)
    handle = start_web_in_thread(create_app(store, read_only=True, clock=SimClock(NOW)), "127.0.0.1", 0)
    yield handle.url, store
    handle.stop()
    store.dispose()


def test_every_page_in_a_real_browser(browser, dashboard) -> None:
    url, store = dashboard
    with store.connect() as conn:
        trade = conn.execute(select(t.trades).order_by(t.trades.c.id)).first()
        failed = conn.execute(select(t.task_runs).where(t.task_runs.c.status == "failed")
                              .order_by(t.task_runs.c.id)).first()
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{url}/")
    plan = page.locator("#plan")
    assert plan.locator("tr", has_text="monitor_sell_orders").locator(".badge").first.inner_text() == "failed"
    assert "position_monitor" in plan.inner_text()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"overview screenshot: {shot}")
    for name in ("orders", "positions", "trades", "analysis", "logs"):
        page.click(f"header nav >> text={name.capitalize()}")
        assert page.locator("h1").inner_text() == name.capitalize()
        page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)

    page.goto(f"{url}/trades")
    row = page.locator("#trades tr", has_text=trade.symbol)
    net = Decimal(trade.net_pnl)
    assert (("+" if net > 0 else "") + money(net)) in row.inner_text()
    assert page.locator("svg.equity polyline").count() == 1

    page.goto(f"{url}/tasks")
    page.select_option("select[name=status]", "failed")
    page.click("text=Filter")
    ledger = page.locator("#ledger").inner_text()
    assert failed.task in ledger and failed.error in ledger and "failed" in ledger
    page.screenshot(path=str(OUTPUT / "tasks.png"), full_page=True)
    assert errors == []



def test_the_pause_button_posts_with_credentials_and_the_csrf_token(browser, tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "act.sqlite"))
    fill_store(store)
    control = RecordingControl()
    app = create_app(store, settings=Settings(PASSWORD, tmp_path), control=control, clock=SimClock(NOW))
    handle = start_web_in_thread(app, "127.0.0.1", 0)
    context = browser.new_context(http_credentials={"username": "me", "password": PASSWORD})
    try:
        page = context.new_page()
        page.goto(f"{handle.url}/")
        page.click("text=Pause new orders")
        page.wait_for_selector("#action-result:has-text('done: pause')")
        page.select_option("#task-select", "analysis")
        page.click("text=Run task now")
        page.wait_for_selector("#action-result:has-text('done: run-task analysis')")
        assert control.calls == ["pause", "run:analysis"]
        page.screenshot(path=str(OUTPUT / "overview-actions.png"), full_page=True)
    finally:
        context.close()
        handle.stop()
        store.dispose()
