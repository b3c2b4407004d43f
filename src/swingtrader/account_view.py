"""The state of this account as the store knows it: the one reader behind `swingtrader status`, the dashboard,
`/metrics` and the simulation report, which only format what `read_account` returns.

Every figure is defined here once:
- open orders: local orders whose status is active (`sending`, `pending`, `open`, `unknown`, `lost`): any of them may
  be working at the broker;
- lost orders: orders in `lost` (a send of unknown outcome nothing proved present or absent by its deadline: a person
  must decide), oldest first, each since its last `lost` event (its last update when the store has none); with
  them the active orders whose settling failed (their latest event is `attention`: retried with backoff, a person
  should look), since that event, the failure as the reason;
- positions: strategy positions whose status is open;
- realised P&L: the sum of `trades.net_pnl` (after charges);
- latest price of a symbol: the newest by time of its end-of-day mark (the holding's close the broker reported
  at the last reconciliation, `ServiceState.account`), its last position-monitor reading (a signal's `ltp`),
  its last fill, and its last analysis close (timed at that day's 15:30 close); at the same moment in that
  order;
- cash: when the store holds the paper exchange (paper mode, simulations) the exchange's cash; otherwise the
  cash the broker reported at the last reconciliation, moved by the value of the fills recorded after it
  (their charges show at the next reconciliation). Amounts blocked by working buys count as cash;
- equity: cash + each open position's quantity x its latest price (its average price when the store holds no
  price for it); None while no cash is known.
Money is Decimal; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Connection, Row, and_, func, or_, select

from swingtrader.broker import paper_store
from swingtrader.broker.session import SessionEvent
from swingtrader.clock import IST, ist_date
from swingtrader.order_path.manager import ATTENTION
from swingtrader.order_path.state import LocalStatus
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.state import AccountSnapshot, NextSlot, PriceAge, PublishedPlan, QuoteAge, ServiceState
from swingtrader.tasks.events import SignalKind

OPEN_ORDER_STATUSES = tuple(s.value for s in LocalStatus if s.is_active)
LOGIN_EVENTS = (SessionEvent.LOGIN.value,)
_CLOSE = time(15, 30)
_PRICE_KEYS = ("ltp",)  # the position monitor records the last traded price in its signals
_HOLDING_KINDS = (SignalKind.HOLDINGS_MISMATCH.value, SignalKind.HOLDING_MISSING.value)
_FLAGS_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Price:
    at: datetime
    source: str  # "close mark", "monitor reading", "buy fill" / "sell fill", "analysis close"
    value: Decimal

    @property
    def day(self) -> date:
        return ist_date(self.at)


class TradeRow(TypedDict):
    """A closed trade (its `trades` row)."""

    id: int
    position_id: int
    symbol: str
    entry_date: date
    entry_price: Decimal
    quantity: int
    exit_date: date
    exit_price: Decimal
    exit_reason: str
    gross_pnl: Decimal
    charges: Decimal
    net_pnl: Decimal
    closed_at: datetime


@dataclass(frozen=True)
class Position:
    """An open position (its `positions` row) with its latest price."""

    row: Mapping[str, Any]
    price: Price | None

    @property
    def symbol(self) -> str:
        return str(self.row["symbol"])

    @property
    def quantity(self) -> int:
        return int(self.row["quantity"])

    @property
    def average_price(self) -> Decimal:
        return Decimal(self.row["average_price"])

    @property
    def value(self) -> Decimal:
        """Quantity at the latest price, or at the average price when none is known."""
        return self.quantity * (self.price.value if self.price is not None else self.average_price)


@dataclass(frozen=True)
class SessionEventRow:
    event: str
    at: datetime
    detail: str | None


@dataclass(frozen=True)
class LostOrder:
    id: int
    tag: str
    trading_date: date
    symbol: str
    side: str
    quantity: int
    price: Decimal | None
    since: datetime
    reason: str | None


@dataclass(frozen=True)
class AccountView:
    """The account at `as_of` (see the module docstring for each definition)."""

    as_of: datetime
    mode: str | None
    paused: bool
    heartbeat: datetime | None
    next_slot: NextSlot | None
    plan: PublishedPlan | None
    orders_by_status: Mapping[str, int]
    open_orders: int
    positions: tuple[Position, ...]
    trades: tuple[TradeRow, ...]  # oldest first
    realised_pnl: Decimal
    cash: Decimal | None
    equity: Decimal | None
    session_events: Mapping[str, int]  # all time, by event
    logins: int
    logins_today: int  # since IST midnight of `as_of`, up to `as_of`
    last_session_event: SessionEventRow | None
    last_trading_date: date | None  # the newest day in the ledger up to `as_of`'s IST date
    prices: PriceAge | None = None  # the running service's newest bars and their age (market/refresh.py)
    quotes: QuoteAge | None = None  # paper prices from the broker's quotes: the newest one's time (quote_prices.py)
    lost_orders: tuple[LostOrder, ...] = ()
    holdings_flags: tuple[Mapping[str, Any], ...] = ()  # holdings that differed from positions lately, newest first

    def realised_on(self, day: date | None) -> Decimal:
        return sum((r["net_pnl"] for r in self.trades if r["exit_date"] == day), Decimal(0))


def read_account(store: Store, now: datetime) -> AccountView:
    """The account as of `now`, in one read transaction."""
    with store.connect() as conn:
        return account_in(conn, store, now)


def account_in(conn: Connection, store: Store, now: datetime) -> AccountView:
    """`read_account` inside the caller's connection."""
    state = ServiceState(store)
    snapshot = state.account(conn)
    by_status: dict[str, int] = {
        status: n for status, n in conn.execute(select(t.orders.c.status, func.count()).group_by(t.orders.c.status))
    }
    rows = conn.execute(select(t.positions).where(_open_position()).order_by(t.positions.c.symbol)).all()
    positions = tuple(Position(dict(p._mapping), latest_price(conn, p.symbol, p.entry_date, snapshot)) for p in rows)
    trades = tuple(_trade(r) for r in conn.execute(select(t.trades).order_by(t.trades.c.closed_at,
                                                                            t.trades.c.id)).all())
    cash = _cash(conn, snapshot)
    se = t.session_events
    events: dict[str, int] = {e: n for e, n in conn.execute(select(se.c.event, func.count()).group_by(se.c.event))}
    day_start = datetime.combine(ist_date(now), datetime.min.time(), IST)
    logins_today = conn.execute(
        select(func.count()).where(se.c.event.in_(LOGIN_EVENTS), se.c.at >= day_start, se.c.at <= now)
    ).scalar_one()
    last = conn.execute(select(se).order_by(se.c.at.desc(), se.c.id.desc()).limit(1)).first()
    return AccountView(
        as_of=now,
        mode=state.mode(conn),
        paused=state.paused(conn),
        heartbeat=state.heartbeat(conn),
        next_slot=state.next_slot(conn),
        plan=state.plan(conn),
        orders_by_status=by_status,
        open_orders=sum(n for s, n in by_status.items() if s in OPEN_ORDER_STATUSES),
        positions=positions,
        trades=trades,
        realised_pnl=sum((r["net_pnl"] for r in trades), Decimal(0)),
        cash=cash,
        equity=None if cash is None else cash + sum((p.value for p in positions), Decimal(0)),
        session_events=events,
        logins=sum(n for e, n in events.items() if e in LOGIN_EVENTS),
        logins_today=logins_today,
        last_session_event=None if last is None else SessionEventRow(last.event, last.at, last.detail),
        prices=state.prices(conn),
        quotes=state.quotes(conn),
        lost_orders=lost_orders(conn) if any(by_status.get(s) for s in OPEN_ORDER_STATUSES) else (),
        holdings_flags=holdings_flags(conn, ist_date(now) - _FLAGS_FOR),
        last_trading_date=conn.execute(
            select(func.max(t.task_runs.c.trading_date)).where(t.task_runs.c.trading_date <= ist_date(now))
        ).scalar(),
    )


