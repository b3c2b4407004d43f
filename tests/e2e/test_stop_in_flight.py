"""SIGTERM while a broker call is in flight (issue 16, bullet 11): `run --live` with a 30 s broker deadline stops
within 2 s, abandoning the call, and gives the store's lease back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime

from swingtrader.clock import IST
from tests.e2e.test_lease_weather import _FollowingClock, _HangingProxy, _owner, _query, _until


def test_sigterm_during_a_hung_broker_call_stops_within_two_seconds(tmp_path):
    from swingtrader.broker.kotak_neo.harness import start_fake
    from tests.integration.kotak_support import MemoryExchange

    start = datetime(2024, 6, 3, 17, 59, tzinfo=IST)  # Monday evening: the day's analysis is due at once
    clock = _FollowingClock(start)
    fake = start_fake(MemoryExchange(clock, {}), clock)  # type: ignore[arg-type]
    proxy = _HangingProxy(("127.0.0.1", int(fake.url.rsplit(":", 1)[1])), hang=600)
    c = fake.credentials
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_ENABLED="false",
               SWINGTRADER_DATA_WAIT_MINUTES="0", SWINGTRADER_KOTAK_TIMEOUT_SECONDS="30",
               SWINGTRADER_KOTAK_LOGIN_URL=proxy.url, SWINGTRADER_TEST_CLOCK=f"{start.isoformat()}@1",
               SWINGTRADER_KOTAK_CONSUMER_KEY=c.consumer_key.get_secret_value(),
               SWINGTRADER_KOTAK_MOBILE_NUMBER=c.mobile_number.get_secret_value(),
               SWINGTRADER_KOTAK_UCC=c.ucc.get_secret_value(),
               SWINGTRADER_KOTAK_TOTP_SECRET=c.totp_secret.get_secret_value(),
               SWINGTRADER_KOTAK_MPIN=c.mpin.get_secret_value())
    db = tmp_path / "var" / "swingtrader.sqlite"
    # every broker call hangs: the first login gives up at its 30 s deadline, then the analysis' call is in flight
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "run", "--live"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: _query(db, "SELECT 1 FROM task_runs WHERE task = 'analysis' AND status = 'running'"),
               what="the analysis in flight")
        time.sleep(1.0)  # well inside its broker call's 30 s deadline
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        took = time.monotonic() - t0
        err = proc.stderr.read()
        assert took < 2.0, f"stopped after {took:.1f} s"
        assert code == 0, err
        assert "stopping without waiting for the task in flight" in err
        assert _owner(db) is None  # the lease was given back
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proxy.close()
        fake.stop()
