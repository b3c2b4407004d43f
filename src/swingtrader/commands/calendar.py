"""`swingtrader calendar [--start D --end D] [--json]`: list the trading sessions between two dates (inclusive);
with no dates, the next `NEXT` sessions from today (IST) and how far the holiday data reaches.

`--json` prints a list of `{"date", "kind", "open", "close", "windows"}` with IST times as `HH:MM`; `open` is the
first window's start and `close` the last window's end. Uses the settings' override file and the data directory's
cache. Exit 2 on a bad date, bad settings or a year without holiday data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from swingtrader.commands._common import calendar_or_exit, fail, parse_date, settings_or_exit

NEXT = 10
"""Sessions listed when no dates are given."""


def main(args: Any) -> int:
    if (args.start is None) != (args.end is None):
        fail("give both --start and --end, or neither (the next sessions)")
    settings = settings_or_exit(args)
    from swingtrader.market.calendar import CalendarDataMissing

    # the calendar's warnings would repeat the error printed below
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    calendar = calendar_or_exit(settings)
    last = calendar.last_session().date
    if args.start is None:
        from swingtrader.clock import LiveClock, ist_date

        start = ist_date(LiveClock().now())
        sessions = calendar.sessions(start, last)[:NEXT]
        end = sessions[-1].date if sessions else start
    else:
        start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
        if end < start:
            fail("--end is before --start")
        try:
            sessions = calendar.sessions(start, end)
        except CalendarDataMissing as exc:
            fail(str(exc))
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
    if args.start is None:
        from swingtrader.calendar_watch import ADD_HOLIDAYS, WARN_DAYS

        left = len(calendar.sessions(start, last)) if start <= last else 0
        print(f"holiday data reaches {last} ({left} sessions from today)")
        if (last - start).days <= WARN_DAYS:
            print(f"WARNING: {ADD_HOLIDAYS}")
    return 0
