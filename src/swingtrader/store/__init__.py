"""Persistence: SQLAlchemy tables, Alembic migrations, and the `Store` that opens them."""

from swingtrader.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
