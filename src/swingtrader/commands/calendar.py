"""`swingtrader calendar --start D --end D [--json]`: list the trading sessions between two dates (inclusive).

`--json` prints a list of `{"date", "kind", "open", "close", "windows"}` with IST times as `HH:MM`; `open` is the
first window's start and `close` the last window's end. Exit 2 on a bad date or a year without holiday data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from swingtrader.commands._common import fail, parse_date


def main(args: Any) -> int:
    start = parse_date(args.start, "--start")
    end = parse_date(args.end, "--end")
    if end < start:
        fail("--end is before --start")
    from swingtrader.market.calendar import CalendarDataMissing, TradingCalendar

    # the calendar's warnings would repeat the error printed below
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        sessions = TradingCalendar.load().sessions(start, end)
    except CalendarDataMissing as exc:
        fail(str(exc))
    except RuntimeError as exc:
        fail(str(exc), code=1)
    rows = [
        {
            "date": s.date.isoformat(),
            "kind": s.kind,
            "open": f"{s.open:%H:%M}",
            "close": f"{s.close:%H:%M}",
            "windows": [[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in s.windows],
        }
        for s in sessions
    ]
    if args.json:
        print("[\n" + ",\n".join(f"  {json.dumps(row)}" for row in rows) + "\n]" if rows else "[]")
        return 0
    print(f"{'date':10}  {'day':3}  {'kind':7}  hours (IST)")
    for row, s in zip(rows, sessions, strict=True):
        hours = ", ".join(f"{a}-{b}" for a, b in row["windows"])
        print(f"{row['date']}  {s.date:%a}  {row['kind']:7}  {hours}")
    print(f"{len(rows)} sessions from {start} to {end}")
    return 0
