"""A hot standby finishes the week a killed owner began (issue 9), on a PostgreSQL server the test starts.

An owner process simulates a week of 2024 on the bundled data under the store's instance lease; a standby process
waits on the lease; the owner is SIGKILLed just before its N-th write of the `orders` table (chosen by event, on a
virtual clock, so it lands at the same point on any machine). The standby takes over within the lease expiry
+ 10 s and finishes the week, which ends with exactly the report (trades, P&L, equity, task runs), orders,
exchange orders and ledger of the same week run uninterrupted in another database. Driver: `takeover_simulate.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.e2e.ledger import assert_whole_ledger
from tests.integration.test_postgres_store import postgres_url as postgres_server

HERE = Path(__file__).parent
WEEK = ("2024-06-03", "2024-06-09")  # orders placed, filled and closed: 52 `orders` writes, 3 trades
KILL_AT = 26  # the owner dies before its 26th `orders` write, mid-week
EXPIRY = 2.0  # seconds: short, so the standby waits little; every wait below is on an event, bounded

postgres = postgres_server  # the server fixture, started once for this module


def _database(server: str, name: str) -> str:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _harness(role: str, url: str, tmp_path: Path, **popen) -> tuple[subprocess.Popen, Path]:
    report = tmp_path / f"{role}.json"
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / role), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_LEASE_EXPIRY_SECONDS=str(EXPIRY),
               PYTHONPATH=os.pathsep.join([str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(HERE / "takeover_simulate.py"), role, url, str(report),
                             str(KILL_AT), *WEEK, "bundled"], env=env, text=True, **popen)
    return proc, report


def _rows(url: str) -> dict[str, list[tuple]]:
    queries = {
        "orders": "SELECT tag, symbol, side, quantity, order_type, price, amo, status, filled_quantity, "
                  "average_price, reason FROM orders",
        "exchange": "SELECT tag, symbol, side, quantity, price, status, filled_quantity, average_price "
                    "FROM paper_orders",
        "ledger": "SELECT task, trading_date, slot, scheduled_at, status FROM task_runs",
        "lease": "SELECT count(*) FROM instance_lease",
    }
    engine = create_engine(url)
    with engine.connect() as conn:
        out = {name: sorted(tuple(r) for r in conn.execute(text(q))) for name, q in queries.items()}
    engine.dispose()
    return out


def _read_until(stream, marker: str, proc: subprocess.Popen) -> str:
    """Lines of `stream` up to the first holding `marker` (the process's own output: an event, not a timeout)."""
    seen = []
    for line in stream:
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"exited {proc.wait()} before {marker!r}: {''.join(seen)}")


def test_standby_takes_over_a_killed_owner_and_the_week_ends_as_if_uninterrupted(postgres, tmp_path):
    clean_url, shared_url = _database(postgres, "uninterrupted"), _database(postgres, "takeover")
    clean, clean_report = _harness("plain", clean_url, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = clean.communicate(timeout=300)
    assert clean.returncode == 0, err
    expected = json.loads(clean_report.read_text())
    assert expected["orders"]["placed"] >= 5 and expected["orders"]["filled"] >= 5 and len(expected["trades"]) >= 2
    assert expected["orders_writes"] > KILL_AT

    owner_err = tmp_path / "owner.err"
    with owner_err.open("w") as err_file:
        owner, _ = _harness("owner", shared_url, tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=err_file)
    standby = None
    try:
        assert _read_until(owner.stdout, "owner: running", owner) == "owner: running (orders writes so far: 0)\n"
        standby, standby_report = _harness("standby", shared_url, tmp_path, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE)
        waiting = _read_until(standby.stdout, "standby: owner is", standby)
        assert waiting.startswith(f"standby: owner is pid {owner.pid} on host")
        owner.stdin.write("go\n")  # the owner resumes its week with the standby waiting
        owner.stdin.close()
        assert owner.wait(timeout=300) == -9, owner_err.read_text()
        killed = time.monotonic()
        assert f"takeover_simulate: SIGKILL at orders-write #{KILL_AT}\n" in owner_err.read_text()
        _read_until(standby.stderr, f"took over the store's lease from pid {owner.pid}", standby)
        takeover = time.monotonic() - killed
        _, err = standby.communicate(timeout=300)
        assert standby.returncode == 0, err
    finally:
        for proc in (owner, standby):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    finished = json.loads(standby_report.read_text())
    print(f"takeover {takeover:.2f} s after SIGKILL (lease expiry {EXPIRY} s); `orders` writes: owner "
          f"{KILL_AT - 1}, standby {finished['orders_writes']}, uninterrupted {expected['orders_writes']}")
    assert takeover < EXPIRY + 10
    for key in ("trades", "pnl", "final_equity", "task_runs", "orders", "open_orders", "open_positions"):
        assert finished[key] == expected[key], key
    assert finished["duplicate_client_tags"] == 0
    assert finished["orders_writes"] < expected["orders_writes"]  # the standby did not replay the week from start
    assert _rows(shared_url) == _rows(clean_url)  # orders, exchange orders, ledger; each lease given back
    assert_whole_ledger(clean_url)
    assert_whole_ledger(shared_url)
