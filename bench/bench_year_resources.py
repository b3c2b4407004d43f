"""A simulated year in one process: resident memory, open file descriptors and threads, sampled at the first
slot of each month of `simulate` over calendar 2024 on the bundled Nifty 50 sample (every task, the per-minute
monitor included). Aim: flat. Bars are parsed and the calendar computed in child processes, as `run` does, so
pandas stays out of the measured process.

Each sample shows RSS as it stands and after `release_memory()` (what `run` returns to the OS when it goes
idle), the number of entries in /proc/self/fd and `threading.active_count()`. A month's sample is taken at its
first slot, so it shows the process after the month before. Growth is reported from the sample after January
(the first analyses warm up numpy, the query caches and the bounded caches) to the start of December, both
taken inside the simulation (`end` is after the report, with the store closed)."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from datetime import date, datetime
from pathlib import Path

from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.memory import release_memory
from swingtrader.simulate import SimulationSpec, run_simulation

START, END = date(2024, 1, 1), date(2024, 12, 31)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _sample() -> tuple[float, float, int, int]:
    rss = _rss_mb()
    release_memory()
    return rss, _rss_mb(), len(os.listdir("/proc/self/fd")), threading.active_count()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="swingtrader-year-") as tmp:
        settings = load_settings(None, data_dir=tmp)
        calendar = TradingCalendar.load(cache_dir=Path(tmp) / "cache")
        bars = open_bar_source("bundled", cache_dir=Path(tmp) / "cache", parse_in_child=True)
        samples: dict[str, tuple[float, float, int, int]] = {"start": _sample()}

        def progress(now: datetime) -> None:
            month = f"{now:%Y-%m}"
            if month not in samples:
                samples[month] = _sample()

        t0 = time.perf_counter()
        report = run_simulation(SimulationSpec(START, END, "bundled", settings.initial_capital), settings,
                                bars=bars, calendar=calendar, db=Path(tmp) / "sim.sqlite", progress=progress)
        elapsed = time.perf_counter() - t0
        samples["end"] = _sample()
    print(f"{report['trading_days']} sessions, {len(report['trades'])} trades in {elapsed:.0f} s")
    print(f"{'when':>8} {'RSS MB':>7} {'trimmed':>7} {'fds':>4} {'threads':>7}")
    for when, (rss, trimmed, fds, threads) in samples.items():
        print(f"{when:>8} {rss:7.1f} {trimmed:7.1f} {fds:4d} {threads:7d}")
    months = [v for k, v in samples.items() if k[:4].isdigit()]
    first, last = months[1], months[-1]
    print(f"growth from February to December: RSS {last[0] - first[0]:+.1f} MB (trimmed {last[1] - first[1]:+.1f} MB), "
          f"fds {last[2] - first[2]:+d}, threads {last[3] - first[3]:+d} (aim: flat)")


if __name__ == "__main__":
    main()
