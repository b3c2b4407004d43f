"""`swingtrader status`: what the service did and will do, read from the store (works while it runs).

A formatter over the read model (`account_view`): the store is the one the settings name
(`SWINGTRADER_DATABASE_URL`, else `<SWINGTRADER_DATA_DIR>/swingtrader.sqlite`). Money is printed as exact strings.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from swingtrader.clock import IST
from swingtrader.commands._common import fail, settings_or_exit

if TYPE_CHECKING:
    from datetime import datetime

    from swingtrader.store.state import QuoteAge


def main(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    from swingtrader.account_view import read_account, recent_failures, task_runs_on
    from swingtrader.calendar_watch import ending_soon, reach_text
    from swingtrader.clock import LiveClock
    from swingtrader.owner import existing_store_or_exit
    from swingtrader.runtime import open_store
    from swingtrader.store import StoreError
    from swingtrader.store.state import ServiceState

    existing_store_or_exit(settings)  # issue 9: a missing store is reported, never created
    try:
        store = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    try:
        account = read_account(store, LiveClock().now())
        day = account.last_trading_date
        runs = Counter(f"{r['task']}:{r['status']}" for r in (task_runs_on(store, day) if day else []))
        failures = recent_failures(store)
        state = ServiceState(store)
        reach, waiting = state.calendar(), state.waiting()
    finally:
        store.dispose()
    next_slot, quotes, now = account.next_slot, account.quotes, account.as_of
    run_counts = dict(sorted(runs.items()))
    failed = [
        {"task": f["task"], "date": f["trading_date"].isoformat(), "slot": f["slot"], "error": f["error"]}
        for f in failures
    ]
    result: dict[str, Any] = {
        "store": store.location,
        "mode": account.mode,
        "paused": account.paused,
        "next": None if next_slot is None else {"task": next_slot.task, "at": next_slot.at.isoformat()},
        "last_trading_date": day.isoformat() if day else None,
        "runs": run_counts,
        "recent_failures": failed,
        "open_positions": [
            {"symbol": p.symbol, "quantity": p.quantity, "average_price": str(p.average_price),
             "price": None if p.price is None else str(p.price.value)}
            for p in account.positions
        ],
        "open_orders": account.open_orders,
        "realised_pnl": str(account.realised_pnl),
        "cash": None if account.cash is None else str(account.cash),
        "equity": None if account.equity is None else str(account.equity),
        "prices": None if account.prices is None else {"as_of": account.prices.as_of.isoformat(),
                                                       "age_days": account.prices.age_days},
        "quotes": None if quotes is None else {
            "at": None if quotes.at is None else quotes.at.isoformat(), "age_seconds": quotes.age_seconds(now),
            "max_age_seconds": quotes.max_age_seconds, "stale": quotes.stale(now)},
        "calendar": reach,
        "waiting": waiting or None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"store: {result['store']}  mode: {result['mode']}  paused: {result['paused']}")
    print(f"next: {next_text(result['next'], waiting)}")
    reach_line = reach_text(reach)
    if reach_line is not None:
        print(("WARNING: " if ending_soon(reach, now.astimezone(IST).date()) else "") + reach_line)
    print(f"last trading date: {result['last_trading_date']}")
    if quotes is not None:
        print(f"paper prices: {quote_age_text(quotes, now)}")
    if account.prices is not None:
        print(f"prices: bars of {account.prices.as_of} ({account.prices.age_days} trading days old)")
    for key, n in run_counts.items():
        print(f"  {key}: {n}")
    for f in failed:
        print(f"  FAILED {f['task']} {f['date']} {f['slot']}: {f['error']}")
    print(f"open positions: {len(account.positions)}, open orders: {account.open_orders}")
    print(f"realised P&L: {result['realised_pnl']}  cash: {result['cash']}  equity: {result['equity']}")
    return 0


def next_text(nxt: dict[str, str] | None, waiting: dict[str, str] | None) -> str:
    """`analysis waits for bars of 2024-06-03 until 17:30 IST; then eod_cleanup at ...` or the next slot."""
    if waiting:
        text = f"{waiting['task']} waits for {waiting['for']} until {waiting['until']}"
        return text if nxt is None else f"{text}; then {nxt['task']} at {nxt['at']}"
    return "none scheduled" if nxt is None else f"{nxt['task']} at {nxt['at']}"


def quote_age_text(quotes: QuoteAge, now: datetime) -> str:
    """`broker quotes of 10:31:05 IST, 55 s old` (with `: stale, no paper fills` past the limit)."""
    age = quotes.age_seconds(now)
    if quotes.at is None or age is None:
        text = f"broker quotes: none yet (asked at {quotes.checked.astimezone(IST):%H:%M:%S} IST)"
    else:
        text = f"broker quotes of {quotes.at.astimezone(IST):%Y-%m-%d %H:%M:%S} IST, {age:.0f} s old"
    if quotes.stale(now):
        text += f": stale (over {quotes.max_age_seconds} s), no paper fills"
    return text
