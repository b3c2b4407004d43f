"""`swingtrader run` on its embedded defaults: prints today's plan, serves the dashboard, and stops cleanly
(exit 0, within 10 s) on Ctrl-C and on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date

import pytest

from swingtrader.task_names import TASK_NAMES
from tests.e2e.ledger import assert_whole_ledger


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DAY = date(2024, 6, 3)


def _start(tmp_path, port):
    """On its embedded defaults, its clock at 10:00 on a trading day, at real speed."""
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_PORT=str(port),
               SWINGTRADER_TEST_CLOCK=f"{DAY.isoformat()}T10:00+05:30@1")
    return subprocess.Popen([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _read_until(proc, marker: str, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"{marker!r} not printed; got {lines}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_run_prints_the_plan_serves_the_dashboard_and_stops_cleanly(tmp_path, sig):
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        lines = _read_until(proc, "dashboard:")
        text = "".join(lines)
        assert f"plan for {DAY}" in text
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as resp:
            assert resp.status == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the scheduler publishes the plan as it starts
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/overview", timeout=10) as resp:
                overview = json.loads(resp.read())
            if overview["plan_day"] == overview["today"]:
                break
            time.sleep(0.2)
        assert overview["plan_day"] == overview["today"] == DAY.isoformat()
        assert {row["task"] for row in overview["plan"]} == set(TASK_NAMES)  # every task of the plan, run or not
        time.sleep(1)
        t0 = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (tmp_path / "var" / "swingtrader.sqlite").exists()
    counts = assert_whole_ledger(tmp_path / "var" / "swingtrader.sqlite")  # the sells and monitor slots so far
    assert counts["succeeded"] >= 2
    assert "swingtrader stopped" in (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
