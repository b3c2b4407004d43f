"""The command line. Thin: it parses arguments and hands them to `swingtrader.commands.<name>.main`.

Handlers are imported lazily so that `swingtrader --help` stays fast and light.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Sequence

from swingtrader.task_names import TASK_NAMES


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="env file with settings (see example.env)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swingtrader", description="A continuous swing-trading service for NSE cash equities."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the continuous service (paper by default)")
    _add_config(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--paper", dest="mode", action="store_const", const="paper")
    mode.add_argument("--live", dest="mode", action="store_const", const="live")
    p.add_argument("--standby", action="store_true", help="wait while another process owns the store (PostgreSQL)")

    p = sub.add_parser("simulate", help="replay the service on historical data with a virtual clock")
    _add_config(p)
    p.add_argument("--start", required=True, metavar="D")
    p.add_argument("--end", required=True, metavar="D")
    p.add_argument("--data", metavar="PATH", help="directory of <SYMBOL>.csv, a long CSV(.gz), or 'synthetic'")
    p.add_argument("--db", metavar="FILE", help="SQLite file to keep the run in (resumes an interrupted run)")
    p.add_argument("--capital", metavar="N", help="starting cash (rupees)")
    p.add_argument("--broker", choices=("paper", "kotak-fake"), default="paper")
    p.add_argument("--faults", metavar="SPEC", help="fault mix for --broker kotak-fake")
    p.add_argument("--json", action="store_true")
    p.add_argument("--report", metavar="FILE.html", help="also write an HTML tearsheet against the benchmark")

    p = sub.add_parser("sweep", help="simulate every point of a parameter grid, in parallel; rank the results")
    _add_config(p)
    p.add_argument("--grid", required=True, metavar="FILE.toml", help="a [grid] table of setting -> list of values")
    p.add_argument("--start", required=True, metavar="D")
    p.add_argument("--end", required=True, metavar="D")
    p.add_argument("--data", required=True, metavar="PATH")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: the CPU count)")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT", help="run the points on this Dask scheduler")
    p.add_argument("--walk-forward", dest="walk_forward", metavar="TRAIN:TEST",
                   help="e.g. 6m:3m (months) or 120:60 (sessions): best point per training window, tested after it")
    p.add_argument("--trials", type=int, metavar="N", help="an Optuna (TPE) search of N trials over [search] ranges")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the search's seed (default 0)")
    p.add_argument("--objective", default="return", metavar="NAME",
                   help="what is maximised: return (default), sharpe, calmar, or return:CAP (max drawdown <= CAP)")
    p.add_argument("--yes", action="store_true", help="run a grid of more than 10,000 points")
    p.add_argument("--resume", action="store_true", help="reuse an earlier run of the same sweep in --out")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory (or --resume's)")

    p = sub.add_parser("analyze", help="run the 16:00 analysis on its own")
    _add_config(p)
    p.add_argument("--as-of", required=True, metavar="D", dest="as_of")
    p.add_argument("--data", metavar="PATH")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("calendar", help="list trading sessions (no dates: the next ones and the data's reach)")
    _add_config(p)
    p.add_argument("--start", metavar="D")
    p.add_argument("--end", metavar="D")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="state of a running or stopped service, from the store")
    _add_config(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("run-task", help="run one task now, through the same ledger")
    _add_config(p)
    p.add_argument("task", metavar="TASK", help=", ".join(TASK_NAMES))
    p.add_argument("--date", metavar="D", help="trading date (default: today, IST)")
    p.add_argument("--live", action="store_true", help="needed to run a task on a live store")
    p.add_argument("--force", action="store_true", help="run outside the task's window, in a manual slot")

    p = sub.add_parser("check-config", help="validate settings")
    _add_config(p)

    p = sub.add_parser("broker-check", help="log in to the live broker, print funds, holdings and orders")
    _add_config(p)
    p.add_argument("--reset-login", action="store_true",
                   help="only ask the running service to reset its login breaker (after refused logins)")

    p = sub.add_parser("kotak-fake", help="serve a fake Kotak Neo API for tests and demos")
    _add_config(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8901)
    p.add_argument("--record", metavar="FILE.jsonl")
    p.add_argument("--faults", metavar="SPEC")
    p.add_argument("--data", metavar="PATH|bundled", default="synthetic",
                   help="bars the fake's exchange trades (default: synthetic); real symbols such as M&M, BAJAJ-AUTO")

    p = sub.add_parser("dashboard", help="serve the dashboard read-only over a store")
    _add_config(p)
    p.add_argument("--db", metavar="FILE", help="the store to show (required unless --sweep is given)")
    p.add_argument("--sweep", metavar="DIR", help="also show this `swingtrader sweep` output directory (/sweep)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)

    p = sub.add_parser("service", help="install or remove the system service")
    _add_config(p)
    p.add_argument("action", choices=("install", "uninstall"))
    p.add_argument("--user", action="store_true", help="a per-user unit (systemd --user)")
    p.add_argument("--print", dest="print_only", action="store_true", help="print the unit, write nothing")
    return parser


_SQLITE_MEANINGS = {8: "the store is read-only", 11: "the store is corrupt", 13: "the disk is full",
                    14: "the store cannot be opened", 26: "the store is not a database"}
_OS_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def environment_error(exc: BaseException) -> str | None:
    """A one-line description of a fault in the machine around the command (a store error, a full disk, a
    read-only or forbidden path, a damaged SQLite file, a year without exchange holiday data), found along
    `exc`'s causes; None for anything else."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        store, sqlite = sys.modules.get("swingtrader.store.db"), sys.modules.get("sqlite3")  # loaded if raised
        calendar = sys.modules.get("swingtrader.market.calendar")
        if store is not None and isinstance(current, store.StoreError):
            return str(current)
        if calendar is not None and isinstance(current, calendar.CalendarDataMissing):
            return str(current)
        if sqlite is not None and isinstance(current, sqlite.Error):
            meaning = _SQLITE_MEANINGS.get(getattr(current, "sqlite_errorcode", -1) & 0xFF)
            if meaning is not None:
                return f"{meaning}: {current}"
        if isinstance(current, OSError) and current.errno in _OS_ERRNOS:
            where = f"{current.filename}: " if current.filename else ""
            return f"{where}{current.strerror}"
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the command; return the process exit code."""
    args = _build_parser().parse_args(argv)
    module = importlib.import_module(f"swingtrader.commands.{args.command.replace('-', '_')}")
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # only faults of the machine around us (disk, permissions, store file); others raise
        message = environment_error(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
