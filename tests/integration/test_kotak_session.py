"""Twenty threads on one KotakNeoBroker behind the SessionManager while the session expires: one re-login."""

from __future__ import annotations

import threading
from decimal import Decimal

from swingtrader.broker.kotak_neo.harness import client_for, start_fake
from swingtrader.broker.session import SessionManager
from tests.integration.kotak_support import MemoryExchange, sim_clock


def test_twenty_threads_and_an_expiry_make_exactly_one_relogin() -> None:
    clock = sim_clock()
    exchange = MemoryExchange(clock, {"RELIANCE": Decimal("2950.50"), "TCS": Decimal("4100")},
                              holdings={"TCS": (3, Decimal("4000"))})
    with start_fake(exchange, clock, faults="expire_body=mix,seed=3") as fake, \
            client_for(fake, clock, sleep=lambda _s: None) as client:
        session = SessionManager(client, clock)
        assert session.holdings()[0].symbol == "TCS"
        fake.expire_now()
        start = threading.Barrier(20)
        results: list[object] = []
        errors: list[BaseException] = []

        def work(i: int) -> None:
            start.wait(timeout=5)
            try:
                calls = (session.orders, session.holdings, session.funds, lambda: session.quotes(["RELIANCE"]))
                results.append(calls[i % 4]())
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        assert not errors and len(results) == 20
        assert session.logins == 2 and client.call_counts()["login"] == 2
        assert fake.fault_counts()["expire"] == 1
