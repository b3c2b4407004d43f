"""The store on PostgreSQL (any SQLAlchemy URL is a setting): a server started by the test, the migrations
applied, and a simulated month ending exactly where the same month ends on SQLite."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.simulate import SimulationSpec, run_simulation
from swingtrader.store import Store
from tests.integration.test_store_snapshot import reads_are_one_snapshot


def _pg_bin(name: str) -> str | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return shutil.which(name)


@pytest.fixture(scope="module")
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    base = Path(tempfile.mkdtemp(prefix="swingtrader-pg-"))  # under /tmp: the server's user must reach it
    data = base / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(base, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_postgres, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
                    f"-h 127.0.0.1 -p {port} -k {base} -F", "start"], check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def test_a_simulated_month_on_postgres_equals_sqlite(postgres_url, nifty_dir, tmp_path):
    settings = load_settings(None, data_dir=tmp_path)
    calendar = TradingCalendar.load(cache_dir=tmp_path / "cache")
    bars = open_bar_source(str(nifty_dir))
    spec = SimulationSpec(date(2024, 3, 1), date(2024, 3, 31), str(nifty_dir), Decimal(1_000_000))
    t0 = time.monotonic()
    on_postgres = run_simulation(spec, settings, bars=bars, calendar=calendar, store_url=postgres_url)
    print(f"PostgreSQL month: {time.monotonic() - t0:.1f}s")
    on_sqlite = run_simulation(spec, settings, bars=bars, calendar=calendar, db=tmp_path / "m.sqlite")
    assert on_postgres["trades"] and on_postgres == on_sqlite
    resumed = run_simulation(spec, settings, bars=bars, calendar=calendar, store_url=postgres_url)
    assert resumed == on_postgres  # a finished run resumes to the same report


def test_a_read_on_postgres_is_one_snapshot(postgres_url):
    store = Store.open(postgres_url)
    try:
        reads_are_one_snapshot(store)
    finally:
        store.dispose()
