"""Take-over time of `run --standby` on PostgreSQL after the owner is SIGKILLed: a server started here, an
owner and a standby (`tests/e2e/test_instance_lease.py`, lease expiry 2 s), N rounds; prints the median
seconds from the kill to the standby running the service, and that minus the expiry."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the test helpers

from tests.e2e.test_instance_lease import EXPIRY, standby_takeover_seconds

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))


def main() -> int:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if not bins:
        print("PostgreSQL server binaries not installed; skipped")
        return 0
    base = Path(tempfile.mkdtemp(prefix="swingtrader-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_pg, str(bins[0] / "initdb"), "-D", str(base / "data"), "-U", "postgres", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_pg, str(bins[0] / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w", "-o",
                    f"-h 127.0.0.1 -p {port} -k {base} -F", "start"], check=True, capture_output=True)
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        times = []
        for i in range(ROUNDS):
            work = Path(tempfile.mkdtemp(prefix=f"takeover-{i}-"))
            times.append(standby_takeover_seconds(work, url))
            shutil.rmtree(work, ignore_errors=True)
        med = statistics.median(times)
        print(f"standby take-over after SIGKILL (lease expiry {EXPIRY:.0f} s, {ROUNDS} rounds): median {med:.2f} s "
              f"(expiry + {med - EXPIRY:.2f} s), min {min(times):.2f} s, max {max(times):.2f} s")
    finally:
        subprocess.run([*as_pg, str(bins[0] / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
