"""`simulate` over calendar 2024 on the Nifty 50 data, every task including the per-minute monitor: the fast
path (idle monitor minutes fast-forwarded, one store transaction per session day: the default) against the
same with every unit of work written on its own (`per_day_writes=False`, the old path) and against minute by
minute (`sim_fast_forward=false`), all in this run, with their results checked equal.

Also in the same run: the floor (the same year through the same scheduler and ledger with tasks that do
nothing), and, when the universe file is there, `swingtrader simulate` over the whole universe as a child
process (wall time and its own peak RSS): January minute by minute and with the fast path, then the year
with the fast path. Prints wall and CPU times, simulated trading days per second and the ratios. Other users
make wall times swing several-fold on a shared machine: the CPU time of each run is the steadier measure, and
the ratios are taken on it.
Data: argv[1] (the Nifty 50 directory) or $SWINGTRADER_SHARED_DATA / ../shared/data."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

from swingtrader.clock import IST, SimClock
from swingtrader.config import load_settings
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.schedule import Plan, Scheduler
from swingtrader.simulate import SimulationSpec, run_simulation
from swingtrader.store import Store
from swingtrader.store.ledger import Ledger

REPO = Path(__file__).resolve().parent.parent
START, END = date(2024, 1, 1), date(2024, 12, 31)
UNIVERSE = "nse-eq-universe-2019-2024.csv.gz"
_CHILD = """import sys
from swingtrader.cli import main
rc = main(sys.argv[1:])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(hwm, file=sys.stderr)
sys.exit(rc)
"""


def shared_data() -> Path:
    env = os.environ.get("SWINGTRADER_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    return next((c for c in candidates if c.exists()), candidates[0])


def simulate_year(data: Path, tmp: str, bars, calendar, *, fast: bool, per_day: bool = True
                  ) -> tuple[dict, float, float]:
    """The report, wall seconds and CPU seconds of one simulated year in this process."""
    settings = load_settings(None, data_dir=tmp, sim_fast_forward=fast)
    t0, c0 = time.perf_counter(), time.process_time()
    report = run_simulation(SimulationSpec(START, END, str(data), settings.initial_capital), settings, bars=bars,
                            calendar=calendar, per_day_writes=per_day,
                            db=Path(tmp) / f"sim-{'fast' if fast else 'slow'}-{'day' if per_day else 'write'}.sqlite")
    return report, time.perf_counter() - t0, time.process_time() - c0


def ledger_floor(tmp: str, calendar) -> tuple[float, float]:
    settings = load_settings(None, data_dir=tmp)
    store = Store.open(f"sqlite:///{Path(tmp) / 'floor.sqlite'}")
    clock = SimClock(datetime.combine(START, dtime(8, 0), tzinfo=IST))
    sched = Scheduler(Plan(calendar, tuple(settings.special_session_tasks)), Ledger(store), clock, calendar,
                      lambda _slot: None)
    t0, c0 = time.perf_counter(), time.process_time()
    sched.run(start_day=START, until=datetime.combine(date(2025, 1, 1), dtime(0, 0), tzinfo=IST))
    return time.perf_counter() - t0, time.process_time() - c0


def child_simulate(data: Path, start: date, end: date, *, fast: bool) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, the child's own peak RSS in MB) of `swingtrader simulate` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SWINGTRADER_DATA_DIR": tmp, "SWINGTRADER_SIM_FAST_FORWARD": str(fast).lower()}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _CHILD, "simulate", "--start", start.isoformat(), "--end",
                               end.isoformat(), "--data", str(data), "--db", str(Path(tmp) / "u.sqlite"), "--json"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"swingtrader simulate exited {proc.returncode}: {proc.stderr[-500:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, int(proc.stderr.split()[-1]) / 1024


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else shared_data() / "nifty50-daily"
    if not data.exists():
        print(f"skipped: {data} not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        calendar = TradingCalendar.load(cache_dir=Path(tmp) / "cache")
        t0 = time.perf_counter()
        bars = open_bar_source(str(data))
        load_s = time.perf_counter() - t0
        slow, slow_s, slow_cpu = simulate_year(data, tmp, bars, calendar, fast=False)
        fast, fast_s, fast_cpu = simulate_year(data, tmp, bars, calendar, fast=True)
        old, old_s, old_cpu = simulate_year(data, tmp, bars, calendar, fast=True, per_day=False)
        floor_s, floor_cpu = ledger_floor(tmp, calendar)
    days = fast["trading_days"]
    keys = ("task_runs", "orders", "trades", "pnl", "final_equity")
    same = all(fast[k] == slow[k] == old[k] for k in keys)
    slots = sum(sum(v.values()) for v in fast["task_runs"].values())
    print(f"data load                 {load_s:6.2f} s")
    print(f"simulate 2024, fast path  {fast_s:6.2f} s wall {fast_cpu:6.2f} s CPU  {days / fast_cpu:6.1f} trading days "
          f"per CPU s  ({slots} task runs, {len(fast['trades'])} trades; aim <= 5 s)")
    print(f"  per-write (old path)    {old_s:6.2f} s wall {old_cpu:6.2f} s CPU  {days / old_cpu:6.1f} trading days "
          "per CPU s")
    print(f"  speed-up per-day writes {old_cpu / fast_cpu:6.2f}x (CPU)  {old_s / fast_s:6.2f}x (wall)")
    print(f"  minute by minute        {slow_s:6.2f} s wall {slow_cpu:6.2f} s CPU  {days / slow_cpu:6.1f} trading days "
          "per CPU s (baseline)")
    print(f"  speed-up (CPU)          {slow_cpu / fast_cpu:6.2f}x  results identical: {same}")
    print(f"ledger-only floor         {floor_s:6.2f} s wall {floor_cpu:6.2f} s CPU  {days / floor_cpu:6.1f} "
          "trading days per CPU s")
    print(f"ratio fast/floor (CPU)    {fast_cpu / floor_cpu:6.2f}x")
    universe = data.parent / UNIVERSE
    if not universe.exists():
        print(f"universe: skipped ({universe} not found)")
        return
    jan = date(2024, 1, 31)
    for label, start, end, fast_path in (("universe Jan 2024, minute by minute", START, jan, False),
                                         ("universe Jan 2024, fast path", START, jan, True),
                                         ("universe 2024, fast path", START, END, True)):
        wall, cpu, peak = child_simulate(universe, start, end, fast=fast_path)
        n = len(calendar.sessions(start, end))
        print(f"{label:38s} {wall:6.2f} s wall {cpu:6.2f} s CPU  {n / cpu:6.1f} trading days per CPU s  "
              f"peak RSS {peak:5.0f} MB"
              + ("  (aim <= 60 s, < 400 MB)" if end == END else ""))


if __name__ == "__main__":
    main()
