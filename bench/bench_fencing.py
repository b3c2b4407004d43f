"""Cost of the instance lease's fence: a ledger claim and an order write (the outbox insert) on a SQLite
store, each with the fence installed and without, interleaved in rounds in the same run; prints the ratio
fenced / unfenced of the median round."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from swingtrader.broker.base import OrderType, Side
from swingtrader.clock import LiveClock
from swingtrader.order_path.intent import OrderIntent
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.risk import RiskLimits
from swingtrader.store import Store
from swingtrader.store.lease import Lease
from swingtrader.store.ledger import Ledger

ROUNDS, PER_ROUND = 7, 200


def main() -> int:
    store = Store.open(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite'}")
    clock = LiveClock()
    lease = Lease(store, clock, mode="paper", expiry=timedelta(seconds=60))
    lease.acquire()
    ledger = Ledger(store)
    risk = RiskLimits(Decimal(10**9), Decimal(10**9), Decimal(20), lambda: False, lambda: Decimal(0))
    orders = OrderManager(store, broker=None, clock=clock, risk=risk)  # type: ignore[arg-type]  # writes only
    serial = iter(range(10**9))
    now = clock.now()

    def claims() -> None:
        for _ in range(PER_ROUND):
            ledger.claim("analysis", date(2024, 1, 1), f"s{next(serial)}", now, now)

    def writes() -> None:
        for _ in range(PER_ROUND):
            n = next(serial)
            orders.record_failed(OrderIntent(date(2024, 1, 1), "manual", "buy", f"S{n}", Side.BUY, 1,
                                             OrderType.LIMIT, Decimal(1), False, Decimal(1)), "bench")

    for name, work in (("ledger claim", claims), ("order write", writes)):
        fenced, plain = [], []
        for _ in range(ROUNDS):
            for on, out in ((True, fenced), (False, plain)):
                store.fence = lease.fence if on else None
                t0 = time.perf_counter()
                work()
                out.append((time.perf_counter() - t0) / PER_ROUND)
        f, p = statistics.median(fenced), statistics.median(plain)
        print(f"{name}: fenced {f * 1e6:.0f} us, unfenced {p * 1e6:.0f} us, ratio {f / p:.2f}")
    store.fence = None
    lease.release()
    store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
