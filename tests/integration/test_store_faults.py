"""Storage faults are survivable: a store locked by another process is waited for within a bounded budget, and a
full disk is a typed error that stops new orders until space returns. Real SQLite files, a real second process
holding the write lock, a real size-limited tmpfs."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from swingtrader.broker.base import OrderType, Side
from swingtrader.clock import IST, SimClock
from swingtrader.commands.run import _Heartbeat
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.db import StoreBusy, StoreFull, sqlite_url
from swingtrader.store.state import ServiceState

NOW = datetime(2024, 6, 28, 16, 5, tzinfo=IST)


def put(store: Store, key: str, value: object) -> None:
    """One write of a `service_state` row through the store's own transaction (what every writer uses)."""
    with store.begin() as conn:
        row = t.service_state
        if conn.execute(row.update().where(row.c.key == key).values(value=value, updated_at=NOW)).rowcount == 0:
            conn.execute(row.insert().values(key=key, value=value, updated_at=NOW))


def get(store: Store, key: str) -> object:
    with store.connect() as conn:
        return conn.execute(select(t.service_state.c.value).where(t.service_state.c.key == key)).scalar()
_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE service_state SET value = '\\"locker\\"' WHERE key = 'owner'")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("released", flush=True)
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = tmp_path / "locked.sqlite"
    Store.open(sqlite_url(db)).dispose()
    s = Store(sqlite_url(db), busy_timeout_s=0.1, retry_budget_s=30.0)
    put(s, "owner", "service")
    yield s
    s.dispose()


@pytest.fixture
def locker(store: Store) -> Iterator[subprocess.Popen]:
    """Another process holding `BEGIN IMMEDIATE` on the store until a line is written to its stdin."""
    proc = subprocess.Popen([sys.executable, "-c", _LOCKER, store.engine.url.database], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        release(proc)


def release(proc: subprocess.Popen) -> None:
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    proc.wait(10)


class _OnRecord(logging.Handler):
    """Sets `event` when a record whose message contains `text` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.WARNING)
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_a_write_waits_for_a_lock_held_past_the_busy_timeout_and_then_succeeds(store, locker):
    seen = _OnRecord("retrying")
    logging.getLogger("swingtrader.store.db").addHandler(seen)
    outcome: list[object] = []
    writer = threading.Thread(target=lambda: outcome.append(put(store, "heartbeat", "beat-1")))
    try:
        writer.start()
        assert seen.event.wait(20), "the write never met the lock"
        assert writer.is_alive()  # still waiting: the lock outlived several busy timeouts
        release(locker)
        writer.join(20)
    finally:
        logging.getLogger("swingtrader.store.db").removeHandler(seen)
    assert outcome == [None]
    assert get(store, "heartbeat") == "beat-1"
    assert get(store, "owner") == "locker"  # the other process's write is kept too


def test_a_heartbeat_against_a_lock_past_the_budget_is_skipped_and_the_next_one_is_written(store, locker):
    short = Store(store.url, busy_timeout_s=0.05, retry_budget_s=0.3)
    with pytest.raises(StoreBusy, match="locked by another process"):
        put(short, "x", 1)
    beat = _Heartbeat(short, SimClock(NOW))
    beat.monotonic -= 2  # a beat is due
    beat()  # the lock is still held: no exception
    assert ServiceState(short).heartbeat() is None
    release(locker)
    beat.monotonic -= 2
    beat()
    assert ServiceState(short).heartbeat() == NOW
    short.dispose()


# --- a full disk ---------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs (needs root; skipped elsewhere: a file-size rlimit gives SQLite an I/O error, not 'full')."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


def intent(symbol: str) -> object:
    from swingtrader.order_path.intent import OrderIntent

    return OrderIntent(date(2024, 6, 28), "place_buy_orders", "entry", symbol, Side.BUY, 10, OrderType.LIMIT,
                       Decimal("101.00"), True, Decimal("100"))


def test_a_full_disk_is_typed_blocks_new_orders_and_writes_resume_when_space_returns(tmp_path, small_disk,
                                                                                     monkeypatch):
    from swingtrader.config import load_settings
    from swingtrader.market.bars import open_bar_source
    from swingtrader.market.calendar import TradingCalendar
    from swingtrader.runtime import assemble
    from tests.unit.paper_fixtures import BARS

    for key in [k for k in __import__("os").environ if k.upper().startswith("SWINGTRADER_")]:
        monkeypatch.delenv(key)
    (tmp_path / "bars").mkdir()
    (tmp_path / "bars" / "AAA.csv").write_text(BARS)
    (tmp_path / "bars" / "BBB.csv").write_text(BARS)
    settings = load_settings(data_dir=tmp_path / "var", data=str(tmp_path / "bars"))
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cal")
    Store.open(sqlite_url(small_disk / "s.sqlite")).dispose()
    store = Store(sqlite_url(small_disk / "s.sqlite"), min_free_bytes=512 * 1024)
    clock = SimClock(NOW)
    service = assemble(settings, clock, store=store, calendar=calendar, bars=open_bar_source(str(tmp_path / "bars")))
    beat = _Heartbeat(store, clock)
    alerts: list[tuple[str, str, str]] = []
    beat.alert = lambda *a: alerts.append(a)

    filler = fill(small_disk)
    with pytest.raises(StoreFull, match="full"):
        for n in range(200):  # the WAL has some room left: write until the disk refuses
            put(store, f"bulk-{n}", "x" * 60000)
    assert store.degraded is not None
    beat.monotonic -= 2
    beat()  # a heartbeat on a full disk does not raise
    assert alerts and alerts[0][0] == "service_stopped" and "full" in alerts[0][2]
    try:
        blocked = service.context.orders.submit(intent("AAA"))
        assert blocked.reason == "kill_switch"
    except StoreFull:
        pass  # the blocked order could not even be recorded: no order either way

    filler.unlink()
    put(store, "after", "space")
    assert store.degraded is None
    beat.monotonic -= 2
    beat()
    assert alerts[-1][0] == "service_started"
    placed = service.context.orders.submit(intent("BBB"))
    assert placed.broker_order_id is not None
    assert [o.symbol for o in service.context.broker.orders()] == ["BBB"]  # AAA never reached the exchange
    assert get(store, "after") == "space"
    store.dispose()
