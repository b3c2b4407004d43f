"""The dashboard answers only requests addressed to it (DNS rebinding) and refuses cross-origin posts; a huge page
number is a clean 400. Real uvicorn on 127.0.0.1, real HTTP requests."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from swingtrader.store import Store
from swingtrader.store.db import sqlite_url
from swingtrader.web import create_app, start_web_in_thread


@pytest.fixture
def dashboard(tmp_path) -> Iterator[httpx.Client]:
    store = Store.open(sqlite_url(tmp_path / "hosts.sqlite"))
    settings = SimpleNamespace(web_password=None, kill_switch=False, effective_log_dir=tmp_path,
                               web_host="127.0.0.1", web_allowed_hosts=["trader.lan"])
    handle = start_web_in_thread(create_app(store, settings=settings, read_only=True), "127.0.0.1", 0)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client
    handle.stop()
    store.dispose()


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "localhost.evil",
                                  "10.1.2.3", ""])
def test_a_foreign_host_header_is_refused(dashboard, host):
    for path in ("/api/positions", "/api/logs", "/healthz"):
        response = dashboard.get(path, headers={"Host": host})
        assert response.status_code == 421, (path, host)
        assert "RELIANCE" not in response.text and "unknown Host" in response.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8765", "LOCALHOST", "[::1]:8765", "trader.lan:80"])
def test_the_bind_address_loopback_names_and_the_setting_are_served(dashboard, host):
    response = dashboard.get("/api/positions", headers={"Host": host})
    assert response.status_code == 200, host


def test_a_post_from_a_foreign_origin_is_refused_and_a_same_origin_one_reaches_the_guard(dashboard):
    refused = dashboard.post("/api/actions/pause", headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and refused.text == "cross-origin request refused"
    refused = dashboard.post("/api/actions/pause", headers={"Origin": "null"})
    assert refused.status_code == 403 and refused.text == "cross-origin request refused"
    local = dashboard.post("/api/actions/pause", headers={"Origin": str(dashboard.base_url).rstrip("/")})
    assert local.status_code != 421 and local.text != "cross-origin request refused"  # the read-only guard answers
    assert "read-only" in local.text


@pytest.mark.parametrize("page", ["99999999999999999999", "1000000001", "0", "-1", "x"])
def test_an_out_of_range_page_is_a_400(dashboard, page):
    for path in ("/tasks", "/api/tasks", "/api/orders"):
        response = dashboard.get(path, params={"page": page})
        assert response.status_code == 400, (path, page)
        assert "page must be a whole number from 1 to" in response.text


def test_the_last_allowed_page_is_served_empty(dashboard):
    response = dashboard.get("/api/tasks", params={"page": str(10**9)})
    assert response.status_code == 200