def lost_orders(conn: Connection) -> tuple[LostOrder, ...]:
    """The orders in `lost`, and the active orders needing attention, oldest first (see the module docstring)."""
    o, ev = t.orders, t.order_events
    lost_at = (select(func.max(ev.c.at)).where(ev.c.order_id == o.c.id, ev.c.event == LocalStatus.LOST.value)
               .scalar_subquery())
    last_id = select(func.max(ev.c.id)).where(ev.c.order_id == o.c.id).scalar_subquery()
    last = ev.alias("last_event")
    rows = conn.execute(
        select(o.c.id, o.c.tag, o.c.trading_date, o.c.symbol, o.c.side, o.c.quantity, o.c.price, o.c.reason,
               o.c.status, last.c.event, last.c.at, last.c.detail,
               func.coalesce(lost_at, o.c.updated_at).label("since"))
        .select_from(o.outerjoin(last, last.c.id == last_id))
        .where(or_(o.c.status == LocalStatus.LOST.value,
                   and_(o.c.status.in_(OPEN_ORDER_STATUSES), last.c.event == ATTENTION)))
        .order_by(o.c.id)
    ).all()
    return tuple(_lost(r) for r in rows)


def _lost(r: Any) -> LostOrder:
    if r.status != LocalStatus.LOST.value:
        why = (r.detail or {}).get("why", "") if isinstance(r.detail, dict) else ""
        return LostOrder(r.id, r.tag, r.trading_date, r.symbol, r.side, r.quantity, r.price, r.at,
                         f"needs attention: {why}")
    return LostOrder(r.id, r.tag, r.trading_date, r.symbol, r.side, r.quantity, r.price, r.since, r.reason)


