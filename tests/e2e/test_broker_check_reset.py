"""`broker-check --reset-login` with a real `run` process owning the store: it asks that process (through the
control endpoint its lease row names) to reset its login breaker, logging nothing in itself; with no running owner
it says there is nothing to reset. The breaker's behaviour itself is tested in
tests/integration/test_web_attention.py."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_instance_lease import _env, _run, _stop, _wait_running, _wait_started


def _reset(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "swingtrader", "broker-check", "--reset-login"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)


def test_reset_login_goes_to_the_running_owner_and_says_when_there_is_none(tmp_path):
    env = _env(tmp_path)
    nobody = _reset(tmp_path, env)  # no store yet: none is created
    assert nobody.returncode == 0, nobody.stderr
    assert "no running service owns the store: there is no login breaker to reset" in nobody.stdout
    assert not (tmp_path / "var" / "swingtrader.sqlite").exists()
    owner = _run(tmp_path, env)
    try:
        _wait_started(owner)
        _wait_running(owner)
        done = _reset(tmp_path, env)
        assert done.returncode == 0, done.stderr
        assert f"the running service (pid {owner.pid}) reset its login breaker (it was not blocked)" in done.stdout
        assert "logged in" not in done.stdout  # it asked; it did not log in itself
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(timeout=20) == 0
    finally:
        _stop(owner)
    log = (tmp_path / "var" / "logs" / "swingtrader.log").read_text()
    assert "login breaker reset requested through the control endpoint" in log
    after = _reset(tmp_path, env)  # the owner stopped and released its lease
    assert after.returncode == 0 and "no running service owns the store" in after.stdout
