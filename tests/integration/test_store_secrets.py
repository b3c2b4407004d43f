"""With real-looking Kotak credentials, a simulation through the fake server with session expiries and lost
replies leaves no credential and no session token in the store (database file and its WAL) or the log."""

from __future__ import annotations

import os
import subprocess
import sys

SECRETS = {
    "SWINGTRADER_KOTAK_CONSUMER_KEY": "9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
    "SWINGTRADER_KOTAK_MOBILE_NUMBER": "+919812345678",
    "SWINGTRADER_KOTAK_UCC": "YQ7KD",
    "SWINGTRADER_KOTAK_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "SWINGTRADER_KOTAK_MPIN": "482913",
}


def test_no_secret_reaches_the_store_or_the_log(nifty_dir, tmp_path):
    db = tmp_path / "sim.sqlite"
    env = dict(os.environ, **SECRETS, SWINGTRADER_DATA_DIR=str(tmp_path / "var"))
    proc = subprocess.run(
        [sys.executable, "-m", "swingtrader", "simulate", "--start", "2024-03-04", "--end", "2024-03-15", "--data",
         str(nifty_dir), "--db", str(db), "--broker", "kotak-fake", "--json",
         "--faults", "expire=1h,lost_reply=0.02,http5xx=0.02,seed=3"],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"expire"' in proc.stdout  # sessions really expired and were renewed
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("sim.sqlite*"))
    logs = b"".join(p.read_bytes() for p in (tmp_path / "var" / "logs").rglob("*") if p.is_file())
    for name, secret in SECRETS.items():
        for where, blob in (("store", stored), ("log", logs), ("stdout", proc.stdout.encode())):
            assert secret.encode() not in blob, f"{name} in the {where}"
    assert b"eyJ" not in stored and b"eyJ" not in logs  # no JWT-shaped session token