def latest_price(conn: Connection, symbol: str, since: date, snapshot: AccountSnapshot | None) -> Price | None:
    """The newest price the store holds for `symbol` (see the module docstring); readings and fills count
    from `since` (the position's entry) on."""
    sig, rec, f = t.signals, t.recommendations, t.fills
    found: list[tuple[int, Price]] = []
    if snapshot is not None and symbol in snapshot.marks:
        found.append((3, Price(snapshot.at, "close mark", snapshot.marks[symbol])))
    for s in conn.execute(
        select(sig.c.detail, sig.c.at).where(sig.c.symbol == symbol, sig.c.trading_date >= since)
        .order_by(sig.c.id.desc()).limit(5)
    ).all():
        value = next((_decimal(s.detail[k]) for k in _PRICE_KEYS if isinstance(s.detail, dict) and s.detail.get(k)),
                     None)
        if value is not None:
            found.append((2, Price(s.at, "monitor reading", value)))
            break
    fill = conn.execute(
        select(f.c.price, f.c.side, f.c.at).where(f.c.symbol == symbol).order_by(f.c.id.desc()).limit(1)
    ).first()
    if fill is not None:
        found.append((1, Price(fill.at, f"{fill.side.lower()} fill", fill.price)))
    close = conn.execute(
        select(rec.c.close, rec.c.as_of).where(rec.c.symbol == symbol).order_by(rec.c.as_of.desc()).limit(1)
    ).first()
    if close is not None:
        found.append((0, Price(datetime.combine(close.as_of, _CLOSE, IST), "analysis close", close.close)))
    return max(found, key=lambda x: (x[1].at, x[0]))[1] if found else None


def holdings_flags(conn: Connection, since: date) -> tuple[Mapping[str, Any], ...]:
    """The `holdings_mismatch` and `holding_missing` signals of trading dates from `since` on (recovery.py,
    eod_cleanup): trading date, symbol, kind, when, and the detail (ours, held, difference, action)."""
    sig = t.signals
    rows = conn.execute(
        select(sig.c.trading_date, sig.c.symbol, sig.c.kind, sig.c.at, sig.c.detail)
        .where(sig.c.kind.in_(_HOLDING_KINDS), sig.c.trading_date >= since).order_by(sig.c.at.desc(), sig.c.id.desc())
    ).all()
    return tuple(dict(r._mapping) for r in rows)


def order_activity(store: Store) -> dict[str, int]:
    """Orders that reached the broker (`placed`, they have a broker id) and modifications sent (`modified`)."""
    with store.connect() as conn:
        placed = conn.execute(
            select(func.count()).select_from(t.orders).where(t.orders.c.broker_order_id.is_not(None))
        ).scalar_one()
        modified = conn.execute(
            select(func.count()).select_from(t.order_events).where(t.order_events.c.event == "modified")
        ).scalar_one()
    return {"placed": placed, "modified": modified}


def task_runs_on(store: Store, day: date) -> list[Mapping[str, Any]]:
    """The ledger rows of `day`, by scheduled time."""
    tr = t.task_runs
    with store.connect() as conn:
        rows = conn.execute(select(tr).where(tr.c.trading_date == day).order_by(tr.c.scheduled_at, tr.c.id)).all()
    return [dict(r._mapping) for r in rows]


def recent_failures(store: Store, *, since: date | None = None, limit: int = 5) -> list[Mapping[str, Any]]:
    """The newest failed ledger rows (from `since` on when given)."""
    tr = t.task_runs
    where = [tr.c.status == "failed"] + ([tr.c.trading_date >= since] if since is not None else [])
    with store.connect() as conn:
        rows = conn.execute(select(tr).where(*where).order_by(tr.c.scheduled_at.desc(), tr.c.id.desc())
                            .limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def _cash(conn: Connection, snapshot: AccountSnapshot | None) -> Decimal | None:
    paper = paper_store.account_cash(conn)
    if paper is not None:
        return paper
    if snapshot is None:
        return None
    f = t.fills
    moved = Decimal(0)
    for side, quantity, price in conn.execute(
        select(f.c.side, f.c.quantity, f.c.price).where(f.c.id > snapshot.fills_upto)
    ).all():
        moved += quantity * price if side == "SELL" else -quantity * price
    return snapshot.cash + moved


def _trade(r: Row[Any]) -> TradeRow:
    return TradeRow(id=r.id, position_id=r.position_id, symbol=r.symbol, entry_date=r.entry_date,
                    entry_price=r.entry_price, quantity=r.quantity, exit_date=r.exit_date, exit_price=r.exit_price,
                    exit_reason=r.exit_reason, gross_pnl=r.gross_pnl, charges=r.charges, net_pnl=r.net_pnl,
                    closed_at=r.closed_at)


def _open_position() -> ColumnElement[bool]:
    return func.lower(t.positions.c.status) == "open"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
