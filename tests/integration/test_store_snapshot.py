"""A read through `Store.connect()` is one snapshot: a write committed by another connection between two of its
statements is not seen until the next read (the dashboard's figures are from one moment)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from swingtrader.clock import IST
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url

NOW = datetime(2024, 6, 3, 10, 0, tzinfo=IST)


def _put(store: Store, key: str) -> None:
    with store.begin() as conn:
        conn.execute(t.service_state.insert().values(key=key, value="x", updated_at=NOW))


def _count(conn) -> int:
    return conn.execute(select(func.count()).select_from(t.service_state)
                        .where(t.service_state.c.key.like("snapshot-%"))).scalar_one()


def reads_are_one_snapshot(store: Store) -> None:
    _put(store, "snapshot-1")
    with store.connect() as conn:
        first = _count(conn)
        _put(store, "snapshot-2")  # another connection commits meanwhile
        assert _count(conn) == first == 1
    with store.connect() as conn:
        assert _count(conn) == 2


def test_a_read_on_sqlite_is_one_snapshot(tmp_path):
    store = Store.open(sqlite_url(tmp_path / "s.sqlite"))
    try:
        reads_are_one_snapshot(store)
    finally:
        store.dispose()
