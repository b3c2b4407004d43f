"""One owner per store, for the commands: the store's identity checked, then the instance lease taken
(`store/lease.py`); a second process exits 1 naming the holder."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from swingtrader.commands._common import fail
from swingtrader.store import Store
from swingtrader.store.identity import WrongStore, account_id, ensure
from swingtrader.store.lease import Lease, LeaseHeld, LeaseInfo

log = logging.getLogger(__name__)


def check_identity_or_exit(settings: Any, store: Store, clock: Any, mode: str | None = None) -> None:
    """Exit 2 if the store belongs to another mode or account; record them on a store nobody used yet."""
    mode = mode or settings.mode
    ucc = settings.kotak_ucc.get_secret_value() if mode == "live" and settings.kotak_ucc else None
    try:
        ensure(store, mode, account_id(ucc), clock.now())
    except WrongStore as exc:
        store.dispose()
        fail(str(exc))


def take_lease_or_exit(settings: Any, store: Store, clock: Any, *, control_url: str | None = None
                       ) -> tuple[Lease, LeaseInfo | None]:
    """Take the store's lease and fence its writes with it; exit 1 naming the holder if it is live.
    Returns the lease and the previous holder when an expired lease was taken over (logged here)."""
    lease = Lease(store, clock, mode=settings.mode, expiry=timedelta(seconds=settings.lease_expiry_seconds),
                  control_url=control_url)
    try:
        previous = lease.acquire()
    except LeaseHeld as exc:
        store.dispose()
        fail(str(exc), 1)
    lease.install()
    return lease, previous
