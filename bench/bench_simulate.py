"""`simulate` over calendar 2024 on the Nifty 50 data, every task including the per-minute monitor.

Baseline in the same run: the same year through the same scheduler and ledger with tasks that do nothing,
which is the floor the bookkeeping alone costs. Prints wall time, simulated trading days per second and the
ratio. Data: argv[1] or ../shared/data/nifty50-daily."""

from __future__ import annotations

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


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "nifty50-daily"
    if not data.exists():
        print(f"skipped: {data} not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(None, data_dir=tmp)
        calendar = TradingCalendar.load(cache_dir=Path(tmp) / "cache")
        t0 = time.perf_counter()
        bars = open_bar_source(str(data))
        load_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = run_simulation(SimulationSpec(START, END, str(data), settings.initial_capital), settings,
                                bars=bars, calendar=calendar, db=Path(tmp) / "sim.sqlite")
        sim_s = time.perf_counter() - t0
        days = report["trading_days"]
        store = Store.open(f"sqlite:///{Path(tmp) / 'floor.sqlite'}")
        clock = SimClock(datetime.combine(START, dtime(8, 0), tzinfo=IST))
        sched = Scheduler(Plan(calendar, tuple(settings.special_session_tasks)), Ledger(store), clock, calendar,
                          lambda _slot: None)
        t0 = time.perf_counter()
        sched.run(start_day=START, until=datetime.combine(date(2025, 1, 1), dtime(0, 0), tzinfo=IST))
        floor_s = time.perf_counter() - t0
    slots = sum(sum(v.values()) for v in report["task_runs"].values())
    print(f"data load             {load_s:6.2f} s")
    print(f"simulate 2024         {sim_s:6.2f} s  {days / sim_s:6.1f} trading days/s  ({slots} task runs, "
          f"{len(report['trades'])} trades; aim <= 10 s)")
    print(f"ledger-only floor     {floor_s:6.2f} s  {days / floor_s:6.1f} trading days/s (baseline)")
    print(f"ratio simulate/floor  {sim_s / floor_s:6.2f}x")


if __name__ == "__main__":
    main()
