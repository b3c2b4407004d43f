"""`swingtrader kotak-fake [--host 127.0.0.1] [--port N] [--record FILE.jsonl] [--faults SPEC]
[--data PATH|bundled]`: serve a fake Kotak Neo API over the paper exchange (synthetic prices unless `--data`
names bars, e.g. `bundled` for the real Nifty 50 symbols such as M&M and BAJAJ-AUTO; the real calendar, the
wall clock) for demos. Tests only: with `SWINGTRADER_TEST_CLOCK_FILE` set it follows the virtual time a paced
`run` publishes there (`clock.follower_clock`), so both share one clock.

Prints the generated test credentials as env lines (point `SWINGTRADER_KOTAK_LOGIN_URL` at it and run
`swingtrader broker-check`), then serves until interrupted. The paper state lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, settings_or_exit


def main(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    from swingtrader.broker.kotak_neo.faults import FaultSpec
    from swingtrader.broker.kotak_neo.harness import start_fake
    from swingtrader.clock import follower_clock
    from swingtrader.service import paper_broker
    from swingtrader.store import Store

    try:
        FaultSpec.parse(args.faults)
    except ValueError as exc:
        fail(f"--faults: {exc}")
    calendar = calendar_or_exit(settings)
    data = getattr(args, "data", None) or "synthetic"
    bars = bars_or_exit(data, settings)
    try:
        clock = follower_clock()  # the wall clock; a paced `run`'s published time only when a test sets it
    except ValueError as exc:
        fail(str(exc))
    workdir = Path(tempfile.mkdtemp(prefix="kotak-fake-"))
    store = Store.open(f"sqlite:///{workdir / 'exchange.sqlite'}")
    exchange = paper_broker(settings, store, clock, bars, calendar)
    try:
        fake = start_fake(exchange, clock, faults=args.faults, record=Path(args.record) if args.record else None,
                          symbols=bars.symbols(), host=args.host, port=args.port)
    except OSError as exc:
        fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", code=1)
    from swingtrader.startup import stop_on_signals

    stop = stop_on_signals()  # before saying it is up; also when started with SIGINT ignored (nohup, CI)
    c = fake.credentials
    print(f"# fake Kotak Neo at {fake.url} over the paper exchange ({len(bars.symbols())} symbols from {data})")
    print("# test credentials for this run only (not real secrets):")
    for name, value in (("CONSUMER_KEY", c.consumer_key), ("MOBILE_NUMBER", c.mobile_number), ("UCC", c.ucc),
                        ("TOTP_SECRET", c.totp_secret), ("MPIN", c.mpin)):
        print(f"SWINGTRADER_KOTAK_{name}={value.get_secret_value()}")
    print(f"SWINGTRADER_KOTAK_LOGIN_URL={fake.url}", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        fake.stop()
        print(f"# stopped; injected faults: {fake.fault_counts()}")
    return 0
