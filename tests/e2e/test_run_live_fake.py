"""`swingtrader run --live` against the fake Kotak Neo server: it logs in once at start with the TOTP it
derives itself, reports the session as ready, and stops cleanly. No credential reaches its output or log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_mode_logs_in_to_the_fake_and_stops_cleanly(tmp_path):
    fake_port, web_port = _free_port(), _free_port()
    fake = subprocess.Popen([sys.executable, "-m", "swingtrader", "kotak-fake", "--port", str(fake_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    service = None
    try:
        creds = {}
        while len(creds) < 6:
            line = fake.stdout.readline()
            assert line, "the fake server printed no credentials"
            if line.startswith("SWINGTRADER_"):
                key, value = line.strip().split("=", 1)
                creds[key] = value
        env = dict(os.environ, **creds, SWINGTRADER_DATA_DIR=str(tmp_path / "var"),
                   SWINGTRADER_WEB_PORT=str(web_port))
        service = subprocess.Popen([sys.executable, "-m", "swingtrader", "run", "--live"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while "dashboard:" not in (line := service.stdout.readline()):
            assert line, service.stderr.read()
        deadline = time.monotonic() + 20
        state = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=5) as resp:
                    state = json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                state = json.loads(exc.read())
            if state.get("checks", {}).get("session", {}).get("ok"):
                break
            time.sleep(0.3)
        session = state["checks"]["session"]["detail"]
        assert session["logged_in"] and session["logins_today"] == 1, state
        service.send_signal(signal.SIGINT)
        assert service.wait(timeout=10) == 0
        out = service.stdout.read() + service.stderr.read()
        log = (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
        for key in ("CONSUMER_KEY", "MOBILE_NUMBER", "UCC", "TOTP_SECRET", "MPIN"):
            secret = creds[f"SWINGTRADER_KOTAK_{key}"]
            assert secret not in out and secret not in log, key
    finally:
        for proc in (service, fake):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
