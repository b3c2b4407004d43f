"""A symbolic link planted as `control.token` (issue 16, bullet 6): `run` refuses it with `error:` and exit 2,
its target untouched (content and mode), and the store's lease is given back."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys


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
