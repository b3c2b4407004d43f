"""The command line. Thin: it parses arguments and hands them to `swingtrader.commands.<name>.main`.

Handlers are imported lazily so that `swingtrader --help` stays fast and light.
"""

from __future__ import annotations

import argparse
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

    p = sub.add_parser("analyze", help="run the 16:00 analysis on its own")
    _add_config(p)
    p.add_argument("--as-of", required=True, metavar="D", dest="as_of")
    p.add_argument("--data", metavar="PATH")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("calendar", help="list trading sessions")
    _add_config(p)
    p.add_argument("--start", required=True, metavar="D")
    p.add_argument("--end", required=True, metavar="D")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("status", help="state of a running or stopped service, from the store")
    _add_config(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("run-task", help="run one task now, through the same ledger")
    _add_config(p)
    p.add_argument("task", metavar="TASK", help=", ".join(TASK_NAMES))
    p.add_argument("--date", metavar="D", help="trading date (default: today, IST)")

    p = sub.add_parser("check-config", help="validate settings")
    _add_config(p)

    p = sub.add_parser("broker-check", help="log in to the live broker, print funds, holdings and orders")
    _add_config(p)

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
    p.add_argument("--db", metavar="FILE", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)

    p = sub.add_parser("service", help="install or remove the system service")
    _add_config(p)
    p.add_argument("action", choices=("install", "uninstall"))
    p.add_argument("--user", action="store_true", help="a per-user unit (systemd --user)")
    p.add_argument("--print", dest="print_only", action="store_true", help="print the unit, write nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the command; return the process exit code."""
    args = _build_parser().parse_args(argv)
    module = importlib.import_module(f"swingtrader.commands.{args.command.replace('-', '_')}")
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
