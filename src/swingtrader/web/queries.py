"""Read-only store queries behind every page and API route.

Each function returns plain data (Decimal money, aware datetimes, lists and dicts) that a template
renders or `to_jsonable` serialises; nothing here writes. Money columns are exact strings in the store,
so sums are taken in Python, never in SQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from swingtrader.clock import IST, ist_date
from swingtrader.orders import LocalStatus
from swingtrader.store import Store
from swingtrader.store import tables as t

ACTIVE_ORDER_STATUSES = tuple(s.value for s in LocalStatus if s.is_active)
COALESCED_TASKS = ("monitor_sell_orders",)  # one slot a minute: shown as one summary row
LOGIN_EVENTS = ("login", "relogin")
PER_PAGE = 50
_PRICE_KEYS = ("ltp",)  # the position monitor records the last traded price in its signals


def overview(store: Store, now: datetime, *, session: dict[str, Any] | None) -> dict[str, Any]:
    """The day at a glance. `session` comes from the running service; None derives it from session events.

    The plan shown is for today (IST) or, when today has no runs yet, the latest trading day in the ledger.
    """
    today = ist_date(now)
    with store.connect() as conn:
        state = service_state(conn)
        tr = t.task_runs
        plan_day = conn.execute(select(func.max(tr.c.trading_date)).where(tr.c.trading_date <= today)).scalar()
        runs = conn.execute(select(tr).where(tr.c.trading_date == plan_day).order_by(tr.c.scheduled_at)).all()
        failures = conn.execute(
            select(tr)
            .where(tr.c.status == "failed", tr.c.trading_date >= (plan_day or today) - timedelta(days=7))
            .order_by(tr.c.scheduled_at.desc())
            .limit(5)
        ).all()
        derived = _session_from_events(conn, now)
        open_positions = conn.execute(select(func.count()).where(_open_position())).scalar_one()
        active_orders = conn.execute(
            select(func.count()).where(t.orders.c.status.in_(ACTIVE_ORDER_STATUSES))
        ).scalar_one()
        published = state.get("plan") or {}
        if published.get("date") == today.isoformat():  # the running service's plan: show slots not run yet
            if plan_day != today:
                plan_day, runs = today, []
            runs = [*runs, *_planned(published.get("slots", []), {(r.task, r.slot) for r in runs})]
        day_pnl = conn.execute(select(t.trades.c.net_pnl).where(t.trades.c.exit_date == plan_day)).scalars().all()
        all_pnl = conn.execute(select(t.trades.c.net_pnl)).scalars().all()
    session = derived if session is None else {**derived, **session}
    session["expires_at"] = parse_time(session.get("expires_at"))
    next_slot = _next_slot(state.get("next_slot"), now)
    heartbeat = parse_time(state.get("heartbeat"))
    return {
        "now": now,
        "today": today,
        "plan_day": plan_day,
        "stored_mode": state.get("mode"),
        "paused": bool(state.get("paused")),
        "heartbeat": heartbeat,
        "heartbeat_age_s": None if heartbeat is None else (now - heartbeat).total_seconds(),
        "next_slot": next_slot,
        "equity": _decimal(state.get("equity")),
        "session": session,
        "plan": plan_rows(runs),
        "recent_failures": [_run(r) for r in failures],
        "open_positions": open_positions,
        "active_orders": active_orders,
        "realised_day": sum(day_pnl, Decimal(0)),
        "realised_total": sum(all_pnl, Decimal(0)),
    }


def plan_rows(runs: list[Any]) -> list[dict[str, Any]]:
    """One row per slot, except the per-minute monitor: one summary row with counts by status."""
    rows: list[dict[str, Any]] = []
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        run = _run(r)
        if r.task in COALESCED_TASKS:
            grouped.setdefault(r.task, []).append(run)
        else:
            rows.append(run)
    for task, members in grouped.items():
        counts: dict[str, int] = {}
        for m in members:
            counts[m["status"]] = counts.get(m["status"], 0) + 1
        durations = [m["duration_s"] for m in members if m["duration_s"] is not None]
        worst = next((s for s in ("failed", "running", "missed") if s in counts), max(counts, key=counts.get))
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
    """Orders, newest first, paginated; counts by status over all orders."""
    o = t.orders
    with store.connect() as conn:
        counts = dict(conn.execute(select(o.c.status, func.count()).group_by(o.c.status)).all())
        where = [o.c.status == status] if status else []
        total = conn.execute(select(func.count()).select_from(o).where(*where)).scalar_one()
        rows = conn.execute(
            select(o).where(*where).order_by(o.c.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
        ).all()
    return {"counts": counts, "status": status, "orders": [dict(r._mapping) for r in rows], **_pages(total, page)}


def positions(store: Store) -> dict[str, Any]:
    """Open positions with their target and unrealised P&L before charges.

    The target is the price of the position's latest sell order (active during the session; after the close
    the day's sell is usually cancelled, which `target_status` says). The last price is the newest one the
    store holds (see `_latest_price`), returned with its source and date: the store keeps no live quotes.
    """
    with store.connect() as conn:
        rows = conn.execute(select(t.positions).where(_open_position()).order_by(t.positions.c.symbol)).all()
        out = [_position(conn, p) for p in rows]
    return {
        "positions": out,
        "invested": sum((p["cost"] for p in out), Decimal(0)),
        "unrealised": sum((p["unrealised"] for p in out if p["unrealised"] is not None), Decimal(0)),
    }


def trades(store: Store) -> dict[str, Any]:
    """Closed trades newest first, totals, and the cumulative net P&L by exit date (the equity curve)."""
    tt = t.trades
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(tt).order_by(tt.c.closed_at, tt.c.id)).all()]
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
        "trades": rows[::-1],
        "count": len(rows),
        "wins": wins,
        "win_rate": Decimal(wins * 100) / len(rows) if rows else None,
        "gross": sum((r["gross_pnl"] for r in rows), Decimal(0)),
        "charges": sum((r["charges"] for r in rows), Decimal(0)),
        "net": running,
        "equity_curve": curve,
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
    return {"runs": [_run(r) for r in rows], "task": task, "status": status, "tasks": names, **_pages(total, page)}


def service_state(conn: Connection) -> dict[str, Any]:
    return dict(conn.execute(select(t.service_state.c.key, t.service_state.c.value)).all())


def parse_time(value: Any) -> datetime | None:
    """An aware datetime from a stored ISO string (None if absent or unreadable)."""
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return parsed if parsed is None or parsed.tzinfo else None


class _PlannedRun:
    """A slot of the published plan that has no ledger row yet, shaped like a ledger row."""

    def __init__(self, task: str, slot: str, at: datetime) -> None:
        self.task, self.slot = task, slot
        self._mapping = {"task": task, "slot": slot, "status": "planned", "scheduled_at": at, "started_at": None,
                         "finished_at": None, "error": None, "detail": None}


def _planned(slots: list[dict[str, str]], done: set[tuple[str, str]]) -> list[_PlannedRun]:
    out = []
    for s in slots:
        at = parse_time(s.get("at"))
        if at is not None and (s["task"], s["slot"]) not in done:
            out.append(_PlannedRun(s["task"], s["slot"], at))
    return out


def _run(r: Any) -> dict[str, Any]:
    run = dict(r._mapping)
    started, finished = run["started_at"], run["finished_at"]
    run["duration_s"] = (finished - started).total_seconds() if started and finished else None
    return run


def _pages(total: int, page: int) -> dict[str, int]:
    return {"page": page, "pages": max(1, -(-total // PER_PAGE)), "total": total, "per_page": PER_PAGE}


def _open_position() -> Any:
    return func.lower(t.positions.c.status) == "open"


def _session_from_events(conn: Connection, now: datetime) -> dict[str, Any]:
    se = t.session_events
    day_start = datetime.combine(ist_date(now), datetime.min.time(), IST)
    last = conn.execute(select(se).order_by(se.c.at.desc(), se.c.id.desc()).limit(1)).first()
    logins = conn.execute(
        select(func.count()).where(se.c.event.in_(LOGIN_EVENTS), se.c.at >= day_start, se.c.at <= now)
    ).scalar_one()
    return {
        "logged_in": None if last is None else last.event in LOGIN_EVENTS,
        "expires_at": None,
        "logins_today": logins,
        "last_event": None if last is None else {"event": last.event, "at": last.at, "detail": last.detail},
    }


def _next_slot(raw: Any, now: datetime) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or parse_time(raw.get("at")) is None:
        return None
    at = parse_time(raw["at"])
    return {"task": raw.get("task"), "at": at, "seconds": max(0.0, (at - now).total_seconds())}


def _position(conn: Connection, p: Any) -> dict[str, Any]:
    o = t.orders
    sell = conn.execute(
        select(o.c.price, o.c.status, o.c.trading_date)
        .where(o.c.symbol == p.symbol, o.c.side == "SELL", o.c.trading_date >= p.entry_date)
        .order_by(o.c.id.desc()).limit(1)
    ).first()
    target = sell.price if sell else None
    known = _latest_price(conn, p.symbol, p.entry_date)
    price = known[2] if known else None
    return {
        **dict(p._mapping),
        "target": target,
        "target_status": sell.status if sell else None,
        "target_date": sell.trading_date if sell else None,
        "target_active": bool(sell) and sell.status in ACTIVE_ORDER_STATUSES,
        "last_price": price,
        "price_as_of": known[0] if known else None,
        "price_source": known[1] if known else None,
        "to_target_pct": (target - price) / price * 100 if target is not None and price else None,
        "unrealised": (price - p.average_price) * p.quantity if price is not None else None,
    }


def _latest_price(conn: Connection, symbol: str, entry: date) -> tuple[date, str, Decimal] | None:
    """(date, source, price) of the newest price the store holds for `symbol`: a position monitor reading
    (a signal's `ltp`), a fill, or an analysis close; on the same date a reading beats a fill beats a close."""
    sig, rec, f = t.signals, t.recommendations, t.fills
    found: list[tuple[date, int, str, Decimal]] = []
    for s in conn.execute(
        select(sig.c.detail, sig.c.trading_date).where(sig.c.symbol == symbol, sig.c.trading_date >= entry)
        .order_by(sig.c.id.desc()).limit(5)
    ).all():
        value = next((s.detail[k] for k in _PRICE_KEYS if isinstance(s.detail, dict) and s.detail.get(k)), None)
        if _decimal(value) is not None:
            found.append((s.trading_date, 2, "monitor reading", _decimal(value)))
            break
    fill = conn.execute(
        select(f.c.price, f.c.side, f.c.at).where(f.c.symbol == symbol).order_by(f.c.id.desc()).limit(1)
    ).first()
    if fill is not None:
        found.append((ist_date(fill.at), 1, f"{fill.side.lower()} fill", fill.price))
    close = conn.execute(
        select(rec.c.close, rec.c.as_of).where(rec.c.symbol == symbol).order_by(rec.c.as_of.desc()).limit(1)
    ).first()
    if close is not None:
        found.append((close.as_of, 0, "analysis close", close.close))
    if not found:
        return None
    day, _, source, price = max(found, key=lambda x: (x[0], x[1]))
    return day, source, price


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
