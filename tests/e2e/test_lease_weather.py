"""`swingtrader run` outlives a hung broker, a locked store and a full disk (issue 16, bullets 1-3): each lasts
three lease lengths, and the process is still the store's owner afterwards and carries on by itself."""

from __future__ import annotations

import os
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from swingtrader.clock import IST

EXPIRY = 3.0  # seconds of lease: every fault below lasts three of them


def _until(condition, limit: float = 60.0, what: str = "condition"):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not met within {limit} s")


def _query(db: Path, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def _owner(db: Path) -> int | None:
    rows = _query(db, "SELECT pid FROM instance_lease")
    return rows[0][0] if rows else None


def _heartbeat(db: Path) -> str | None:
    rows = _query(db, "SELECT heartbeat_at FROM instance_lease")
    return rows[0][0] if rows else None


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return code, proc.stderr.read()


def _paper_run(tmp_path: Path, data_dir: Path) -> subprocess.Popen:
    """`run` in paper mode on the wall clock (a store fault must not stop the time the lease is judged on);
    returns once the scheduler runs."""
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(data_dir), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_LEASE_EXPIRY_SECONDS=str(EXPIRY), SWINGTRADER_DATA_WAIT_MINUTES="0")
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while "swingtrader started in" not in (line := proc.stderr.readline()):
        assert line, f"run exited {proc.wait()}"
    return proc


# ---- bullet 1: a hung broker ---------------------------------------------------------------------------------
class _FollowingClock:
    """The fake broker's clock: the service's paced test clock at speed 1 runs from the same start in real time
    (it lags by the work it did, seconds: well inside a TOTP window)."""

    def __init__(self, start: datetime) -> None:
        self._start, self._t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    def sleep_until(self, moment: datetime, stop: threading.Event | None = None) -> bool:
        raise NotImplementedError


class _HangingProxy:
    """127.0.0.1 in front of the fake broker: from its first request on, every connection is held open without
    an answer for `hang` seconds; after that connections are passed through."""

    def __init__(self, target: tuple[str, int], hang: float, *, armed: bool = True) -> None:
        self._target, self._hang = target, hang
        self.armed = armed  # False: pass everything through until armed
        self.hung_at: float | None = None
        self.passed = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def answering(self) -> bool:
        return self.hung_at is not None and time.monotonic() >= self.hung_at + self._hang

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self.hung_at is None and self.armed:
                self.hung_at = time.monotonic()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            if self.armed and not self.answering():
                while conn.recv(65536):  # read and never answer, until the client gives up
                    pass
                return
            self.passed += 1
            with socket.create_connection(self._target) as upstream:
                pair = {conn: upstream, upstream: conn}
                while True:
                    ready, _, _ = select.select(list(pair), [], [], 30)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        pair[s].sendall(data)

    def close(self) -> None:
        self._sock.close()


