"""`ServiceState`: typed values round-trip through a real SQLite store; malformed values read as absent,
and a malformed pause flag reads as paused."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.clock import IST
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import sqlite_url
from swingtrader.store.state import NextSlot, PlannedSlot, PublishedPlan, ServiceState, StateKey

NOW = datetime(2024, 3, 6, 12, 30, tzinfo=IST)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(sqlite_url(tmp_path / "state.sqlite"))
    yield s
    s.dispose()


def _raw(store: Store, key: str, value: object) -> None:
    with store.begin() as conn:
        conn.execute(t.service_state.delete().where(t.service_state.c.key == key))
        conn.execute(t.service_state.insert().values(key=key, value=value, updated_at=NOW))


def test_typed_values_round_trip(store: Store) -> None:
    state = ServiceState(store)
    assert (state.paused(), state.mode(), state.next_slot(), state.plan(), state.heartbeat(), state.account()) == (
        False, None, None, None, None, None)
    slot_at = datetime(2024, 3, 6, 13, 15, tzinfo=IST)
    state.set_paused(True, NOW)
    state.set_mode("paper (read-only)", NOW)
    state.set_next_slot("position_monitor", slot_at, NOW)
    state.set_plan(date(2024, 3, 6), [PlannedSlot("analysis", "16:00", slot_at)], NOW)
    state.set_heartbeat(NOW)
    state.record_account(Decimal("1000.05"), {"SBIN": Decimal("745.20")}, NOW)
    state.set_simulation({"start": "2024-01-01", "end": "2024-03-31", "data": "bundled", "capital": "1000000"}, NOW)
    assert state.paused() is True and state.mode() == "paper (read-only)"
    assert state.next_slot() == NextSlot("position_monitor", slot_at)
    assert state.plan() == PublishedPlan(date(2024, 3, 6), (PlannedSlot("analysis", "16:00", slot_at),))
    assert state.heartbeat() == NOW
    account = state.account()
    assert account is not None and account.cash == Decimal("1000.05") and account.marks == {"SBIN": Decimal("745.20")}
    assert account.at == NOW and account.fills_upto == 0
    assert state.simulation() == {"start": "2024-01-01", "end": "2024-03-31", "data": "bundled", "capital": "1000000"}
    state.set_paused(False, NOW)
    assert state.paused() is False


@pytest.mark.parametrize(("key", "value"), [
    (StateKey.NEXT_SLOT, {"task": "analysis", "at": "2024-03-06T16:00:00"}),  # naive time
    (StateKey.PLAN, {"date": "2024-03-06", "slots": [{"task": "analysis"}]}),
    (StateKey.HEARTBEAT, "yesterday"),
    (StateKey.ACCOUNT, {"at": NOW.isoformat(), "cash": "lots", "marks": {}, "fills_upto": 0}),
    (StateKey.MODE, 3),
    (StateKey.SIMULATION, ["2024-01-01"]),
])
def test_malformed_values_read_as_absent(store: Store, key: StateKey, value: object) -> None:
    _raw(store, key.value, value)
    getter = {StateKey.NEXT_SLOT: "next_slot", StateKey.PLAN: "plan", StateKey.HEARTBEAT: "heartbeat",
              StateKey.ACCOUNT: "account", StateKey.MODE: "mode", StateKey.SIMULATION: "simulation"}[key]
    assert getattr(ServiceState(store), getter)() is None


def test_a_malformed_pause_flag_keeps_new_orders_paused(store: Store) -> None:
    _raw(store, "paused", "no")
    assert ServiceState(store).paused() is True
