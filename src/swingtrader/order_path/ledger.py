"""The stored orders (the outbox): an intent is stored under its client tag before it is sent, and every
status change is written with an order event. Every write checks the state table (`state.check`). This
process is the only writer of orders, so active ones are served from a write-through cache."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select

from swingtrader.broker.base import OrderType, Side
from swingtrader.clock import Clock
from swingtrader.order_path import state
from swingtrader.order_path.intent import OrderIntent, OrderRecord, client_tag
from swingtrader.order_path.state import LocalStatus
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import inserted_id

# Built once (orders change thousands of times in a simulated month); values are passed at execution.
_UPDATE_ORDER = t.orders.update().where(t.orders.c.id == bindparam("b_id"))
_INSERT_EVENT = t.order_events.insert()


class Ledger:
    """Reads and writes of the `orders` and `order_events` tables. `on_write` sees every record written."""

    def __init__(self, store: Store, clock: Clock, on_write: Callable[[OrderRecord], None]) -> None:
        self._store = store
        self._clock = clock
        self._on_write = on_write
        self._active: dict[int, OrderRecord] | None = None

    def by_tag(self, tag: str) -> OrderRecord | None:
        with self._store.connect() as conn:
            row = conn.execute(select(t.orders).where(t.orders.c.tag == tag)).first()
        return None if row is None else _record(row)

    def find(self, intent: OrderIntent) -> OrderRecord | None:
        """The stored intent with the same key (trading date, task, symbol, side, attempt), if any."""
        c = t.orders.c
        q = select(t.orders).where(
            c.trading_date == intent.trading_date, c.task == intent.task, c.symbol == intent.symbol,
            c.side == intent.side.value, c.attempt == intent.attempt,
        ).order_by(c.id)
        with self._store.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else _record(row)

    def active(self, side: Side | None = None, symbol: str | None = None) -> list[OrderRecord]:
        """Orders still working (sending, pending, open, unknown or lost), oldest first."""
        if self._active is None:
            q = select(t.orders).where(t.orders.c.status.in_([s.value for s in LocalStatus if s.is_active]))
            with self._store.connect() as conn:
                self._active = {r.id: _record(r) for r in conn.execute(q).all()}
        return [
            r for _, r in sorted(self._active.items())
            if (side is None or r.side is side) and (symbol is None or r.symbol == symbol)
        ]

    def drop_cache(self) -> None:
        """Forget the cached active orders (a write was rolled back): they are read again next time."""
        self._active = None

    def symbols_since(self, day: date) -> set[str]:
        """Symbols of our orders (any status) of trading dates from `day` on."""
        q = select(t.orders.c.symbol).where(t.orders.c.trading_date >= day).distinct()
        with self._store.connect() as conn:
            return set(conn.execute(q).scalars())

    def for_day(self, trading_date: date, task: str | None = None) -> list[OrderRecord]:
        q = select(t.orders).where(t.orders.c.trading_date == trading_date)
        if task is not None:
            q = q.where(t.orders.c.task == task)
        with self._store.connect() as conn:
            return [_record(r) for r in conn.execute(q.order_by(t.orders.c.id)).all()]

    def reload(self, rec: OrderRecord) -> OrderRecord:
        with self._store.connect() as conn:
            row = conn.execute(select(t.orders).where(t.orders.c.id == rec.id)).first()
        return rec if row is None else _record(row)

    def acknowledged_since(self, day: date) -> Sequence[Any]:
        """(broker_order_id, created_at, filled_quantity) of every acknowledged order of trading dates from
        `day` on."""
        c = t.orders.c
        q = select(c.broker_order_id, c.created_at, c.filled_quantity).where(
            c.broker_order_id.is_not(None), c.trading_date >= day)
        with self._store.connect() as conn:
            return conn.execute(q).all()

    def insert(self, intent: OrderIntent, status: LocalStatus, reason: str | None) -> OrderRecord:
        """Store a new intent under the day's next client tag, with its `created` event."""
        if status not in state.NEW:
            raise state.IllegalTransition(f"a new order cannot start {status}")
        now = self._clock.now()
        with self._store.begin() as conn:
            sequence = conn.execute(
                select(func.count()).select_from(t.orders).where(t.orders.c.trading_date == intent.trading_date)
            ).scalar_one() + 1
            res = conn.execute(
                t.orders.insert().values(
                    tag=client_tag(intent.trading_date, intent.task, intent.side, sequence), attempt=intent.attempt,
                    broker_order_id=None, trading_date=intent.trading_date, task=intent.task,
                    purpose=intent.purpose, symbol=intent.symbol, side=intent.side.value, quantity=intent.quantity,
                    order_type=intent.order_type.value, price=intent.price, amo=intent.amo, status=status.value,
                    filled_quantity=0, average_price=None, reason=reason, created_at=now, updated_at=now,
                )
            )
            oid = inserted_id(res)
            conn.execute(
                t.order_events.insert().values(order_id=oid, at=now, event="created", status=status.value,
                                               detail={"reason": reason} if reason else None)
            )
            row = conn.execute(select(t.orders).where(t.orders.c.id == oid)).one()
        return self._remember(_record(row))

    def update(
        self, rec: OrderRecord, *, event: str, detail: dict[str, Any] | None = None, conn: Connection | None = None,
        **values: Any,
    ) -> OrderRecord:
        """Write `values` to `rec` with an order event `event` (in `conn`'s transaction, else its own)."""
        if conn is None:
            with self._store.begin() as own:
                return self.update(rec, event=event, detail=detail, conn=own, **values)
        status = values.get("status", rec.status)
        state.check(rec.status, status, rec.tag)
        now = self._clock.now()
        db_values = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in values.items()}
        conn.execute(_UPDATE_ORDER, {"b_id": rec.id, "updated_at": now, **db_values})
        conn.execute(_INSERT_EVENT, {"order_id": rec.id, "at": now, "event": event, "status": str(status),
                                     "detail": detail})
        return self._remember(replace(rec, **values))

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction (a status change, its fill and the position update commit together)."""
        return self._store.begin()

    def _remember(self, rec: OrderRecord) -> OrderRecord:
        if self._active is not None:
            if rec.status.is_active:
                self._active[rec.id] = rec
            else:
                self._active.pop(rec.id, None)
        self._on_write(rec)
        return rec


def _record(row: Row[Any]) -> OrderRecord:
    return OrderRecord(
        id=row.id, tag=row.tag, broker_order_id=row.broker_order_id, trading_date=row.trading_date, task=row.task,
        purpose=row.purpose, symbol=row.symbol, side=Side(row.side), quantity=row.quantity,
        order_type=OrderType(row.order_type), price=row.price, amo=row.amo, status=LocalStatus(row.status),
        filled_quantity=row.filled_quantity, average_price=row.average_price, reason=row.reason,
        attempt=row.attempt, created_at=row.created_at,
    )

