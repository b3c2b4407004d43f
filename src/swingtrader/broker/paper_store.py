"""Persistence of the paper exchange: its account, order book, holdings and fills in the store.

Kept apart from the service's own tables on purpose: the service learns about the exchange only through the
broker protocol. Every function works inside the caller's transaction. Nothing else reads these tables: the read
model and the simulation report use the public readers here (`account_cash`, `duplicate_tags`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from swingtrader.broker.base import Order, OrderStatus, OrderType, Side
from swingtrader.store import tables as t

# Built once: the exchange writes an order row on every change (thousands a simulated month).
_INSERT_ORDER = t.paper_orders.insert()
_UPDATE_ORDER = t.paper_orders.update().where(t.paper_orders.c.order_id == bindparam("b_order_id"))


@dataclass
class Account:
    cash: Decimal
    matched_until: datetime | None
    token_serial: int
    token_expires: datetime | None
    next_serial: int


@dataclass
class PaperHolding:
    quantity: int
    average_price: Decimal
    last_buy_date: date | None
    last_buy_quantity: int


@dataclass(frozen=True)
class BookRow:
    """An order as the exchange keeps it: the order, the cash it blocks, when it went live, its session."""

    order: Order
    blocked: Decimal
    live_from: datetime
    session_date: date


def load_account(conn: Connection, initial_cash: Decimal) -> Account:
    """The account, created with `initial_cash` on first use."""
    row = conn.execute(select(t.paper_account).where(t.paper_account.c.id == 1)).first()
    if row is None:
        conn.execute(t.paper_account.insert().values(id=1, cash=initial_cash, matched_until=None, token_serial=0,
                                                     next_order_serial=1))
        return Account(initial_cash, None, 0, None, 1)
    return Account(row.cash, row.matched_until, row.token_serial, row.token_expires_at, row.next_order_serial)


def load_book(conn: Connection, since: date) -> list[BookRow]:
    """Orders of sessions from `since` on, and every order still working."""
    rows = conn.execute(
        select(t.paper_orders).where(
            (t.paper_orders.c.session_date >= since)
            | t.paper_orders.c.status.in_([OrderStatus.PENDING.value, OrderStatus.OPEN.value])
        )
    ).all()
    return [BookRow(_order_from_row(r), r.blocked, r.placed_at, r.session_date) for r in rows]


def load_order(conn: Connection, order_id: str) -> BookRow | None:
    """One order by its number, at any date, with the time of its last fill (`filled_at`), if any."""
    r = conn.execute(select(t.paper_orders).where(t.paper_orders.c.order_id == order_id)).first()
    if r is None:
        return None
    pf = t.paper_fills
    filled_at = conn.execute(select(func.max(pf.c.at)).where(pf.c.order_id == order_id)).scalar()
    order = replace(_order_from_row(r), filled_at=filled_at)
    return BookRow(order, r.blocked, r.placed_at, r.session_date)


def load_holdings(conn: Connection) -> dict[str, PaperHolding]:
    return {
        r.symbol: PaperHolding(r.quantity, r.average_price, r.last_buy_date, r.last_buy_quantity)
        for r in conn.execute(select(t.paper_holdings)).all()
    }


def save_account(conn: Connection, a: Account) -> None:
    conn.execute(
        t.paper_account.update().where(t.paper_account.c.id == 1).values(
            cash=a.cash, matched_until=a.matched_until, token_serial=a.token_serial,
            token_expires_at=a.token_expires, next_order_serial=a.next_serial,
        )
    )


def save_order(conn: Connection, row: BookRow, *, new: bool) -> None:
    o = row.order
    values = dict(
        tag=o.tag, symbol=o.symbol, side=o.side.value, quantity=o.quantity, order_type=o.order_type.value,
        price=o.price, amo=o.amo, status=o.status.value, filled_quantity=o.filled_quantity,
        average_price=o.average_price, blocked=row.blocked, placed_at=row.live_from, session_date=row.session_date,
        reject_reason=o.reject_reason,
    )
    if new:
        conn.execute(_INSERT_ORDER, {"order_id": o.order_id, **values})
    else:
        conn.execute(_UPDATE_ORDER, {"b_order_id": o.order_id, **values})


def save_holding(conn: Connection, symbol: str, h: PaperHolding | None) -> None:
    conn.execute(t.paper_holdings.delete().where(t.paper_holdings.c.symbol == symbol))
    if h is not None:
        conn.execute(t.paper_holdings.insert().values(
            symbol=symbol, quantity=h.quantity, average_price=h.average_price, last_buy_date=h.last_buy_date,
            last_buy_quantity=h.last_buy_quantity,
        ))


def insert_fill(conn: Connection, order: Order, quantity: int, price: Decimal, charges: Decimal, at: datetime
                ) -> None:
    conn.execute(t.paper_fills.insert().values(
        order_id=order.order_id, tag=order.tag, symbol=order.symbol, side=order.side.value, quantity=quantity,
        price=price, charges=charges, at=at,
    ))


def fills_since(conn: Connection, start: datetime | None = None) -> list[Any]:
    """The exchange's fills (all of them without `start`), in the order they happened."""
    q = select(t.paper_fills).order_by(t.paper_fills.c.id)
    return list(conn.execute(q if start is None else q.where(t.paper_fills.c.at >= start)).all())


def account_cash(conn: Connection) -> Decimal | None:
    """The exchange's cash (amounts blocked by working buys included); None when this store holds no paper
    exchange (live mode)."""
    return conn.execute(select(t.paper_account.c.cash).where(t.paper_account.c.id == 1)).scalar()


def duplicate_tags(conn: Connection) -> int:
    """How many client tags the exchange accepted on more than one order (0 when orders are idempotent)."""
    po = t.paper_orders
    dups = select(po.c.tag).where(po.c.tag.is_not(None)).group_by(po.c.tag).having(func.count() > 1).subquery()
    return conn.execute(select(func.count()).select_from(dups)).scalar_one()


def _order_from_row(r: Any) -> Order:
    return Order(
        order_id=r.order_id, tag=r.tag, symbol=r.symbol, side=Side(r.side), quantity=r.quantity,
        order_type=OrderType(r.order_type), price=r.price, status=OrderStatus(r.status),
        filled_quantity=r.filled_quantity, average_price=r.average_price, amo=r.amo, placed_at=r.placed_at,
        reject_reason=r.reject_reason,
    )
