"""A real headless Chromium (Debian's, driven by Playwright) opens every page of `swingtrader dashboard` over a
store filled by a real simulation, finds figures the store holds, and saves screenshots under
test-output/dashboard/. A second test clicks the action buttons of a service's dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Three weeks of the bundled Nifty 50 sample through `simulate`, served by `swingtrader dashboard`."""
    db = tmp_path_factory.mktemp("sim") / "sim.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")}
    swingtrader = [sys.executable, "-m", "swingtrader"]
    done = subprocess.run([*swingtrader, "simulate", "--start", "2024-03-01", "--end", "2024-03-22", "--data",
                           "bundled", "--db", str(db)], capture_output=True, text=True, env=env, cwd=db.parent,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    port = _free_port()
    server = subprocess.Popen([*swingtrader, "dashboard", "--db", str(db), "--port", str(port)], env=env,
                              cwd=db.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "read-only" in server.stdout.readline()
        yield f"http://127.0.0.1:{port}", db
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
        server.stderr.close()


def test_every_page_in_a_real_browser(browser, simulated) -> None:
    url, db = simulated
    store = Store.open(sqlite_url(db), migrate=False)
    with store.connect() as conn:
        trade = conn.execute(select(t.trades).order_by(t.trades.c.id)).first()
        last_day = conn.execute(select(func.max(t.task_runs.c.trading_date))).scalar()
        analysis = conn.execute(select(t.task_runs).where(
            t.task_runs.c.task == "analysis", t.task_runs.c.trading_date == last_day)).first()
        holding = conn.execute(select(t.positions.c.symbol).where(t.positions.c.status == "open")).scalar()
    store.dispose()
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(f"{url}/")
    assert page.locator("h2", has_text="Plan for").inner_text().startswith(f"Plan for {last_day}")
    row = page.locator("#plan tr", has_text="analysis")
    assert row.locator(".badge").inner_text() == analysis.status
    assert row.locator("td").nth(1).inner_text() == analysis.slot
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "overview.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"overview screenshot: {shot}")
    for name in ("orders", "positions", "trades", "analysis", "tasks", "logs"):
        page.click(f"header nav >> text={name.capitalize()}")
        assert page.locator("h1").inner_text() == name.capitalize()
        page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)

    page.goto(f"{url}/trades")
    net = Decimal(trade.net_pnl)
    text = page.locator("#trades tr", has_text=trade.symbol).first.inner_text()
    assert (("+" if net > 0 else "") + money(net)) in text
    assert page.locator("svg.equity:not(.vs-benchmark) polyline").count() == 1  # cumulative net P&L
    assert page.locator("svg.vs-benchmark polyline").count() == 2  # the simulation's equity and its benchmark
    page.goto(f"{url}/positions")
    assert holding is None or holding in page.locator("main table").inner_text()
    page.goto(f"{url}/tasks")
    page.select_option("select[name=task]", "analysis")
    page.click("text=Filter")
    first = page.locator("#ledger tbody tr").first.inner_text()
    assert str(last_day) in first and analysis.status in first
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
