"""Read-only store queries behind every page and API route.

Each function returns plain data (Decimal money, aware datetimes, lists and dicts) that a template
renders or `to_jsonable` serialises; nothing here writes. The account's figures (open orders, positions and
their prices, trades, P&L, cash, equity, logins, plan) come from the read model `account_view`; the listings
here add paging and presentation. Money columns are exact strings in the store, so sums are taken in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from swingtrader.account_view import (
    LOGIN_EVENTS,
    OPEN_ORDER_STATUSES,
    AccountView,
    Position,
    lost_orders,
    read_account,
    recent_failures,
    task_runs_on,
)
from swingtrader.clock import ist_date
from swingtrader.order_path.state import LocalStatus
from swingtrader.store import Store
from swingtrader.store import tables as t
from swingtrader.store.state import NextSlot, PlannedSlot, PriceAge, QuoteAge, ServiceState
from swingtrader.web.performance import performance

COALESCED_TASKS = ("monitor_sell_orders",)  # one slot a minute: shown as one summary row
PER_PAGE = 50


def overview(store: Store, now: datetime, *, session: dict[str, Any] | None,
             unknown_statuses: Mapping[str, int] | None = None, max_price_age_days: int | None = None
             ) -> dict[str, Any]:
    """The day at a glance. `session` comes from the running service; None derives it from session events.
    `unknown_statuses` (order status strings the broker sent that we do not know, with how often) also comes
    from the running service; a read-only dashboard has none. `prices` is the age of the running service's bars,
    `stale` when older than `max_price_age_days` trading days (paper fills are refused then); `quotes`, when paper
    prices come from the broker's quotes, the newest quote's age (fills refused past `max_age_s`).

    The plan shown is for today (IST) or, when today has no runs yet, the latest trading day in the ledger.
    Figures (open orders, lost orders, positions, realised P&L, cash, equity) are the read model's
    (`account_view`).
    """
    today = ist_date(now)
    account = read_account(store, now)
    plan_day = account.last_trading_date
    runs = task_runs_on(store, plan_day) if plan_day is not None else []
    failures = recent_failures(store, since=(plan_day or today) - timedelta(days=7))
    published = account.plan
    if published is not None and published.day == today:  # the running service's plan: show slots not run yet
        if plan_day != today:
            plan_day, runs = today, []
        runs = [*runs, *_planned(published.slots, {(r["task"], r["slot"]) for r in runs})]
    derived = _session_from_events(account)
    session = derived if session is None else {**derived, **session}
    heartbeat = account.heartbeat
    return {
        "now": now,
        "today": today,
        "plan_day": plan_day,
        "stored_mode": account.mode,
        "paused": account.paused,
        "heartbeat": heartbeat,
        "heartbeat_age_s": None if heartbeat is None else (now - heartbeat).total_seconds(),
        "next_slot": _next_slot(account.next_slot, now),
        "cash": account.cash,
        "equity": account.equity,
        "session": session,
        "plan": plan_rows(runs),
        "recent_failures": [_run(r) for r in failures],
        "open_positions": len(account.positions),
        "open_orders": account.open_orders,
        "realised_day": account.realised_on(plan_day),
        "realised_total": account.realised_pnl,
        "lost_orders": [asdict(o) for o in account.lost_orders],
        "unknown_statuses": dict(sorted((unknown_statuses or {}).items())),
        "prices": _prices(account.prices, max_price_age_days),
        "quotes": _quotes(account.quotes, now),
        **_calendar_and_wait(store, today),
    }


def _calendar_and_wait(store: Store, today: date) -> dict[str, Any]:
    """The calendar's reach (`calendar_watch`; `attention` near or at its end) and what a task waits for."""
    from swingtrader.calendar_watch import ADD_HOLIDAYS, ending_soon, reach_text

    state = ServiceState(store)
    reach, waiting = state.calendar(), state.waiting()
    return {"calendar": None if reach is None else {**reach, "text": reach_text(reach),
                                                     "attention": ending_soon(reach, today), "remedy": ADD_HOLIDAYS},
            "waiting": waiting or None}


