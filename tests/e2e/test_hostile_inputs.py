"""Hostile inputs (issue 16): a symbolic link planted as `control.token` (bullet 6) is refused by `run` with
`error:` and exit 2, its target untouched and the lease given back; a burst of wrong dashboard passwords from
one address (bullet 9) is slowed down and logged, while the owner on loopback still gets in."""

from __future__ import annotations

import base64
import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest


def test_run_refuses_a_planted_control_token_link_and_leaves_its_target_alone(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    target = tmp_path / "precious.conf"
    target.write_text("keep me\n")
    target.chmod(0o644)
    (var / "control.token").symlink_to(target)
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(var), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_DATA_WAIT_MINUTES="0")
    proc = subprocess.run([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"error: {var / 'control.token'} is a symbolic link or not a regular file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert target.read_text() == "keep me\n" and target.stat().st_mode & 0o777 == 0o644
    assert (var / "control.token").is_symlink()  # left for a person to look at
    with sqlite3.connect(var / "swingtrader.sqlite") as db:
        assert db.execute("SELECT count(*) FROM instance_lease").fetchone() == (0,)


def _outward_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: the kernel picks the source address
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def _get(url: str, password: str, source: str) -> int:
    """GET `url` from the local address `source` with HTTP Basic `password`; the status code."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    try:
        auth = base64.b64encode(f"owner:{password}".encode()).decode()
        conn.request("GET", parts.path or "/", headers={"Authorization": f"Basic {auth}"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_dashboard_slows_a_burst_of_wrong_passwords_but_lets_the_owner_in_on_loopback(tmp_path):
    from swingtrader.store import Store

    outward = _outward_address()
    if outward is None:
        pytest.skip("no non-loopback interface to send the wrong passwords from")
    db = tmp_path / "shown.sqlite"
    Store.open(f"sqlite:///{db}").dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_PASSWORD="right horse")
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "dashboard", "--db", str(db), "--host", "0.0.0.0",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"http://127.0.0.1:{port}/healthz", "right horse", "127.0.0.1") == 200:
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.2)
        statuses = [_get(f"http://{outward}:{port}/", f"guess {n}", outward) for n in range(200)]
        assert statuses[:5] == [401] * 5  # the first few are checked
        assert statuses.count(401) <= 10 and statuses.count(429) >= 190  # then slowed: 1, 2, 4 ... s apart
        assert _get(f"http://{outward}:{port}/", "right horse", outward) == 429  # still waiting out its penalty
        assert _get(f"http://127.0.0.1:{port}/", "right horse", "127.0.0.1") == 200  # the owner is not locked out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    err = proc.stderr.read()
    assert f"failed logins in a row from {outward}" in err
    assert "guess" not in err and "right horse" not in err
