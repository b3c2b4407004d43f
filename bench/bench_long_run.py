"""Resident memory of `swingtrader run` (paper, dashboard on, as `make run` starts it) through five fast trading
days in one process (the `tests/e2e/five_days.py` scenario on a paced test clock): idle after start, then after
each day's `eod_cleanup`. Aim: at most 80 MB, and under 2 MB of growth from day 1 to day 5. Baseline: a bare
Python interpreter, measured in the same run."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _scenario():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("five_days", REPO / "tests" / "e2e" / "five_days.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    five = _scenario()
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
    time.sleep(1)
    print(f"bare python: {_rss_mb(bare.pid):.1f} MB")
    bare.wait()
    with tempfile.TemporaryDirectory(prefix="swingtrader-longrun-") as tmp:
        root = Path(tmp)
        five.prepare(root)
        proc = five.start_run(root, port=_free_port(), web=True)
        db = root / "var" / "swingtrader.sqlite"
        while not five.finished(db, "analysis") and proc.poll() is None:  # started: 31 May's slots recorded
            time.sleep(0.05)
        print(f"idle after start: {_rss_mb(proc.pid):.1f} MB")
        samples: list[float] = []

        def sample(day) -> None:  # type: ignore[no-untyped-def]
            samples.append(_rss_mb(proc.pid))
            print(f"after {day}: {samples[-1]:.1f} MB")

        five.drive(proc, root, after_day=sample)
    print(f"growth day 1 -> day 5: {samples[-1] - samples[0]:+.1f} MB (aim < 2 MB); peak {max(samples):.1f} MB "
          "(aim <= 80 MB)")


if __name__ == "__main__":
    main()
