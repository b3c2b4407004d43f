"""Run a simulated week on a shared store under its instance lease, as an owner killed at a chosen event or as the
standby that takes over (`run_simulation(instance_lease=...)`); the report goes to REPORT_FILE as JSON.

Usage: python takeover_simulate.py ROLE STORE_URL REPORT_FILE N START END DATA

Roles:
- `plain`: no lease, runs to the end; REPORT_FILE also gets `orders_writes`, how many statements wrote `orders`.
- `owner`: takes the lease; after its first slot prints `owner: running` and waits for a line on stdin (so a
  standby can be started while it holds the lease), then SIGKILLs itself just before the N-th statement that
  writes the order manager's `orders` table (printing `takeover_simulate: SIGKILL at orders-write #N` to stderr
  first; the transaction it belongs to is lost).
- `standby`: waits for the lease (printing `standby: owner is ...`), takes it over once it expires (logging
  `took over the store's lease from pid ...` to stderr) and resumes the week from the ledger.
Statements are counted with a SQLAlchemy `before_cursor_execute` listener, so this works on any engine.
"""

import json
import logging
import os
import re
import signal
import sys
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from swingtrader.commands._common import bars_or_exit, calendar_or_exit
from swingtrader.config import load_settings
from swingtrader.simulate import SimulationSpec, run_simulation

_ORDERS_WRITE = re.compile(r"\s*(?:INSERT(?: OR \w+)? INTO|UPDATE|DELETE FROM)\s+\"?orders\b", re.IGNORECASE)

role, url, report_file, n, start, end, data = sys.argv[1:8]
target = int(n)
writes = 0
paused = False


@event.listens_for(Engine, "before_cursor_execute")
def _count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    global writes
    if _ORDERS_WRITE.match(statement):
        writes += 1
        if role == "owner" and writes == target:
            print(f"takeover_simulate: SIGKILL at orders-write #{target}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)


def _progress(_now: Any) -> None:
    global paused
    if role == "owner" and not paused:
        paused = True
        print(f"owner: running (orders writes so far: {writes})", flush=True)
        sys.stdin.readline()


logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
settings = load_settings(None)
spec = SimulationSpec(date.fromisoformat(start), date.fromisoformat(end), data, settings.initial_capital)
report = run_simulation(spec, settings, bars=bars_or_exit(data, settings), calendar=calendar_or_exit(settings),
                        store_url=url, progress=_progress,
                        instance_lease=None if role == "plain" else "owner" if role == "owner" else "standby")
with open(report_file, "w") as f:
    json.dump({**report, "orders_writes": writes}, f)
