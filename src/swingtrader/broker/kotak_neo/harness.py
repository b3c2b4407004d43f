"""Start a fake Kotak Neo server over an exchange, and a real client pointed at it (tests, demos, simulate).

    with start_fake(paper_broker, clock, faults="expire=2h,http429=0.02,seed=7", symbols=bars.symbols()) as fake:
        client = client_for(fake, clock)
        broker = SessionManager(client, clock)
        ...
        report["broker_calls"], report["faults"] = client.call_counts(), fake.fault_counts()

The fake lists only a built-in set of large caps plus `symbols` in its instrument master, and the client can
only quote and trade listed symbols: pass the simulation's universe.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from swingtrader.broker.base import Broker
from swingtrader.broker.kotak_neo.auth import KotakCredentials
from swingtrader.broker.kotak_neo.client import KotakNeoBroker
from swingtrader.broker.kotak_neo.fake_server import FakeKotakServer
from swingtrader.broker.kotak_neo.faults import FaultSpec
from swingtrader.clock import Clock, LiveClock

FakeKotak = FakeKotakServer
_BASE32 = string.ascii_uppercase + "234567"


def fake_credentials(seed: int | None = None) -> KotakCredentials:
    """Real-looking throwaway credentials (UUID-like consumer key, +91 mobile, 5-char UCC, base32 TOTP secret,
    6-digit MPIN). A seed makes them reproducible."""
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    hexs = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    consumer_key = f"{hexs[:8]}-{hexs[8:12]}-{hexs[12:16]}-{hexs[16:20]}-{hexs[20:]}"
    mobile = "+91" + rng.choice("6789") + "".join(rng.choice(string.digits) for _ in range(9))
    ucc = "".join(rng.choice(string.ascii_uppercase) for _ in range(2)) + "".join(
        rng.choice(string.ascii_uppercase + string.digits) for _ in range(3)
    )
    totp_secret = "".join(rng.choice(_BASE32) for _ in range(32))
    mpin = "".join(rng.choice(string.digits) for _ in range(6))
    return KotakCredentials(*(SecretStr(v) for v in (consumer_key, mobile, ucc, totp_secret, mpin)))


def start_fake(
    exchange: Broker,
    clock: Clock,
    *,
    faults: str | None = None,
    record: Path | None = None,
    credentials: KotakCredentials | None = None,
    symbols: Iterable[str] = (),
    host: str = "127.0.0.1",
    port: int = 0,
) -> FakeKotak:
    """Serve a fake Kotak Neo over `exchange` on `host:port` (0: a free port) and return the running handle.

    `faults` is a SPEC (see `faults.py`; `ValueError` if bad); `symbols` extend the instrument master beyond a
    built-in list of large caps (the client can only quote and trade listed symbols)."""
    spec = FaultSpec.parse(faults)
    fake = FakeKotakServer(
        exchange, clock, credentials or fake_credentials(), faults=spec, record=record, symbols=tuple(symbols),
        host=host, port=port,
    )
    return fake.start()


def client_for(fake: FakeKotak, clock: Clock, **options: Any) -> KotakNeoBroker:
    """A `KotakNeoBroker` (not logged in yet) pointed at `fake` with its credentials; `options` go to the
    constructor. Unless `sleep` is given, a client on a virtual clock does not wait in real time for pacing or
    backoff (the fake is on loopback; the simulation's time is the clock's)."""
    if not isinstance(clock, LiveClock):
        options.setdefault("sleep", _no_wait)
    return KotakNeoBroker(fake.credentials, login_url=fake.url, clock=clock, **options)


def _no_wait(_seconds: float) -> None:
    """Pacing and backoff on a virtual clock: let the call through at once."""
