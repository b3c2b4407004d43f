"""A date in a year without exchange holiday data (issue 16, bullet 8): every command says `error:` naming the
year and exits 2, with no traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("args", [
    ("run-task", "analysis", "--date", "2099-03-02", "--force"),
    ("run-task", "monitor_sell_orders", "--date", "2099-03-02"),
    ("simulate", "--start", "2099-01-05", "--end", "2099-02-01"),
])
def test_a_year_without_holiday_data_is_an_error_not_a_traceback(tmp_path, args):
    env = dict(os.environ, SWINGTRADER_DATA_DIR=str(tmp_path / "var"))
    proc = subprocess.run([sys.executable, "-m", "swingtrader", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: no NSE holiday list for 2099" in proc.stderr
    assert "Traceback" not in proc.stderr
