"""`python -m swingtrader.store`: apply the migrations to the store at `$SWINGTRADER_STORE_URL` (used by
`Store.open(..., migrate_in_child=True)` so that the service never imports Alembic)."""

import os
import sys

from swingtrader.store.db import Store, StoreError

try:
    Store.open(os.environ["SWINGTRADER_STORE_URL"])
except StoreError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
