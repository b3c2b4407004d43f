"""Issue 14: `kotak-fake` and `dashboard` stop cleanly on SIGINT and SIGTERM even when started with SIGINT ignored
(as nohup and CI runners start them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
@pytest.mark.parametrize("command", [["kotak-fake", "--port", "0"], ["dashboard", "--port", "0"]],
                         ids=["kotak-fake", "dashboard"])
def test_helper_servers_stop_on_signals_with_sigint_ignored(tmp_path, command, sig):
    if command[0] == "dashboard":
        from swingtrader.store import Store

        Store.open(f"sqlite:///{tmp_path / 'shown.sqlite'}").dispose()
        command = [*command, "--db", str(tmp_path / "shown.sqlite")]
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"))
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", *command], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ignore_sigint)
    try:
        marker = "SWINGTRADER_KOTAK_LOGIN_URL=" if command[0] == "kotak-fake" else "dashboard for"
        while marker not in (line := proc.stdout.readline()):
            assert line, proc.stderr.read()
        proc.send_signal(sig)
        assert proc.wait(timeout=15) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
