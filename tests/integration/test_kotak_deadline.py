"""A broker that drips its reply (one byte every 0.5 s) cannot hold a call past the total deadline: the real
client over a real socket gives up within the deadline (plus scheduling slack), drops the connection, and raises
the typed error: `BrokerUnavailable` for a login or a read (not retried), `AmbiguousOutcome` for a write."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import pytest

from swingtrader.broker.base import AmbiguousOutcome, BrokerUnavailable
from swingtrader.broker.kotak_neo import KotakNeoBroker
from swingtrader.broker.kotak_neo.harness import client_for, fake_credentials, start_fake
from tests.integration.drip_server import DripServer
from tests.integration.kotak_support import MemoryExchange, sim_clock

DEADLINE = 1.0  # seconds; a full dripped reply would take 100 s


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _logged_in_against(drip: DripServer) -> tuple[KotakNeoBroker, object]:
    """A client logged in on the fake whose validate reply routes trading calls to the drip server."""
    clock = sim_clock()
    fake = start_fake(MemoryExchange(clock, {}), clock, credentials=fake_credentials(5))
    exp = int((clock.now() + timedelta(hours=8)).timestamp())
    token = f"{_b64({'alg': 'none'})}.{_b64({'exp': exp})}.sig"
    reply = {"data": {"token": token, "sid": "s1", "baseUrl": drip.url, "kType": "Trade", "status": "success"}}
    fake.serve_next("validate", 200, json.dumps(reply).encode())
    client = client_for(fake, clock, timeout=DEADLINE)
    client.login()
    return client, fake


def _timed(call) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(Exception) as info:
        call()
    return info.value, time.monotonic() - start


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_dripping_login_fails_within_the_deadline(drip_headers: bool) -> None:
    clock = sim_clock()
    with DripServer(drip_headers=drip_headers) as drip, \
            KotakNeoBroker(fake_credentials(1), login_url=drip.url, clock=clock, timeout=DEADLINE) as client:
        error, took = _timed(client.login)
        assert isinstance(error, BrokerUnavailable) and "deadline" in str(error), error
        assert took < 3 * DEADLINE
        assert drip.paths == ["/login/1.0/tradeApiLogin"] and drip.finished == 0
        _wait_for(lambda: drip.hangups)
        assert drip.hangups[0] < 3 * DEADLINE  # the client dropped the connection, not the server finishing


def test_a_dripping_read_fails_once_within_the_deadline() -> None:
    with DripServer() as drip:
        client, fake = _logged_in_against(drip)
        with fake, client:
            error, took = _timed(client.holdings)
            assert isinstance(error, BrokerUnavailable) and error.code == "deadline", error
            assert took < 3 * DEADLINE
            assert drip.paths == ["/portfolio/v1/holdings"]  # a deadline is not retried
            assert drip.finished == 0


def test_a_dripping_write_is_ambiguous_within_the_deadline() -> None:
    with DripServer() as drip:
        client, fake = _logged_in_against(drip)
        with fake, client:
            error, took = _timed(lambda: client.cancel_order("240101000000001"))
            assert isinstance(error, AmbiguousOutcome) and "deadline" in str(error), error
            assert took < 3 * DEADLINE
            assert drip.paths == ["/quick/order/cancel"] and drip.finished == 0


def _wait_for(condition, limit: float = 10.0) -> None:
    end = time.monotonic() + limit
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)
