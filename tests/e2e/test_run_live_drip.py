"""`swingtrader run --live` against a hung broker (headers, then one byte every 0.5 s): /healthz says it is
starting and logging in; the first login gives up within the total deadline and the service carries on; SIGTERM
during the login stops the process within 10 s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from swingtrader.broker.kotak_neo.harness import fake_credentials
from tests.integration.drip_server import DripServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, drip: DripServer, web_port: int, timeout_s: float) -> subprocess.Popen:
    creds = fake_credentials(11)
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_PORT=str(web_port),
               SWINGTRADER_KOTAK_LOGIN_URL=drip.url, SWINGTRADER_KOTAK_TIMEOUT_SECONDS=str(timeout_s),
               SWINGTRADER_KOTAK_CONSUMER_KEY=creds.consumer_key.get_secret_value(),
               SWINGTRADER_KOTAK_MOBILE_NUMBER=creds.mobile_number.get_secret_value(),
               SWINGTRADER_KOTAK_UCC=creds.ucc.get_secret_value(),
               SWINGTRADER_KOTAK_TOTP_SECRET=creds.totp_secret.get_secret_value(),
               SWINGTRADER_KOTAK_MPIN=creds.mpin.get_secret_value())
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "run", "--live"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while "dashboard:" not in (line := proc.stdout.readline()):
        assert line, proc.stderr.read()
    return proc


def _healthz(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        return json.loads(resp.read())


def _until(condition, limit: float = 30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def test_the_first_login_gives_up_within_the_deadline_and_the_service_runs_on(tmp_path) -> None:
    web_port, deadline = _free_port(), 2.0
    with DripServer(interval=0.5) as drip:
        proc = None
        try:
            proc = _start(tmp_path, drip, web_port, deadline)
            _until(lambda: drip.paths)
            state = _healthz(web_port)
            if drip.hangups:  # only on a very slow machine: the login already ended
                assert state == {"status": "alive"}
            else:
                assert state["status"] == "starting" and state["detail"].startswith("starting: logging in ("), state
            _until(lambda: drip.hangups)
            assert drip.paths == ["/login/1.0/tradeApiLogin"] and drip.finished == 0
            assert drip.hangups[0] < 3 * deadline  # the client dropped the dripping login at its deadline
            assert _until(lambda: _healthz(web_port) == {"status": "alive"})
            assert proc.poll() is None  # the service runs on; the first task that needs the broker tries again
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            log = (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
            assert "broker login failed at start" in log and f"within the {deadline:g} s deadline" in log
        finally:
            _stop(proc)


def test_sigterm_during_the_first_login_stops_the_process_within_ten_seconds(tmp_path) -> None:
    web_port = _free_port()
    with DripServer(interval=0.5) as drip:
        proc = None
        try:
            proc = _start(tmp_path, drip, web_port, 120.0)
            _until(lambda: drip.paths)
            assert _healthz(web_port)["detail"].startswith("starting: logging in (")
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            code = proc.wait(timeout=10)
            assert code == 0 and time.monotonic() - started < 10
            assert drip.finished == 0
            err = proc.stderr.read()
            assert "Traceback" not in err
            log = (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
            assert "stop requested during the first broker login" in log and "swingtrader stopped" in log
        finally:
            _stop(proc)
