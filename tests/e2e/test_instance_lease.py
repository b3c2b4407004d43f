"""One owner per store: two `run`s started together on one store (SQLite, and PostgreSQL with a server the
test starts): exactly one runs, the other exits 1 naming the holder. An owner frozen (SIGSTOP) past its lease
and resumed writes nothing and stops; a second `run` takes an expired lease over."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from tests.e2e.ledger import assert_whole_ledger
from tests.integration.test_postgres_store import postgres_url as postgres_server

EXPIRY = 2.0  # seconds: short, so the tests wait little; every wait below is on an event, bounded


def _env(tmp_path: Path, url: str | None = None) -> dict[str, str]:
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_LEASE_EXPIRY_SECONDS=str(EXPIRY),
               SWINGTRADER_DATA_WAIT_MINUTES="0")  # on a real evening the owner's analysis must not wait for data
    if url:
        env["SWINGTRADER_DATABASE_URL"] = url
    return env


def _run(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_started(proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"run exited {proc.wait()}: {proc.stderr.read()}")
        if "plan for" in line or "no trading session" in line:
            return
    raise AssertionError("run did not print its plan")


def _wait_running(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until the service logs that it started (its signal handlers are installed by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"run exited {proc.wait()}")
        if "swingtrader started in" in line:
            return
    raise AssertionError("run did not log its start")


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _two_runs_one_owner(tmp_path: Path, env: dict[str, str]) -> None:
    a, b = _run(tmp_path, env), _run(tmp_path, env)
    try:
        deadline = time.monotonic() + 90
        while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        loser, winner = (a, b) if a.poll() is not None else (b, a)
        assert loser.returncode == 1
        err = loser.stderr.read()
        assert "error: the store is in use: held by pid" in err
        assert f"pid {winner.pid} on host" in err and "heartbeat" in err
        _wait_started(winner)
        _wait_running(winner)
        assert winner.poll() is None  # the owner keeps running
        winner.send_signal(signal.SIGTERM)
        assert winner.wait(timeout=20) == 0
    finally:
        _stop(a, b)


def test_two_runs_on_one_sqlite_store_one_owner(tmp_path):
    _two_runs_one_owner(tmp_path, _env(tmp_path))
    with sqlite3.connect(tmp_path / "var" / "swingtrader.sqlite") as db:
        assert db.execute("SELECT count(*) FROM instance_lease").fetchone() == (0,)  # released on a clean stop


def test_second_run_exits_within_5s_of_a_live_owner(tmp_path):
    env = _env(tmp_path)
    owner = _run(tmp_path, env)
    try:
        _wait_started(owner)
        t0 = time.monotonic()
        second = _run(tmp_path, env)
        assert second.wait(timeout=30) == 1
        assert time.monotonic() - t0 < 5, "the second run must refuse at once"
        assert f"held by pid {owner.pid}" in second.stderr.read()
    finally:
        _stop(owner)


def _snapshot(path: Path) -> tuple:
    with sqlite3.connect(path) as db:
        return tuple(db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                     for table in ("instance_lease", "service_state", "task_runs", "orders", "session_events"))


def test_owner_frozen_past_its_lease_writes_nothing_after_waking(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "var" / "swingtrader.sqlite"
    owner = _run(tmp_path, env)
    try:
        _wait_started(owner)
        owner.send_signal(signal.SIGSTOP)
        time.sleep(0.3)  # a renewal in flight when the signal arrived has committed
        frozen = _snapshot(db)
        (lease,) = frozen[0]
        expires = datetime.fromisoformat(lease[-1])
        while datetime.now(UTC) <= expires:  # the lease runs out while the owner is frozen
            time.sleep(0.2)
        owner.send_signal(signal.SIGCONT)
        assert owner.wait(timeout=30) == 1
        assert _snapshot(db) == frozen  # nothing written after waking: no renewal, no state, no ledger row
        assert "lease" in owner.stderr.read()
    finally:
        _stop(owner)


def test_expired_lease_is_taken_over_and_the_old_owner_stops(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "var" / "swingtrader.sqlite"
    old = _run(tmp_path, env)
    new = None
    try:
        _wait_started(old)
        old.send_signal(signal.SIGSTOP)
        time.sleep(EXPIRY + 0.5)
        new = _run(tmp_path, env)
        _wait_started(new)
        _wait_running(new)
        old.send_signal(signal.SIGCONT)
        assert old.wait(timeout=30) == 1
        assert new.poll() is None
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT pid FROM instance_lease").fetchone() == (new.pid,)
        new.send_signal(signal.SIGTERM)
        assert new.wait(timeout=20) == 0
        assert "took over the store's lease from pid" in (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
    finally:
        _stop(old, *([new] if new else []))


postgres = postgres_server  # the server fixture, started once for this module


def test_two_runs_on_one_postgres_store_one_owner(postgres, tmp_path):
    _two_runs_one_owner(tmp_path, _env(tmp_path, postgres))


def _run_task(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swingtrader", "run-task", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_run_task_goes_through_the_running_owner(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "var" / "swingtrader.sqlite"
    owner = _run(tmp_path, env)
    try:
        _wait_started(owner)
        _wait_running(owner)
        done = _run_task(tmp_path, env, "eod_cleanup", "--date", "2024-07-01")
        assert done.returncode == 0, done.stderr
        assert f"eod_cleanup 2024-07-01 18:00: succeeded (run by the running service, pid {owner.pid})" in done.stdout
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT pid FROM instance_lease").fetchone() == (owner.pid,)
            assert conn.execute("SELECT status FROM task_runs WHERE task = 'eod_cleanup' AND trading_date = "
                                "'2024-07-01'").fetchall() == [("succeeded",)]
        again = _run_task(tmp_path, env, "eod_cleanup", "--date", "2024-07-01")  # the owner's ledger says done
        assert "succeeded" in again.stdout
        with sqlite3.connect(db) as conn:  # and it did not run again
            assert conn.execute("SELECT attempts FROM task_runs WHERE task = 'eod_cleanup' AND trading_date = "
                                "'2024-07-01'").fetchall() == [(1,)]
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(timeout=20) == 0
    finally:
        _stop(owner)
    alone = _run_task(tmp_path, env, "eod_cleanup", "--date", "2024-07-02")  # no owner: takes the lease itself
    assert alone.returncode == 0, alone.stderr
    assert "run by the running service" not in alone.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM instance_lease").fetchone() == (0,)  # released after the task
    assert_whole_ledger(db, days={date(2024, 7, 1), date(2024, 7, 2)})  # the owner's own days follow the wall clock


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def standby_takeover_seconds(tmp_path: Path, url: str) -> float:
    """Start an owner and a standby on `url`, SIGKILL the owner; seconds until the standby runs the service.
    Checks the standby's /readyz before and the lease row after."""
    import json
    import urllib.error
    import urllib.request

    from sqlalchemy import create_engine, text

    env = _env(tmp_path, url)
    port = _free_port()
    owner = _run(tmp_path, env)
    standby = None
    try:
        _wait_started(owner)
        standby = subprocess.Popen([sys.executable, "-m", "swingtrader", "run", "--standby"], cwd=tmp_path,
                                   env=dict(env, SWINGTRADER_WEB_ENABLED="true", SWINGTRADER_WEB_PORT=str(port)),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = standby.stdout.readline()
        assert line.startswith(f"standby: owner is pid {owner.pid} on host"), line + standby.stderr.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10)
            raise AssertionError("a standby is not ready")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
            assert json.loads(exc.read())["standby"] == f"standby: owner is pid {owner.pid} on host " + \
                line.split(" on host ")[1].split(" (")[0]
        owner.kill()
        t0 = time.monotonic()
        owner.wait()
        _wait_started(standby)
        took = time.monotonic() - t0
        _wait_running(standby)
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pid FROM instance_lease")).scalar() == standby.pid
        engine.dispose()
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(timeout=20) == 0, standby.stderr.read()
        return took
    finally:
        _stop(owner, *([standby] if standby else []))


def test_standby_takes_over_on_postgres_after_the_owner_is_killed(postgres, tmp_path):
    assert standby_takeover_seconds(tmp_path, postgres) < EXPIRY + 10


def test_standby_on_sqlite_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "swingtrader", "run", "--standby"], cwd=tmp_path,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--standby needs a PostgreSQL store" in proc.stderr
    assert not (tmp_path / "var" / "swingtrader.sqlite").exists()
