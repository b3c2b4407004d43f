"""Start-up cost: `swingtrader --help` wall time and the resident memory of an idle `swingtrader run`
(paper mode, embedded defaults), each next to a bare Python interpreter measured in the same run."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def _time(cmd: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def idle_run_rss(data_dir: str, web: bool, settle_s: float = 4.0) -> tuple[int, float]:
    """RSS (kB) of `swingtrader run` once it has printed its plan and idled for `settle_s`; and its stop time."""
    env = dict(os.environ, SWINGTRADER_DATA_DIR=data_dir, SWINGTRADER_WEB_ENABLED=str(web).lower(),
               SWINGTRADER_WEB_PORT="18765")
    proc = subprocess.Popen([PY, "-m", "swingtrader", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(settle_s)
    rss = _rss_kb(proc.pid)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=15)
    return rss, time.perf_counter() - t0


def main() -> None:
    bare = _time([PY, "-c", "pass"])
    help_t = _time([PY, "-m", "swingtrader", "--help"])
    print(f"python -c pass        {bare * 1000:7.1f} ms (baseline)")
    print(f"swingtrader --help    {help_t * 1000:7.1f} ms  ({help_t / bare:.1f}x baseline; budget 300 ms)")
    bare_proc = subprocess.Popen([PY, "-c", "import time; time.sleep(3)"])
    time.sleep(1)
    bare_rss = _rss_kb(bare_proc.pid)
    bare_proc.wait()
    with tempfile.TemporaryDirectory() as tmp:
        first, _ = idle_run_rss(tmp, web=False)  # creates the store and fills the calendar and bar caches
        rss, stop_s = idle_run_rss(tmp, web=False)
        web_rss, _ = idle_run_rss(tmp, web=True)
    print(f"bare python RSS       {bare_rss / 1024:7.1f} MB (baseline)")
    print(f"idle `run` RSS        {rss / 1024:7.1f} MB  (+{(rss - bare_rss) / 1024:.1f} MB; budget 80 MB; "
          f"first start on an empty data dir {first / 1024:.1f} MB)")
    print(f"  with the dashboard  {web_rss / 1024:7.1f} MB  (the web part adds {(web_rss - rss) / 1024:.1f} MB)")
    print(f"stop after SIGINT     {stop_s:7.2f} s (budget 10 s)")


if __name__ == "__main__":
    main()
