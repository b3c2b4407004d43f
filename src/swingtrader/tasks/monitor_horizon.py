"""The fast-forward of a simulation: how many of the next `monitor_sell_orders` minutes provably change nothing.

Right after a successful monitor run at `now` on the paper exchange, a later monitor minute `m` (with only
monitor minutes in between) is idle when, run minute by minute, it would

- find no fill: no working order's fill rule (`prices.fill_price`, the exchange's own) holds over
  [now, m]; and the minute before a fill runs too, so the exchange's fill is stamped with the same minute;
- move no target: `selling.lowered_target`, the monitor's own decision, is None at the path price of `m`;
- have nothing else to do: every local active order is acknowledged and in step with the exchange (status,
  filled quantity), so reconciling changes nothing and sends nothing.

Its ledger summary is then the one the run would record (`monitor_sell_orders.summary`), and the scheduler
records those minutes without running them. The first minute that might change something runs for real, and
the horizon is computed afresh after it. Any other task's slot ends the stretch.

The search evaluates those same functions at few minutes, relying on two monotone facts:
- a fill over [now, m] only gets more likely as m grows (the interval's path range grows). On each leg of
  the path the float interpolation stays within its end points, because the subtraction of two prices within
  a factor of two of each other is exact (Sterbenz); a path that is not is never fast-forwarded;
- on each leg the path price is monotone in time, and `lowered_target` is monotone in the price, so whether
  a target moves is monotone along a leg (the minutes at or before the open each stand alone).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from swingtrader.broker.base import Order, OrderStatus, OrderType
from swingtrader.broker.prices import PricePath, fill_price
from swingtrader.clock import ist_date
from swingtrader.order_path.state import LocalStatus
from swingtrader.schedule import Slot
from swingtrader.tasks.context import TaskContext
from swingtrader.tasks.monitor_sell_orders import summary, target_sells
from swingtrader.tasks.selling import lowered_target

if TYPE_CHECKING:
    from swingtrader.broker.paper import PaperBroker

TASK = "monitor_sell_orders"
_WORKING = {OrderStatus.PENDING: LocalStatus.PENDING, OrderStatus.OPEN: LocalStatus.OPEN}
FastForward = Callable[[Slot, Sequence[Slot]], tuple[int, dict[str, Any] | None]]


def monitor_fast_forward(ctx: TaskContext, exchange: PaperBroker) -> FastForward:
    """The scheduler's `fast_forward` for a simulation on `exchange`: after a monitor slot ran, the number of
    the immediately following monitor slots that are idle (see the module docstring) and their summary."""

    def fast_forward(slot: Slot, following: Sequence[Slot]) -> tuple[int, dict[str, Any] | None]:
        if slot.task != TASK:
            return 0, None
        minutes = []
        for nxt in following:
            if nxt.task != TASK or nxt.trading_date != slot.trading_date:
                break
            minutes.append(nxt.at)
        if not minutes:
            return 0, None
        return idle_minutes(ctx, exchange, slot.at, minutes)

    return fast_forward


def idle_minutes(
    ctx: TaskContext, exchange: PaperBroker, now: datetime, minutes: Sequence[datetime]
) -> tuple[int, dict[str, Any]]:
    """How many of `minutes` (ascending, after `now`, only monitor slots in between) are idle, counted from the
    first, and the summary each of them records. `now` is the moment of the monitor run that just ended."""
    sells = target_sells(ctx)
    detail = summary(sells, [])
    day = ist_date(now)
    if exchange.matched_until != now or not _in_step(ctx, exchange):
        return 0, detail
    path = exchange.path
    working = exchange.working_orders(day)
    for order, _ in working:
        if order.status is not OrderStatus.OPEN or order.order_type is not OrderType.LIMIT:
            return 0, detail
        if not _exact_legs(path.points(order.symbol, day)):
            return 0, detail
    idle = len(minutes)
    for sell in sells:  # a target moving soon is the usual bound, and the cheaper one to find
        if idle == 0:
            return 0, detail
        points = path.points(sell.symbol, day)
        candidates = minutes[:idle]
        idle = _first_true(partial(_moves, ctx, path, sell, day), candidates, _monotone_runs(candidates, points))
    for order, live_from in working:
        if idle == 0:
            break
        t0 = max(now, live_from)
        candidates = list(minutes[:idle + 1])  # a fill at minute `idle` still bounds it
        first_fill = _first_true(partial(_fills, path, order, day, t0), candidates, [candidates])
        if first_fill < len(candidates):  # that minute runs, and the one before it
            idle = max(first_fill - 1, 0)
    return idle, detail


def _fills(path: PricePath, order: Order, day: date, t0: datetime, moment: datetime) -> bool:
    return fill_price(path, order, day, t0, moment) is not None


def _moves(ctx: TaskContext, path: Any, order: Any, day: date, moment: datetime) -> bool:
    ltp = path.price_at(order.symbol, day, moment)
    return ltp is not None and lowered_target(ctx, order, day, ltp) is not None


def _in_step(ctx: TaskContext, exchange: PaperBroker) -> bool:
    """Every local active order acknowledged and showing what the exchange shows (nothing to reconcile)."""
    try:
        book = {o.order_id: o for o in exchange.orders()}  # matched up to now already: reads only
    except Exception:  # an expired session, say: let the real run deal with it
        return False
    for rec in ctx.orders.active():
        seen = book.get(rec.broker_order_id or "")
        if seen is None or _WORKING.get(seen.status) is not rec.status or seen.filled_quantity != rec.filled_quantity:
            return False
    return True


def _exact_legs(points: list[tuple[datetime, float]] | None) -> bool:
    """Every leg's end points within a factor of two of each other (their difference is exact in floats)."""
    if points is None:
        return True
    prices = [p for _, p in points]
    return min(prices) > 0 and max(prices) <= 2 * min(prices)


def _monotone_runs(
    minutes: Sequence[datetime], points: list[tuple[datetime, float]] | None
) -> list[list[datetime]]:
    """`minutes` cut into runs along which the path price is monotone: the legs of the path (a minute exactly
    on a turning point belongs to the leg it ends, as the interpolation computes it); a minute at or before the
    open stands alone (before it the price is the previous close)."""
    if points is None:
        return [list(minutes)]  # no bar: a flat price
    turns = [t for t, _ in points]
    runs: dict[int, list[datetime]] = {}
    for i, m in enumerate(minutes):
        leg = bisect_left(turns, m)
        runs.setdefault(-1 - i if leg == 0 else leg, []).append(m)
    return list(runs.values())


def _first_true(pred: Callable[[datetime], bool], minutes: Sequence[datetime], runs: list[list[datetime]]) -> int:
    """The index in `minutes` of the first minute where `pred` holds (len(minutes) if none), given `runs`:
    consecutive pieces of `minutes`, in order, along each of which `pred` is monotone (either way)."""
    offset = 0
    for run in runs:
        if pred(run[0]):
            return offset
        if pred(run[-1]):  # false then true along this run: bisect for the first true
            lo, hi = 0, len(run) - 1  # pred(run[lo]) false, pred(run[hi]) true
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if pred(run[mid]):
                    hi = mid
                else:
                    lo = mid
            return offset + hi
        offset += len(run)
    return offset
