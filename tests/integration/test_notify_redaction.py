"""No part of a notification URL's secrets reaches the log file, the console or the dashboard's /logs page, with
DEBUG logging (apprise and urllib3 log request URLs there) and a failing endpoint: the real notifier sends
through real apprise to a local server answering 500 (through a proxy for https channels) or a closed port."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.logs import setup_logging
from swingtrader.notify import Notifier
from swingtrader.store import Store
from swingtrader.store.db import sqlite_url
from swingtrader.web import create_app, start_web_in_thread

BOT_TOKEN = "7312345678:AAEkq9ZbXw3VfT0pLmN8sR2uY6hC4dJ1gEo"
CHAT_ID = "-1009876543210"
WEBHOOK_ID = "112233445566778899"
WEBHOOK_TOKEN = "dGhpc0lzQURpc2NvcmRXZWJob29rVG9rZW4xMjM0"
JSON_TOKEN = "jt5d2c9a7e31f04b8b"
MAIL_USER = "alertbot"
MAIL_PASSWORD = "Sm7pPa55w0rd"
SLACK = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7F1")
QUERY_KEY = "qk8f3e2d1c0b9a"


class _Fails(BaseHTTPRequestHandler):
    """Every request, proxied or direct, gets a 500."""

    def _fail(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_CONNECT = _fail

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def failing_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fails)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    for key in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    for key in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(key, f"http://127.0.0.1:{port}")  # the https channels' "internet" answers 500 too
    yield port
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_token_of_any_documented_scheme_reaches_the_log_the_console_or_the_logs_page(
    tmp_path, failing_server, monkeypatch, root_logger, capfd
):
    smtp = closed_port()
    urls = [
        f"tgram://{BOT_TOKEN}/{CHAT_ID}",
        f"discord://{WEBHOOK_ID}/{WEBHOOK_TOKEN}",
        f"json://127.0.0.1:{failing_server}/hooks/{JSON_TOKEN}?key={QUERY_KEY}",
        f"mailto://{MAIL_USER}:{MAIL_PASSWORD}@127.0.0.1:{smtp}?from=bot@example.com&to=ops@example.com",
        f"mailtos://{MAIL_USER}:{MAIL_PASSWORD}@127.0.0.1:{smtp}?from=bot@example.com&to=ops@example.com",
        "slack://" + "/".join(SLACK) + "/#alerts",
    ]
    for key in [k for k in os.environ if k.upper().startswith("SWINGTRADER_")]:
        monkeypatch.delenv(key)
    settings = load_settings(data_dir=tmp_path, log_level="DEBUG", notify_urls=", ".join(urls))
    redactor = setup_logging(settings)
    notifier = Notifier(urls, redact=redactor.redact, clock=SimClock(datetime(2024, 7, 1, 16, 0, tzinfo=IST)))
    notifier.notify("task_failed", "analysis failed", "no bar for 2024-07-01")
    assert notifier.close(60.0), "the notifier did not finish"
    for handler in root_logger.handlers:
        handler.flush()

    log_text = (tmp_path / "logs" / "swingtrader.log").read_text()
    console = capfd.readouterr()
    store = Store.open(sqlite_url(tmp_path / "dash.sqlite"))
    app = create_app(store, settings=SimpleNamespace(web_password=None, kill_switch=False,
                                                     effective_log_dir=tmp_path / "logs", web_host="127.0.0.1",
                                                     web_allowed_hosts=[]), read_only=True)
    handle = start_web_in_thread(app, "127.0.0.1", 0)
    try:
        page = httpx.get(f"{handle.url}/logs", timeout=10).text + httpx.get(f"{handle.url}/api/logs", timeout=10).text
    finally:
        handle.stop()
        store.dispose()

    assert "not delivered" in log_text  # the endpoint really failed, through the real code path
    assert "apprise" in log_text and "DEBUG" in log_text  # third-party DEBUG records were written
    secrets = [BOT_TOKEN, BOT_TOKEN.split(":")[1], CHAT_ID, WEBHOOK_ID, WEBHOOK_TOKEN, JSON_TOKEN, MAIL_PASSWORD,
               QUERY_KEY, *SLACK]
    for where, text in (("log file", log_text), ("stdout", console.out), ("stderr", console.err), ("/logs", page)):
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{where} shows {leaked}"
