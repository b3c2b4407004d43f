"""What a store is for: its mode (paper, live, simulation) and, for live, its account, recorded once when the
first command that writes takes it. Every command checks it before touching the store.

The account is kept as a short hash of the UCC (the UCC itself is a credential and never stored)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from swingtrader.store import tables as t
from swingtrader.store.db import Store
from swingtrader.store.state import ServiceState

MODES = ("paper", "live", "simulation")


class WrongStore(Exception):
    """The store belongs to another mode or account than the command asks for."""


@dataclass(frozen=True)
class Identity:
    mode: str
    account: str | None


def account_id(ucc: str | None) -> str | None:
    """The stored form of a live account: the first 16 hex digits of the UCC's SHA-256."""
    return None if not ucc else hashlib.sha256(ucc.encode()).hexdigest()[:16]


def read(store: Store) -> Identity | None:
    """The recorded identity; for a store made before identities were recorded, the one its state implies
    (`simulation` metadata, or the `mode` the service last ran in); None for a store nobody used yet."""
    with store.connect() as conn:
        row = conn.execute(select(t.store_identity).where(t.store_identity.c.id == 1)).first()
    if row is not None:
        return Identity(row.mode, row.account)
    state = ServiceState(store)
    if state.simulation() is not None:
        return Identity("simulation", None)
    mode = state.mode()
    if isinstance(mode, str) and mode.split(" ")[0] in MODES:
        return Identity(mode.split(" ")[0], None)
    return None


def ensure(store: Store, mode: str, account: str | None, now: datetime) -> Identity:
    """Check the store is for `mode` (and `account`, when both are known); record them if nothing is recorded.
    Raises `WrongStore` with a message naming both."""
    found = read(store)
    if found is None:
        try:
            with store.begin() as conn:
                conn.execute(t.store_identity.insert().values(id=1, mode=mode, account=account, created_at=now))
        except IntegrityError:  # another process recorded it first: check theirs
            return ensure(store, mode, account, now)
        return Identity(mode, account)
    if found.mode != mode:
        raise WrongStore(f"the store at {store.location} is a {found.mode} store; this command is for {mode} "
                         f"and refuses to touch it")
    if found.account and account and found.account != account:
        raise WrongStore(f"the store at {store.location} belongs to another live account; refusing to touch it")
    if found.account is None and account is not None:
        with store.begin() as conn:
            conn.execute(t.store_identity.update().where(t.store_identity.c.id == 1).values(account=account))
    return found
