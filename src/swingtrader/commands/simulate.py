"""`swingtrader simulate`: replay the service over a date range and print the report."""

from __future__ import annotations

import argparse
import json
import logging
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from swingtrader.commands._common import bars_or_exit, calendar_or_exit, fail, parse_date, settings_or_exit

if TYPE_CHECKING:
    from swingtrader.simulate import SimulationReport


def main(args: argparse.Namespace) -> int:
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    if end < start:
        fail("--end is before --start")
    settings = settings_or_exit(args)
    try:
        capital = Decimal(args.capital) if args.capital else settings.initial_capital
    except InvalidOperation:
        fail(f"--capital: {args.capital!r} is not a number")
    from swingtrader.config import MAX_MONEY

    if not capital.is_finite() or not 0 < capital <= MAX_MONEY:
        fail(f"--capital: {args.capital!r} is not a positive amount of rupees up to {MAX_MONEY:,.0f}")
    from swingtrader.logs import setup_logging

    redactor = setup_logging(settings, console=False)
    logging.getLogger().setLevel(logging.WARNING)
    data = args.data or settings.data
    bars = bars_or_exit(data, settings)
    calendar = calendar_or_exit(settings)
    from swingtrader.market.calendar import CalendarDataMissing
    from swingtrader.simulate import SimulationMismatch, SimulationSpec, run_simulation
    from swingtrader.store import StoreError

    if args.db:  # issue 9: a store belongs to a mode; a live or paper store is never simulated into
        from swingtrader.clock import LiveClock
        from swingtrader.owner import simulation_store_or_exit

        simulation_store_or_exit(Path(args.db), LiveClock())
    spec = SimulationSpec(start, end, str(data), capital)
    try:
        result = run_simulation(spec, settings, bars=bars, calendar=calendar,
                                db=Path(args.db) if args.db else None, broker_kind=args.broker, faults=args.faults,
                                redact=redactor.redact)
    except (StoreError, SimulationMismatch, CalendarDataMissing) as exc:
        fail(str(exc))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_summary(result)
    return 0


def _print_summary(r: SimulationReport) -> None:
    print(f"simulated {r['start']} .. {r['end']}: {r['trading_days']} trading days, {r['logins']} logins")
    for task, runs in sorted(r["task_runs"].items()):
        print(f"  {task:22s} " + " ".join(f"{k}={v}" for k, v in runs.items()))
    print("  orders: " + ", ".join(f"{k}={v}" for k, v in r["orders"].items()))
    print(f"  trades: {len(r['trades'])}  net P&L {r['pnl']['net']}  charges {r['pnl']['charges']}")
    print(f"  final equity {r['final_equity']}")
    dd, bench = r["max_drawdown"], r["benchmark"]
    cagr = "n/a" if r["cagr"] is None else f"{r['cagr']:.2%}"
    sharpe = "n/a" if r["sharpe"] is None else f"{r['sharpe']:.2f}"
    print(f"  max drawdown {dd['value']} ({dd['pct']:.2f}%, {dd['peak_date']} .. {dd['trough_date']})"
          f"  CAGR {cagr}  Sharpe {sharpe}  exposure {r['exposure']['sessions_with_position']:.0%} of sessions")
    print(f"  buy-and-hold benchmark ({len(bench['symbols'])} symbols, equal weight): {bench['final_value']}")
