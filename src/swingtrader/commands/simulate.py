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
    from swingtrader.report_types import SimulationReport


def main(args: argparse.Namespace) -> int:
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    if end < start:
        fail("--end is before --start")
    settings = settings_or_exit(args)
    tearsheet = Path(args.report) if getattr(args, "report", None) else None
    if tearsheet is not None and (tearsheet.is_dir() or not tearsheet.parent.is_dir()):
        fail(f"--report {args.report}: must be a file in an existing directory")
    try:
        capital = Decimal(args.capital) if args.capital else settings.initial_capital
    except InvalidOperation:
        fail(f"--capital: {args.capital!r} is not a number")
    from swingtrader.config import MAX_MONEY

    if not capital.is_finite() or not 0 < capital <= MAX_MONEY:
        fail(f"--capital: {args.capital!r} is not a positive amount of rupees up to {MAX_MONEY:,.0f}")
    from swingtrader.logs import setup_logging

    if args.db:  # the run's own log beside its store, for the dashboard's Logs page over that store
        settings = settings.model_copy(update={"log_dir": sim_log_dir(settings.effective_log_dir, Path(args.db))})
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
    if tearsheet is not None:
        if "headline" not in result:
            fail(f"--report {args.report}: {start}..{end} holds no trading day, so there is nothing to report")
        from swingtrader.tearsheet import write_tearsheet

        try:
            write_tearsheet(result, tearsheet)
        except OSError as exc:
            fail(f"--report {args.report}: cannot write it ({exc.strerror})")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_summary(result)
    return 0


def sim_log_dir(log_dir: Path, db: Path) -> Path:
    """Where `simulate --db FILE` writes its log: a directory of its own under the log directory, named by
    the store file's resolved path (the dashboard over that file finds it there)."""
    import hashlib

    return log_dir / "simulations" / hashlib.sha256(str(db.resolve()).encode()).hexdigest()[:16]


def _print_summary(r: SimulationReport) -> None:
    """The report as text: the verdict and returns first, then risk, trades, the grouped tables, operations."""
    print(f"simulated {r['start']} .. {r['end']}: {r['trading_days']} trading days, {r['logins']} logins")
    if "headline" in r:
        _print_headline(r)
    else:
        print(f"  no trading day in the range; final equity {r['final_equity']}")
    for task, runs in sorted(r["task_runs"].items()):
        print(f"  {task:22s} " + " ".join(f"{k}={v}" for k, v in runs.items()))
    print("  orders: " + ", ".join(f"{k}={v}" for k, v in r["orders"].items()))


def _pct(x: float | None, signed: bool = True) -> str:
    return "n/a" if x is None else f"{100 * x:+.2f}%" if signed else f"{100 * x:.2f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _print_headline(r: SimulationReport) -> None:
    h, dd, bench, exp = r["headline"], r["max_drawdown"], r["benchmark"], r["exposure"]
    print(f"  VERDICT: {h['verdict']}")
    print(f"  total return {_pct(h['total_return'])}  benchmark {_pct(h['benchmark_return'])} (buy-and-hold, equal "
          f"weight, {len(bench['symbols'])} symbols)  excess {_pct(h['excess_return'])}")
    print(f"  final equity {h['final_equity']} = capital {h['capital']} + realised {h['realised_pnl']} + "
          f"unrealised {h['unrealised_pnl']} (benchmark {bench['final_value']})")
    fall = (f"{_pct(dd['fraction'], signed=False)} ({dd['value']}), peak {dd['peak_date']} .. trough "
            f"{dd['trough_date']}") if dd["trough_date"] else "none"
    print(f"  max drawdown {fall}")
    print(f"  CAGR {_pct(r['cagr'])}  Sharpe {_num(r['sharpe'])}  Sortino {_num(h['sortino'])}  "
          f"Calmar {_num(h['calmar'])}  over {h['years']:.2f} years")
    print(f"  exposure: a position on {_pct(exp['sessions_with_position'], signed=False)} of sessions, "
          f"{_pct(exp['average_deployed'], signed=False)} of equity deployed on average")
    print(f"  trades {len(r['trades'])}: win rate {_pct(r['win_rate'], signed=False)}, profit factor "
          f"{_num(h['profit_factor'])}, expectancy {h['expectancy'] or 'n/a'} a trade, held "
          f"{_num(h['average_holding_days'])} days on average; net P&L {r['pnl']['net']} after charges "
          f"{r['pnl']['charges']}")
    print(f"  universe: {h['universe']}")
    for caveat in h["caveats"]:
        print(f"  caveat: {caveat}")
    for title, rows in (("exit reason", h["by_exit_reason"]), ("symbol", h["by_symbol"])):
        if rows:
            print(f"  {'by ' + title:18s} {'trades':>6s} {'won':>4s} {'net P&L':>12s} {'per trade':>10s}")
            for g in rows:
                print(f"    {g['key']:16s} {g['trades']:6d} {g['wins']:4d} {g['net_pnl']:>12s} {g['average_pnl']:>10s}")
