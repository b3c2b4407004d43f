"""`SignalLog`: the strategy signals the tasks record (`signals` table), each at most once per symbol, kind
and trading day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select

from swingtrader.store import tables as t
from swingtrader.store.db import Store


class SignalLog:
    """Appends to the `signals` table; the only writer of it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, day: date, symbol: str, kind: str, detail: dict[str, Any], *, at: datetime) -> bool:
        """Record one signal, unless one of the same symbol, kind and day is already recorded. True if a row
        was written."""
        with self._store.begin() as conn:
            seen = conn.execute(
                select(t.signals.c.id).where(
                    t.signals.c.trading_date == day, t.signals.c.symbol == symbol, t.signals.c.kind == kind
                )
            ).first()
            if seen is not None:
                return False
            conn.execute(insert(t.signals).values(at=at, trading_date=day, symbol=symbol, kind=kind, detail=detail))
        return True