def test_a_broker_hung_for_three_lease_lengths_leaves_the_service_the_owner(tmp_path):
    from swingtrader.broker.kotak_neo.harness import start_fake
    from tests.integration.kotak_support import MemoryExchange

    start = datetime(2024, 6, 3, 17, 59, tzinfo=IST)  # Monday evening: the day's analysis is due at once
    clock = _FollowingClock(start)
    fake = start_fake(MemoryExchange(clock, {}), clock)  # type: ignore[arg-type]
    proxy = _HangingProxy(("127.0.0.1", int(fake.url.rsplit(":", 1)[1])), hang=3 * EXPIRY)
    c = fake.credentials
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_LEASE_EXPIRY_SECONDS=str(EXPIRY), SWINGTRADER_DATA_WAIT_MINUTES="0",
               SWINGTRADER_KOTAK_TIMEOUT_SECONDS="0.5", SWINGTRADER_KOTAK_LOGIN_URL=proxy.url,
               SWINGTRADER_TEST_CLOCK=f"{start.isoformat()}@1",
               SWINGTRADER_KOTAK_CONSUMER_KEY=c.consumer_key.get_secret_value(),
               SWINGTRADER_KOTAK_MOBILE_NUMBER=c.mobile_number.get_secret_value(),
               SWINGTRADER_KOTAK_UCC=c.ucc.get_secret_value(),
               SWINGTRADER_KOTAK_TOTP_SECRET=c.totp_secret.get_secret_value(),
               SWINGTRADER_KOTAK_MPIN=c.mpin.get_secret_value())
    db = tmp_path / "var" / "swingtrader.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "run", "--live"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: proxy.hung_at is not None, what="the service called the broker")
        _until(proxy.answering, what="three lease lengths of hanging")
        assert proc.poll() is None, proc.stderr.read()
        assert _owner(db) == proc.pid  # still the owner after three lease lengths without a broker answer
        # the analysis failed on the hung broker and is retried; once the broker answers the service logs in
        _until(lambda: _query(db, "SELECT 1 FROM session_events WHERE event = 'login'"), what="a login")
        _until(lambda: _query(db, "SELECT status FROM task_runs WHERE task = 'analysis' AND "
                                  "trading_date = '2024-06-03' AND attempts >= 1 AND status != 'running'"),
               what="the analysis finished")
        assert proxy.passed > 0
        assert proc.poll() is None and _owner(db) == proc.pid
        code, err = _stop(proc)
        assert code == 0, err
        assert "trading stops here" not in err and "Traceback" not in err
        assert _owner(db) is None  # released on a clean stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proxy.close()
        fake.stop()


# ---- bullet 2: a store locked by another process ---------------------------------------------------------------
def test_a_store_locked_for_three_lease_lengths_pauses_run_and_it_carries_on(tmp_path):
    db = tmp_path / "var" / "swingtrader.sqlite"
    proc = _paper_run(tmp_path, tmp_path / "var")
    try:
        before = _until(lambda: _heartbeat(db), what="a lease row")
        locker = sqlite3.connect(db, isolation_level=None, timeout=30)
        locker.execute("BEGIN IMMEDIATE")  # the write lock, as the sqlite3 shell or a backup tool takes it
        try:
            time.sleep(3 * EXPIRY)
            assert proc.poll() is None, proc.stderr.read()
            locked = _heartbeat(db)
        finally:
            locker.execute("COMMIT")
            locker.close()
        assert locked is not None and locked >= before  # nothing could be renewed while locked
        _until(lambda: (_heartbeat(db) or "") > locked, limit=30, what="the lease renewed after the lock")
        assert _owner(db) == proc.pid
        code, err = _stop(proc)
        assert code == 0, err
        assert "OperationalError" not in err and "trading stops here" not in err
        assert err.count("lease not renewed") == 1  # told once, not every beat
        assert "lease renewed again" in err
        assert _owner(db) is None  # released on the clean stop
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- bullet 3: a full disk ------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 48 MB tmpfs of its own (root only); the test is skipped where mounting is impossible."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the filesystem to its last byte with one file; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        chunk = 1 << 20
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 2
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_for_three_lease_lengths_pauses_run_and_it_resumes_when_space_returns(tmp_path, small_disk):
    data = small_disk / "var"
    db = data / "swingtrader.sqlite"
    proc = _paper_run(tmp_path, data)
    try:
        _until(lambda: _heartbeat(db), what="a lease row")
        filler = _fill(small_disk)
        time.sleep(3 * EXPIRY)
        assert proc.poll() is None, proc.stderr.read()
        full = _heartbeat(db)
        filler.unlink()
        _until(lambda: (_heartbeat(db) or "") > (full or ""), limit=30, what="the lease renewed after space returned")
        assert _owner(db) == proc.pid
        code, err = _stop(proc)
        assert code == 0, err
        assert "OperationalError" not in err and "trading stops here" not in err, err
        assert _owner(db) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
