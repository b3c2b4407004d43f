"""Done when (issue 14): `swingtrader run` on a fresh store with the bundled sample says at once what its data
means, does not wait on a file that cannot change, names the real next task in `status` and `/api/overview`
within seconds, records nothing from before the store existed, and stops cleanly on Ctrl-C."""

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

from tests.e2e.ledger import assert_whole_ledger

DAY = date(2026, 12, 4)  # a Friday; the bundled sample ends in 2025


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_fresh_store_on_the_bundled_sample_explains_itself_within_seconds(tmp_path):
    port = _free_port()
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_PORT=str(port),
               SWINGTRADER_DATA="bundled", SWINGTRADER_TEST_CLOCK=f"{DAY.isoformat()}T16:10+05:30@1")
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = ""
        while "dashboard:" not in (line := proc.stdout.readline()):
            assert line, proc.stderr.read()
            banner = line if line.startswith("market data:") else banner
        assert banner.startswith("market data: the bundled Nifty 50 sample (a file that does not change); "
                                 "newest bars 2025-09-30, ")
        assert "paper orders will not fill" in banner and "SWINGTRADER_DATA=yfinance" in banner
        t0, overview = time.monotonic(), {}
        while time.monotonic() - t0 < 20:  # the analysis does not wait: the evening moves on within seconds
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/overview", timeout=10) as resp:
                overview = json.loads(resp.read())
            if (overview.get("next_slot") or {}).get("task") == "eod_cleanup":
                break
            time.sleep(0.2)
        assert overview["next_slot"]["task"] == "eod_cleanup", overview.get("next_slot")
        assert overview["waiting"] is None
        status = subprocess.run([sys.executable, "-m", "swingtrader", "status"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert "next: eod_cleanup at 2026-12-04T18:00:00+05:30" in status.stdout
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read()
        assert "KeyboardInterrupt" not in err and "Traceback" not in err
        assert " ERROR " not in err and "prices end 2025-09-30: nothing new to analyse" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    db = tmp_path / "var" / "swingtrader.sqlite"
    assert_whole_ledger(db, {("analysis", DAY): "skipped", ("place_buy_orders", DAY): "skipped"})
