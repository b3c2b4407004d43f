"""`swingtrader status`: what the service did and will do, read from the store (works while it runs)."""

from __future__ import annotations

import json
from typing import Any

from swingtrader.commands._common import fail, settings_or_exit


def main(args: Any) -> int:
    settings = settings_or_exit(args)
    from sqlalchemy import func, select

    from swingtrader.owner import existing_store_or_exit
    from swingtrader.runtime import open_store
    from swingtrader.store import StoreError
    from swingtrader.store import tables as t

    existing_store_or_exit(settings)  # issue 9: a missing store is reported, never created
    try:
        store = open_store(settings)
    except StoreError as exc:
        fail(str(exc))
    with store.connect() as conn:
        last_day = conn.execute(select(func.max(t.task_runs.c.trading_date))).scalar()
        runs = []
        if last_day is not None:
            runs = conn.execute(
                select(t.task_runs.c.task, t.task_runs.c.status, func.count())
                .where(t.task_runs.c.trading_date == last_day)
                .group_by(t.task_runs.c.task, t.task_runs.c.status)
            ).all()
        failures = conn.execute(
            select(t.task_runs.c.task, t.task_runs.c.trading_date, t.task_runs.c.slot, t.task_runs.c.error)
            .where(t.task_runs.c.status == "failed").order_by(t.task_runs.c.id.desc()).limit(5)
        ).all()
        positions = conn.execute(select(t.positions).where(t.positions.c.status == "open")).all()
        open_orders = conn.execute(
            select(func.count()).select_from(t.orders).where(t.orders.c.status.in_(["pending", "open", "unknown"]))
        ).scalar_one()
    result = {
        "store": store.location,
        "mode": store.get_state("mode"),
        "paused": bool(store.get_state("paused", False)),
        "next": store.get_state("next_slot"),
        "last_trading_date": last_day.isoformat() if last_day else None,
        "runs": {f"{task}:{status}": n for task, status, n in runs},
        "recent_failures": [
            {"task": f.task, "date": f.trading_date.isoformat(), "slot": f.slot, "error": f.error} for f in failures
        ],
        "open_positions": [
            {"symbol": p.symbol, "quantity": p.quantity, "average_price": str(p.average_price)} for p in positions
        ],
        "open_orders": open_orders,
    }
    store.dispose()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"store: {result['store']}  mode: {result['mode']}  paused: {result['paused']}")
    print(f"next: {result['next']}")
    print(f"last trading date: {result['last_trading_date']}")
    for key, n in sorted(result["runs"].items()):
        print(f"  {key}: {n}")
    for f in result["recent_failures"]:
        print(f"  FAILED {f['task']} {f['date']} {f['slot']}: {f['error']}")
    print(f"open positions: {len(positions)}, open orders: {open_orders}")
    return 0
