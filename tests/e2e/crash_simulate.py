"""Run `swingtrader simulate` and SIGKILL the process itself at the N-th event of one kind, counted from its start.

Usage: python crash_simulate.py POINT N -- <simulate arguments>
       python crash_simulate.py count COUNTS_FILE -- <simulate arguments>

Points (`BEFORE`: the event has not happened; `AFTER`: it has, and nothing after it):
- `orders-write`, `ledger-write`, `exchange-write`: before the N-th SQL statement that writes the order manager's
  `orders` table, the ledger's `task_runs` table, or the paper exchange's `paper_orders` table; the transaction it
  belongs to is lost.
- `commit-before`, `commit-after`: before the N-th COMMIT of the store, or right after it (before the next statement).
- `place-before`, `place-after`, `modify-before`, `modify-after`: around the N-th order placement or modification
  at the exchange (before: the intent is stored, the exchange never sees it; after: the exchange has it, the reply
  never arrives).

Just before killing itself the process prints `crash_simulate: SIGKILL at POINT #N` to stderr. `count` runs to the
end without killing and writes how many events of each point the run had, as JSON, to COUNTS_FILE.
Statements are seen through SQLite's trace callback on every connection, so this works whatever code issues them.
"""

import json
import os
import re
import signal
import sys
from collections import Counter

from sqlalchemy import event
from sqlalchemy.pool import Pool

from swingtrader.broker import paper
from swingtrader.cli import main

WRITES = {"orders": "orders-write", "task_runs": "ledger-write", "paper_orders": "exchange-write"}
_WRITE = re.compile(r"\s*(?:INSERT(?: OR \w+)? INTO|UPDATE|DELETE FROM)\s+\"?(\w+)", re.IGNORECASE)

point, arg = sys.argv[1], sys.argv[2]
args = sys.argv[sys.argv.index("--") + 1:]
target = None if point == "count" else int(arg)
counts: Counter[str] = Counter()
just_committed = False


def _event(name: str) -> None:
    counts[name] += 1
    if name == point and counts[name] == target:
        print(f"crash_simulate: SIGKILL at {name} #{target}", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def _statement(sql: str) -> None:
    global just_committed
    if just_committed:
        just_committed = False
        _event("commit-after")
    m = _WRITE.match(sql)
    if m and m.group(1) in WRITES:
        _event(WRITES[m.group(1)])
    elif sql.strip().upper() == "COMMIT":
        _event("commit-before")
        just_committed = True


@event.listens_for(Pool, "connect")
def _trace(dbapi_conn, _record) -> None:
    if hasattr(dbapi_conn, "set_trace_callback"):
        dbapi_conn.set_trace_callback(_statement)


def _around(name: str, original):
    def wrapper(self, *a, **kw):
        _event(f"{name}-before")
        result = original(self, *a, **kw)
        _event(f"{name}-after")
        return result

    return wrapper


paper.PaperBroker.place_order = _around("place", paper.PaperBroker.place_order)
paper.PaperBroker.modify_order = _around("modify", paper.PaperBroker.modify_order)
code = main(["simulate", *args])
if point == "count":
    with open(arg, "w") as f:
        json.dump(dict(sorted(counts.items())), f)
sys.exit(code)
