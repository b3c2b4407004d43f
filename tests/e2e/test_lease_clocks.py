"""Lease expiry on one clock (issue 16, bullet 5): a second `run` whose wall clock is ahead of the owner's by far
more than the lease expiry is refused, naming the owner, and the owner carries on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from tests.e2e.test_lease_weather import EXPIRY, _owner, _paper_run, _stop, _until


def test_a_run_whose_clock_is_ahead_never_takes_a_live_owner_over(tmp_path):
    db = tmp_path / "var" / "swingtrader.sqlite"
    owner = _paper_run(tmp_path, tmp_path / "var")
    try:
        _until(lambda: _owner(db), what="a lease row")
        ahead = datetime.now(UTC) + timedelta(hours=1)  # 1200 lease lengths ahead
        env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"), SWINGTRADER_WEB_ENABLED="false",
                   SWINGTRADER_LEASE_EXPIRY_SECONDS=str(EXPIRY), SWINGTRADER_DATA_WAIT_MINUTES="0",
                   SWINGTRADER_TEST_CLOCK=f"{ahead.isoformat()}@1")
        second = subprocess.run([sys.executable, "-m", "swingtrader", "run"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert f"error: the store is in use: held by pid {owner.pid} on host" in second.stderr
        assert owner.poll() is None and _owner(db) == owner.pid
        owner.send_signal(signal.SIGTERM)
        code, err = _stop(owner)
        assert code == 0, err
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
