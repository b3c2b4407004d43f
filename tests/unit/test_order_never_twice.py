"""Never twice, as a property: whatever the wire does (lost replies, refused or rate-limited sends, unreadable
books, an unreadable row, new orders visible only after a delay, stale empty books ("No Data" from an account
that has traded), partial books (missing rows, among them at least one acknowledged order: a book that omits only
the order in doubt is indistinguishable from its absence), tags rewritten by hand (`<tag>-<epoch>`,
`...-ADMINAPI`)) and however often the process dies (before or after the order reaches the exchange; a new
`OrderManager` then starts on the same store), the exchange never holds two orders for one intent.

The order manager talks to an in-memory exchange through a fault-injecting wrapper rather than to the fake
Kotak server over HTTP: the property is about the manager's send decisions, and an HTTP round trip per call
(plus a login per example) would make the 500 examples of the suite take minutes instead of seconds. The HTTP
path has its own tests (the duplicate-tag refusal, the visibility delay, lost replies: test_kotak_orders.py).
The wrapper does not refuse a duplicate tag, as Kotak would: the manager alone must prevent it. At the end
(after a quiet hour) no fill the exchange made is missing locally and every position equals the exchange's.

`HYPOTHESIS_EXAMPLES` sets the number of examples (default 500); the run is derandomized (same examples each
time) and has no deadline.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from itertools import count, cycle, repeat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerError,
    BrokerUnavailable,
    FillBook,
    OrderBook,
    OrderType,
    RateLimited,
    Side,
)
from swingtrader.order_path.intent import OrderIntent
from swingtrader.order_path.manager import OrderManager
from swingtrader.order_path.relay import ResolvePolicy
from swingtrader.order_path.risk import RiskLimits
from swingtrader.order_path.state import LocalStatus
from swingtrader.store import Store
from swingtrader.store import tables as t
from tests.integration.kotak_support import MemoryExchange, sim_clock

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "500"))
POLICY = ResolvePolicy(settle=timedelta(seconds=60), max_backoff=timedelta(minutes=10),
                       deadline=timedelta(minutes=30), min_lookups=3, max_sends=3)
PRICES = {"M&M": Decimal("3000"), "BAJAJ-AUTO": Decimal("9000"), "RELIANCE": Decimal("2900")}
SEND_FAULTS = ("ok", "refuse", "rate_limited", "lose", "lose", "crash_before", "crash_after")
READ_FAULTS = ("ok", "unreadable", "bad_row", "open_only", "stale", "partial", "rewritten")


class Crash(BaseException):
    """The process dies in the middle of a call."""


class FaultyWire:
    """The exchange behind a wire whose faults come from two cyclic scripts, one for sends and one for reads
    (`quiet()` ends them). New orders are visible in both books only `visibility` after they reach the
    exchange. Read faults: the book cannot be read; its newest row cannot be read; it lists only working
    orders (a filled order then shows only in the trade book)."""

    name = "faulty"

    def __init__(self, exchange: MemoryExchange, sends: list[str], reads: list[str], visibility: timedelta) -> None:
        self.exchange, self.visibility = exchange, visibility
        self._sends, self._reads = cycle(sends), cycle(reads)
        self.placed_at: dict[str, object] = {}
        self.acked: set[str] = set()  # order numbers whose send was acknowledged to the manager

    def quiet(self) -> None:
        self._sends = self._reads = repeat("ok")

    def _visible(self, order_id: str) -> bool:
        return self.exchange.clock.now() >= self.placed_at[order_id] + self.visibility

    def place_order(self, request):
        fault = next(self._sends)
        if fault == "refuse":
            raise BrokerUnavailable("connection refused")
        if fault == "rate_limited":
            raise RateLimited("HTTP 429")
        if fault == "crash_before":
            raise Crash
        order_id = self.exchange.place_order(request)
        self.placed_at[order_id] = self.exchange.clock.now()
        if fault == "lose":
            raise AmbiguousOutcome("the reply was lost")
        if fault == "crash_after":
            raise Crash
        self.acked.add(order_id)
        return order_id

    def orders(self) -> OrderBook:
        fault = next(self._reads)
        if fault == "unreadable":
            raise BrokerUnavailable("order book unreadable")
        rows = [o for o in self.exchange.orders() if self._visible(o.order_id)]
        if fault == "open_only":
            rows = [o for o in rows if o.status.is_active]
        if fault == "bad_row" and rows:  # the newest row cannot be read
            return OrderBook(rows[:-1], (rows[-1].order_id,), (rows[-1].tag,))
        return OrderBook(self._adversary(fault, rows))

    def fills(self) -> FillBook:
        fault = next(self._reads)
        if fault == "unreadable":
            raise BrokerUnavailable("trade book unreadable")
        return FillBook(self._adversary(fault, [f for f in self.exchange.fills() if self._visible(f.order_id)]))

    def _adversary(self, fault: str, rows: list) -> list:
        """stale: no rows at all; partial: the rows of the first acknowledged order (and every newer row) are
        missing; rewritten: every other tag rewritten by hand, as after a cancel or a modify."""
        if fault == "stale":
            return []
        if fault == "partial":
            acked = [i for i, r in enumerate(rows) if r.order_id in self.acked]
            return rows[:acked[0]] if acked else []
        if fault == "rewritten":
            return [replace(r, tag=(f"{r.tag}-1741080000" if i % 2 else f"1741080000-{i}-****-ADMINAPI"))
                    if r.tag else r for i, r in enumerate(rows)]
        return rows

    def modify_order(self, order_id, **kw):
        self.exchange.modify_order(order_id, **kw)

    def cancel_order(self, order_id):
        self.exchange.cancel_order(order_id)


def _intent(day, i: int) -> OrderIntent:
    """Three intents: the first rests (a limit below the price), the others fill at once."""
    symbol = sorted(PRICES)[i]
    price = PRICES[symbol] * (Decimal("0.98") if i == 0 else Decimal("1.01"))
    return OrderIntent(day, "place_buy_orders", "entry", symbol, Side.BUY, 1 + i, OrderType.LIMIT, price, False,
                       PRICES[symbol])


_actions = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(0, 2)),
        st.tuples(st.just("reconcile"), st.just(0)),
        st.tuples(st.just("advance"), st.integers(1, 900)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=30,
)
_sends = st.lists(st.sampled_from(SEND_FAULTS), min_size=1, max_size=6)
_reads = st.lists(st.sampled_from(READ_FAULTS), min_size=1, max_size=6)


def local_fills(store: Store) -> dict[int, int]:
    """Filled quantity by local order id, from the fills table."""
    with store.connect() as conn:
        rows = conn.execute(select(t.fills.c.order_id, func.sum(t.fills.c.quantity)).group_by(t.fills.c.order_id))
        return {order_id: int(qty) for order_id, qty in rows}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "orders.sqlite"
    Store.open(f"sqlite:///{path}").engine.dispose()
    return str(path)


@pytest.mark.timeout(max(300, EXAMPLES // 4))  # generous: the machine is shared
def test_the_exchange_never_holds_two_orders_for_one_intent(template, tmp_path_factory) -> None:
    workdir = tmp_path_factory.mktemp("never-twice")
    numbers = count()
    totals: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(actions=_actions, sends=_sends, reads=_reads, visibility_s=st.integers(0, 50))
    def run(actions, sends, reads, visibility_s) -> None:
        path = workdir / f"{next(numbers)}.sqlite"
        shutil.copyfile(template, path)
        store = Store.open(f"sqlite:///{path}")
        clock = sim_clock()
        day = clock.now().date()
        exchange = MemoryExchange(clock, PRICES)
        wire = FaultyWire(exchange, sends, reads, timedelta(seconds=visibility_s))
        risk = RiskLimits(Decimal("1e9"), Decimal("1e10"), Decimal("20"), lambda: False, lambda: Decimal(0))

        def manager() -> OrderManager:
            return OrderManager(store, wire, clock, risk, policy=POLICY, on_event=notified)

        def notified(kind: str, _rec, _detail: str) -> None:
            totals[kind] += 1

        om, lost = manager(), []
        try:
            for action, arg in [*actions, ("quiet", 0), *[("advance", 600), ("reconcile", 0)] * 8]:
                if action == "quiet":  # the faults stop
                    wire.quiet()
                    continue
                if action == "advance":
                    clock.advance(timedelta(seconds=arg))
                    continue
                if action == "restart":
                    om = manager()
                    continue
                try:
                    if action == "submit":
                        om.submit(_intent(day, arg))
                    else:
                        om.reconcile()
                except Crash:
                    om = manager()  # the process died mid-call: a new one starts on the same store
                except BrokerError:
                    pass  # the task fails and runs again later
                per_intent = Counter(o.tag for o in exchange.orders())
                twice = sum(n - 1 for n in per_intent.values() if n > 1)
                totals["sent_twice"] += twice
                assert twice == 0, per_intent
            for rec in om.for_day(day):  # after a quiet hour and more, nothing is left in doubt
                assert rec.status not in (LocalStatus.SENDING, LocalStatus.UNKNOWN), rec
                lost += [rec] if rec.status is LocalStatus.LOST else []
            ours = {r.tag: r for r in om.for_day(day)}
            local = local_fills(store)
            for o in exchange.orders():  # every fill the exchange made is recorded against its order
                rec = ours[o.tag]
                missed = o.filled_quantity - local.get(rec.id, 0)
                totals["fills_lost"] += max(0, missed)
                assert rec.broker_order_id == o.order_id and missed == 0, (rec, o)
            held = Counter()
            for f in exchange.fills():
                held[f.symbol] += f.quantity
            positions = Counter()
            for r in ours.values():
                positions[r.symbol] += local.get(r.id, 0)
            differ = sum(1 for s in set(held) | set(positions) if held[s] != positions[s])
            totals["positions_differ"] += differ
            assert differ == 0, (held, positions)
            totals["unknown_end"] += sum(1 for r in ours.values() if r.status in (LocalStatus.SENDING,
                                                                                  LocalStatus.UNKNOWN))
            totals["orders"] += len(exchange.orders())
            totals["lost"] += len(lost)
            totals["examples"] += 1
        finally:
            store.engine.dispose()
            path.unlink()

    run()
    print(f"\nnever-twice property: {totals['examples']} examples, {totals['orders']} orders at the exchange, "
          f"{totals['sent_twice']} sent twice, {totals['order_lost']} marked lost (notified), {totals['lost']} still "
          f"lost at the end, {totals['unknown_end']} unknown at the end, {totals['order_not_sent']} given up "
          f"unsent, {totals['fills_lost']} fills lost, {totals['positions_differ']} positions differing")
    assert totals["sent_twice"] == 0 and totals["fills_lost"] == 0 and totals["positions_differ"] == 0
