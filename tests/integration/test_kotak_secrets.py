"""With real-looking credentials and the fake refusing logins and orders, no secret reaches the logs, stdout,
stderr, the error messages, or the fake's --record file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from swingtrader.broker.base import BrokerError, OrderRequest, OrderType, Side
from swingtrader.broker.kotak_neo import KotakCredentials, KotakNeoBroker
from swingtrader.broker.kotak_neo.harness import client_for, fake_credentials, start_fake
from swingtrader.broker.session import SessionManager
from tests.integration.kotak_support import MemoryExchange, sim_clock


def test_no_secret_leaves(tmp_path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    clock = sim_clock()
    exchange = MemoryExchange(clock, {"RELIANCE": Decimal("2950.50")})
    creds = fake_credentials(2024)
    record = tmp_path / "rec.jsonl"
    messages: list[str] = []
    tokens: list[str] = []

    def attempt(fn: Callable[[], object]) -> None:
        try:
            fn()
        except BrokerError as exc:
            messages.append(f"{exc!r} {exc}")

    with start_fake(exchange, clock, credentials=creds, record=record) as fake:
        wrong = KotakCredentials(creds.consumer_key, creds.mobile_number, creds.ucc, creds.totp_secret,
                                 SecretStr("111111"))
        with KotakNeoBroker(wrong, login_url=fake.url, clock=clock, sleep=lambda _s: None) as bad:
            session = SessionManager(bad, clock)  # the one login breaker
            for _ in range(4):
                attempt(session.login)
                clock.advance(timedelta(seconds=30))
        with client_for(fake, clock, sleep=lambda _s: None) as b:
            fake.serve_next("login", 400, b'{"error": [{"code": "10522", "message": "Invalid TOTP"}]}')
            attempt(b.login)
            clock.advance(timedelta(seconds=30))
            tokens.append(b.login().token.get_secret_value())
            order = OrderRequest("RELIANCE", Side.BUY, 1, OrderType.LIMIT, Decimal("2900"), "tag-s")
            fake.serve_next("place_order", 200, b'{"stat": "Not_Ok", "stCode": 1009, "errMsg": "RMS: margin"}')
            attempt(lambda: b.place_order(order))
            fake.serve_next("place_order", 502, b"<html>bad gateway</html>", "text/html")
            attempt(lambda: b.place_order(order))
            fake.expire_now()
            attempt(b.orders)
            attempt(lambda: b.cancel_order("1"))
            print(repr(b), repr(creds), b.call_counts())
    assert len(messages) == 9
    out, err = capsys.readouterr()
    haystacks = {"logs": caplog.text, "stdout": out, "stderr": err, "record": record.read_text(),
                 "errors": "\n".join(messages)}
    secrets = {"consumer key": creds.consumer_key, "mobile": creds.mobile_number, "ucc": creds.ucc,
               "totp secret": creds.totp_secret, "mpin": creds.mpin}
    needles = {name: s.get_secret_value() for name, s in secrets.items()}
    needles.update({"session token": tokens[0], "token signature": tokens[0].rsplit(".", 1)[1]})
    needles["mobile without +91"] = needles["mobile"][3:]
    for where, text in haystacks.items():
        for name, value in needles.items():
            assert value not in text, f"{name} leaked into {where}"
    assert "RMS: margin" in haystacks["errors"] and "human checks" in haystacks["errors"]
