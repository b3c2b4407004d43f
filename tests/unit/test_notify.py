"""Notifications through real apprise `json://` URLs to loopback HTTP servers started here."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from swingtrader.clock import IST, SimClock
from swingtrader.logs import RedactionFilter
from swingtrader.notify import Notifier

SECRET = "kotak-mpin-4811-and-access-token-zzz"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0cmFkZXIifQ.c2lnbmF0dXJlLXBhcnQ"


class Receiver:
    """An HTTP endpoint that records the JSON bodies posted to it (optionally after a delay)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.raw: list[str] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                time.sleep(delay)
                text = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.arrived:
                    receiver.raw.append(text)
                    receiver.bodies.append(json.loads(text))
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"json://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n: int, timeout: float = 10) -> list[dict]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.bodies) >= n, timeout), f"got {len(self.bodies)} of {n}"
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock() -> SimClock:
    return SimClock(datetime(2024, 3, 6, 16, 30, tzinfo=IST))


def make(urls: list[str], clock: SimClock, **kwargs: float) -> Notifier:
    return Notifier(urls, redact=RedactionFilter([SECRET]).redact, clock=clock, **kwargs)


def test_failure_fill_and_summary_arrive_without_secrets(receiver: Receiver, clock: SimClock) -> None:
    notifier = make([receiver.url], clock)
    notifier.notify("task_failed", "analysis failed", f"2024-03-06 16:00: login with {SECRET} refused")
    notifier.notify("order_filled", "BUY RELIANCE: filled", f"35 @ 2845.50 (session {JWT})")
    notifier.notify("daily_summary", "swingtrader 2024-03-06", "net P&L +1,954.75; 1 position; 0 failures")
    assert notifier.close(10)
    bodies = receiver.wait_for(3)
    assert [(b["type"], b["title"]) for b in bodies] == [
        ("failure", "analysis failed"), ("success", "BUY RELIANCE: filled"), ("info", "swingtrader 2024-03-06")]
    assert "***" in bodies[0]["message"] and "net P&L +1,954.75" in bodies[2]["message"]
    for raw in receiver.raw:
        assert SECRET not in raw and JWT not in raw


def test_identical_alerts_are_collapsed_and_counted(receiver: Receiver, clock: SimClock) -> None:
    notifier = make([receiver.url], clock, collapse_seconds=600)
    for _ in range(4):
        notifier.notify("task_failed", "monitor_sell_orders failed", "BrokerUnavailable")
        clock.advance(timedelta(seconds=60))
    notifier.notify("order_rejected", "BUY TCS: rejected", "insufficient funds")  # another alert is not collapsed
    clock.advance(timedelta(minutes=10))
    notifier.notify("task_failed", "monitor_sell_orders failed", "BrokerUnavailable")
    assert notifier.close(10)
    bodies = receiver.wait_for(3)
    assert [b["title"] for b in bodies] == ["monitor_sell_orders failed", "BUY TCS: rejected",
                                            "monitor_sell_orders failed"]
    assert "also 3 more time(s) in the 10 minutes" in bodies[2]["message"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failing_or_slow_channel_never_delays_the_caller(clock: SimClock) -> None:
    slow = Receiver(delay=2.0)
    try:
        notifier = make([f"json://127.0.0.1:{_closed_port()}/down", slow.url], clock, queue_size=5)
        worst = 0.0
        for i in range(20):  # more than the queue holds: the overflow is dropped, not waited for
            started = time.perf_counter()
            notifier.notify("task_failed", f"task {i} failed", "boom")
            worst = max(worst, time.perf_counter() - started)
        assert worst < 0.05
        assert notifier.dropped > 0
        assert slow.wait_for(1)[0]["title"] == "task 0 failed"
        assert notifier.close(0.1) is False  # still busy with the slow channel: close gives up on time
    finally:
        slow.close()


def test_an_unknown_kind_is_sent_as_info(receiver: Receiver, clock: SimClock) -> None:
    notifier = make([receiver.url], clock)
    notifier.notify("something_new", "hello", "world")
    assert notifier.close(10)
    assert [(b["type"], b["title"]) for b in receiver.wait_for(1)] == [("info", "hello")]


def test_without_urls_it_is_a_no_op(clock: SimClock) -> None:
    notifier = make([], clock)
    notifier.notify("order_filled", "x", "y")
    assert notifier.close(1) and notifier.dropped == 0


def test_the_secret_parts_of_a_notification_url_are_listed_and_plain_words_are_not() -> None:
    from swingtrader.notify_secrets import url_secrets

    tg = url_secrets("tgram://7312345678:AAEkq9ZbXw3VfT0pLmN8sR2uY6hC4dJ1gEo/-100987654")
    assert {"7312345678:AAEkq9ZbXw3VfT0pLmN8sR2uY6hC4dJ1gEo", "-100987654"} <= set(tg)
    mail = url_secrets("mailtos://alertbot:pa%2Fss99@smtp.example.com:587?to=ops@example.com&format=html")
    assert {"pa%2Fss99", "pa/ss99", "alertbot", "ops@example.com"} <= set(mail)
    assert not {"smtp.example.com", "html", "587"} & set(mail)
    hook = url_secrets("json://localhost:8080/api/notify/abc123token?token=q1w2e3r4")
    assert {"abc123token", "q1w2e3r4"} <= set(hook) and not {"api", "notify", "localhost"} & set(hook)
    assert url_secrets("  ") == []