def plan_rows(runs: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per slot (ledger rows as mappings), except the per-minute monitor: one summary row with counts
    by status."""
    rows: list[dict[str, Any]] = []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        run = _run(r)
        if r["task"] in COALESCED_TASKS:
            grouped.setdefault(r["task"], []).append(run)
        else:
            rows.append(run)
    for task, members in grouped.items():
        counts: dict[str, int] = {}
        for m in members:
            counts[m["status"]] = counts.get(m["status"], 0) + 1
        durations = [m["duration_s"] for m in members if m["duration_s"] is not None]
        worst = next((s for s in ("failed", "running", "missed") if s in counts), max(counts, key=lambda s: counts[s]))
        rows.append({
            "task": task,
            "slot": f"{members[0]['slot']}–{members[-1]['slot']}",
            "status": worst,
            "counts": counts,
            "runs": len(members),
            "scheduled_at": members[0]["scheduled_at"],
            "started_at": members[0]["started_at"],
            "finished_at": members[-1]["finished_at"],
            "duration_s": sum(durations) if durations else None,
            "error": next((m["error"] for m in reversed(members) if m["status"] == "failed"), None),
        })
    rows.sort(key=lambda row: row["scheduled_at"])
    return rows


def orders(store: Store, *, page: int = 1, status: str | None = None) -> dict[str, Any]:
    """Orders, newest first, paginated; counts by status over all orders; every lost order (`lost`,
    `account_view.lost_orders`) on every page."""
    o = t.orders
    with store.connect() as conn:
        counts: dict[str, int] = {s: n for s, n in conn.execute(select(o.c.status, func.count()).group_by(o.c.status))}
        lost = lost_orders(conn) if counts.get(LocalStatus.LOST.value) else ()
        where = [o.c.status == status] if status else []
        total = conn.execute(select(func.count()).select_from(o).where(*where)).scalar_one()
        rows = conn.execute(
            select(o).where(*where).order_by(o.c.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
        ).all()
    return {"counts": counts, "status": status, "lost": [asdict(r) for r in lost],
            "orders": [dict(r._mapping) for r in rows], **_pages(total, page)}


def positions(store: Store, now: datetime) -> dict[str, Any]:
    """Open positions with their target and unrealised P&L before charges.

    The target is the price of the position's latest sell order (active during the session; after the close
    the day's sell is usually cancelled, which `target_status` says). The last price is the read model's
    latest price (`account_view.latest_price`), returned with its source and date: the store keeps no live
    quotes.
    """
    account = read_account(store, now)
    with store.connect() as conn:
        out = [_position(conn, p) for p in account.positions]
    return {
        "positions": out,
        "invested": sum((p["cost"] for p in out), Decimal(0)),
        "unrealised": sum((p["unrealised"] for p in out if p["unrealised"] is not None), Decimal(0)),
    }


def trades(store: Store, now: datetime) -> dict[str, Any]:
    """Closed trades newest first, totals, the cumulative net P&L by exit date (the equity curve) and the
    performance panel (`web.performance`)."""
    account = read_account(store, now)
    rows = account.trades
    curve: list[tuple[date, Decimal]] = []
    running = Decimal(0)
    for r in rows:
        running += r["net_pnl"]
        if curve and curve[-1][0] == r["exit_date"]:
            curve[-1] = (r["exit_date"], running)
        else:
            curve.append((r["exit_date"], running))
    wins = sum(1 for r in rows if r["net_pnl"] > 0)
    return {
        "trades": list(rows[::-1]),
        "count": len(rows),
        "wins": wins,
        "win_rate": Decimal(wins * 100) / len(rows) if rows else None,
        "gross": sum((r["gross_pnl"] for r in rows), Decimal(0)),
        "charges": sum((r["charges"] for r in rows), Decimal(0)),
        "net": running,
        "equity_curve": curve,
        "performance": performance(store, account),
    }


def analysis(store: Store) -> dict[str, Any]:
    """The latest analysis run with why symbols were rejected (`analysis_runs.rejected` is
    `{reason: [symbols]}`), the last recommendations with their indicator values (from the latest day that
    had any), and a short history of earlier runs."""
    a, rec = t.analysis_runs, t.recommendations
    with store.connect() as conn:
        runs = conn.execute(select(a).order_by(a.c.as_of.desc()).limit(10)).all()
        latest = runs[0] if runs else None
        recs_as_of = conn.execute(select(func.max(rec.c.as_of))).scalar()  # the last day with any
        recs = conn.execute(select(rec).where(rec.c.as_of == recs_as_of).order_by(rec.c.rank)).all()
    rejected = [
        {"reason": reason, "symbols": sorted(symbols), "count": len(symbols)}
        for reason, symbols in sorted((latest.rejected or {}).items(), key=lambda kv: -len(kv[1]))
    ] if latest else []
    return {
        "as_of": latest.as_of if latest else None,
        "symbols_analysed": latest.symbols_analysed if latest else None,
        "created_at": latest.created_at if latest else None,
        "warnings": list(latest.warnings) if latest else [],
        "recommendations": [dict(r._mapping) for r in recs],
        "recommendations_as_of": recs_as_of,
        "rejected": rejected,
        "rejected_count": sum(r["count"] for r in rejected),
        "history": [
            {"as_of": r.as_of, "symbols_analysed": r.symbols_analysed,
             "rejected": sum(len(v) for v in (r.rejected or {}).values())}
            for r in runs
        ],
    }


def tasks(store: Store, *, page: int = 1, task: str | None = None, status: str | None = None) -> dict[str, Any]:
    """The ledger, newest first, paginated and optionally filtered by task and status."""
    tr = t.task_runs
    where = ([tr.c.task == task] if task else []) + ([tr.c.status == status] if status else [])
    with store.connect() as conn:
        total = conn.execute(select(func.count()).select_from(tr).where(*where)).scalar_one()
        rows = conn.execute(
            select(tr).where(*where)
            .order_by(tr.c.trading_date.desc(), tr.c.scheduled_at.desc(), tr.c.id.desc())
            .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
        ).all()
        names = conn.execute(select(tr.c.task).distinct().order_by(tr.c.task)).scalars().all()
    runs = [_run(dict(r._mapping)) for r in rows]
    return {"runs": runs, "task": task, "status": status, "tasks": names, **_pages(total, page)}


def _planned(slots: tuple[PlannedSlot, ...], done: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Slots of the published plan that have no ledger row yet, shaped like ledger rows."""
    return [
        {"task": s.task, "slot": s.slot, "status": "planned", "scheduled_at": s.at, "started_at": None,
         "finished_at": None, "error": None, "detail": None}
        for s in slots if (s.task, s.slot) not in done
    ]


def _run(r: Mapping[str, Any]) -> dict[str, Any]:
    run = dict(r)
    started, finished = run["started_at"], run["finished_at"]
    run["duration_s"] = (finished - started).total_seconds() if started and finished else None
    return run


def _pages(total: int, page: int) -> dict[str, int]:
    return {"page": page, "pages": max(1, -(-total // PER_PAGE)), "total": total, "per_page": PER_PAGE}


def _session_from_events(account: AccountView) -> dict[str, Any]:
    last = account.last_session_event
    return {
        "logged_in": None if last is None else last.event in LOGIN_EVENTS,
        "expires_at": None,
        "logins_today": account.logins_today,
        "last_event": None if last is None else {"event": last.event, "at": last.at, "detail": last.detail},
    }


def _prices(prices: PriceAge | None, max_age_days: int | None) -> dict[str, Any] | None:
    if prices is None:
        return None
    stale = max_age_days is not None and prices.age_days > max_age_days
    return {"as_of": prices.as_of, "age_days": prices.age_days, "at": prices.at, "max_age_days": max_age_days,
            "stale": stale}


def _quotes(quotes: QuoteAge | None, now: datetime) -> dict[str, Any] | None:
    """Paper prices from the broker's quotes (`paper_prices=broker`): the newest quote's time and age."""
    if quotes is None:
        return None
    return {"at": quotes.at, "checked": quotes.checked, "age_s": quotes.age_seconds(now),
            "max_age_s": quotes.max_age_seconds, "stale": quotes.stale(now)}


def _next_slot(slot: NextSlot | None, now: datetime) -> dict[str, Any] | None:
    if slot is None:
        return None
    return {"task": slot.task, "at": slot.at, "seconds": max(0.0, (slot.at - now).total_seconds())}


def _position(conn: Connection, p: Position) -> dict[str, Any]:
    o = t.orders
    sell = conn.execute(
        select(o.c.price, o.c.status, o.c.trading_date)
        .where(o.c.symbol == p.symbol, o.c.side == "SELL", o.c.trading_date >= p.row["entry_date"])
        .order_by(o.c.id.desc()).limit(1)
    ).first()
    target = sell.price if sell else None
    price = p.price.value if p.price is not None else None
    return {
        **p.row,
        "target": target,
        "target_status": sell.status if sell else None,
        "target_date": sell.trading_date if sell else None,
        "target_active": sell is not None and sell.status in OPEN_ORDER_STATUSES,
        "last_price": price,
        "price_as_of": p.price.day if p.price is not None else None,
        "price_source": p.price.source if p.price is not None else None,
        "to_target_pct": (target - price) / price * 100 if target is not None and price else None,
        "unrealised": (price - p.average_price) * p.quantity if price is not None else None,
    }
