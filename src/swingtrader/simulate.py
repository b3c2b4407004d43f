"""Replay the whole service on historical bars with a virtual clock (invariant 8: only the clock, the broker
and the bar source are swapped). The run lives in a SQLite file; given the file of an interrupted run it
resumes from the last slot the ledger recorded, and ends with the same orders, trades and P&L.

On a shared store (PostgreSQL) a simulation can hold the store's instance lease as `run` does
(`instance_lease="owner"`), or wait as a standby for it to expire (`"standby"`) and then resume the run its
holder left, the same way a resumed simulation does."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from swingtrader.account_view import order_activity, read_account
from swingtrader.broker import paper_store
from swingtrader.broker.base import Broker
from swingtrader.clock import IST, LiveClock, SimClock
from swingtrader.market.universe import describe_universe
from swingtrader.performance import performance_from_store
from swingtrader.report_types import SimulationReport
from swingtrader.service import ClockMode, ServiceHooks, build_service, paper_broker
from swingtrader.store import Store
from swingtrader.store.db import sqlite_url
from swingtrader.store.lease import Lease, LeaseLost
from swingtrader.store.ledger import Ledger
from swingtrader.store.state import ServiceState

if TYPE_CHECKING:
    from swingtrader.config import Settings
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar


class SimulationMismatch(Exception):
    """The --db file belongs to a different simulation (other dates, data or capital)."""


@dataclass(frozen=True)
class SimulationSpec:
    start: date
    end: date
    data: str
    capital: Decimal

    def as_state(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "data": self.data,
                "capital": str(self.capital)}


def run_simulation(
    spec: SimulationSpec, settings: Settings, *, bars: BarSource, calendar: TradingCalendar, db: Path | None = None,
    store_url: str | None = None, broker_kind: str = "paper", faults: str | None = None,
    redact: Callable[[str], str] = str, progress: Callable[[datetime], None] | None = None,
    instance_lease: Literal["owner", "standby"] | None = None, per_day_writes: bool = True,
) -> SimulationReport:
    """Run (or resume) the simulation in the SQLite file `db` (or the store at `store_url`, e.g. PostgreSQL;
    a fresh temporary file when neither is given) and return its report (see `report`). `progress(now)` is
    told the simulated time after every slot (e.g. to sample the process's resources).

    `instance_lease`: "owner" takes the store's lease first (`LeaseHeld` while another process's is live),
    "standby" waits until the holder's lease expires and takes it over (`LeaseLost` if SIGINT/SIGTERM comes
    first); either way every write is fenced by it, a thread renews it every quarter of the settings' lease
    expiry, and it is given up when the run ends. Losing it mid-run raises `LeaseLost`.

    `per_day_writes` (SQLite, the embedded exchange): each session day is one store transaction (`Store.unit`),
    so a crash mid-day resumes from the day's start; False writes every unit of work on its own, as the live
    and paper services do (the benchmark's baseline). The results are the same either way."""
    if store_url is None:
        if db is None:
            db = Path(tempfile.mkdtemp(prefix="swingtrader-sim-")) / "sim.sqlite"
        store_url = sqlite_url(db)
    store = Store.open(store_url)
    try:
        lease = None if instance_lease is None else _take_lease(store, settings, standby=instance_lease == "standby")
        halt = None if lease is None else lease.keep_renewed(settings.lease_expiry_seconds / 4)
        try:
            return _run(spec, settings, store, bars=bars, calendar=calendar, broker_kind=broker_kind, faults=faults,
                        redact=redact, progress=progress, per_day_writes=per_day_writes)
        finally:
            if halt is not None:
                halt()
            if lease is not None and lease.held:
                lease.release()
    finally:
        store.dispose()


def _take_lease(store: Store, settings: Settings, *, standby: bool) -> Lease:
    """The store's instance lease, installed as its fence. The lease is between processes, so it runs on the
    wall clock, not the simulated one."""
    clock = LiveClock()
    if standby:
        from swingtrader.standby import wait_as_standby

        taken = wait_as_standby(settings, store, clock, mode="simulation")
        if taken is None:
            raise LeaseLost("stopped while waiting as a standby for the store's lease")
        return taken[0]
    lease = Lease(store, clock, mode="simulation", expiry=timedelta(seconds=settings.lease_expiry_seconds))
    lease.acquire()
    lease.install()
    return lease


def _run(
    spec: SimulationSpec, settings: Settings, store: Store, *, bars: BarSource, calendar: TradingCalendar,
    broker_kind: str, faults: str | None, redact: Callable[[str], str], progress: Callable[[datetime], None] | None,
    per_day_writes: bool,
) -> SimulationReport:
    state = ServiceState(store).simulation()
    if state is not None and state != spec.as_state():
        raise SimulationMismatch(f"the store holds another simulation: {state}")
    ledger = Ledger(store)
    resume_at = ledger.last_scheduled_at()
    first = calendar.sessions(spec.start, spec.end)
    if not first:
        return report(store, spec, calendar)
    start_at = resume_at.astimezone(IST) if resume_at else datetime.combine(first[0].date, time(8, 0), tzinfo=IST)
    clock = SimClock(start_at)
    if state is None:
        ServiceState(store).set_simulation(spec.as_state(), clock.now())
    exchange = paper_broker(settings, store, clock, bars, calendar, initial_cash=spec.capital)
    calls: dict[str, int] | None = None
    fault_counts: dict[str, int] | None = None
    fake = None
    broker: Broker = exchange
    if broker_kind == "kotak-fake":
        from swingtrader.broker.kotak_neo.auth import KotakCredentials
        from swingtrader.broker.kotak_neo.harness import client_for, start_fake

        # the fake accepts the configured credentials when there are any (a dress rehearsal), else test ones
        credentials = None if settings.missing_live_credentials() else KotakCredentials.from_settings(settings)
        fake = start_fake(exchange, clock, faults=faults, symbols=bars.symbols(), credentials=credentials)
        client = client_for(fake, clock)
        broker = client
    try:
        service = build_service(
            settings, clock=clock, clock_mode=ClockMode.VIRTUAL, calendar=calendar, store=store, bars=bars,
            broker=broker, hooks=ServiceHooks(redact=redact, heartbeat=_told(progress, clock)),
        )
        # not with the fake Kotak server: its thread would wait for the write lock the day's unit holds
        if per_day_writes and broker_kind == "paper" and store.engine.dialect.name == "sqlite":
            service.scheduler.day_unit = store.unit
        until = datetime.combine(spec.end + timedelta(days=1), time(0, 0), tzinfo=IST)
        try:
            service.scheduler.run(start_day=start_at.date() if resume_at else first[0].date, until=until)
        finally:
            service.ledger.close()
    finally:
        if fake is not None:
            calls, fault_counts = client.call_counts(), fake.fault_counts()
            fake.stop()
    out = report(store, spec, calendar, broker_calls=calls, faults=fault_counts)
    sessions = [s.date for s in calendar.sessions(spec.start, spec.end)]
    performance = performance_from_store(store, capital=spec.capital, sessions=sessions, bars=bars,
                                         trades=out["trades"], final_equity=Decimal(out["final_equity"]),
                                         universe=describe_universe(settings.universe_rule, settings.universe,
                                                                    bars, sessions))
    ServiceState(store).set_performance(performance, clock.now())  # the dashboard's trades page shows it
    return {"headline": performance["headline"], **out, **performance}


def _told(progress: Callable[[datetime], None] | None, clock: SimClock) -> Callable[[], None]:
    """The scheduler's heartbeat (called after every slot), telling `progress` the simulated time."""
    if progress is None:
        return lambda: None
    return lambda: progress(clock.now())


def report(store: Store, spec: SimulationSpec, calendar: TradingCalendar, *, broker_calls: dict[str, int] | None = None,
           faults: dict[str, int] | None = None) -> SimulationReport:
    """The simulation report (money as decimal strings), a formatter over the read model (`account_view`) as of
    the end of the simulated range: task outcomes, order counts, trades, P&L and the final equity (the read
    model's; the capital when nothing ran). `duplicate_client_tags` comes from the paper exchange."""
    end_of_run = datetime.combine(spec.end + timedelta(days=1), time(0, 0), tzinfo=IST)
    account = read_account(store, end_of_run)
    with store.connect() as conn:
        duplicates = paper_store.duplicate_tags(conn)
    task_runs = {
        task: {k: runs.get(k, 0) for k in ("succeeded", "failed", "missed", "skipped")}
        for task, runs in Ledger(store).counts().items()
    }
    gross = sum((r["gross_pnl"] for r in account.trades), Decimal(0))
    charges = sum((r["charges"] for r in account.trades), Decimal(0))
    equity = spec.capital if account.equity is None else account.equity
    out: SimulationReport = {
        "start": spec.start.isoformat(),
        "end": spec.end.isoformat(),
        "trading_days": len(calendar.sessions(spec.start, spec.end)),
        "logins": account.logins,
        "task_runs": task_runs,
        "orders": {
            **order_activity(store),
            **{s: account.orders_by_status.get(s, 0) for s in ("cancelled", "rejected", "filled")},
        },
        "open_orders": account.open_orders,
        "open_positions": len(account.positions),
        "duplicate_client_tags": duplicates,
        "trades": [
            {
                "symbol": r["symbol"], "entry_date": r["entry_date"].isoformat(), "entry_price": str(r["entry_price"]),
                "quantity": r["quantity"], "exit_date": r["exit_date"].isoformat(),
                "exit_price": str(r["exit_price"]), "exit_reason": r["exit_reason"], "net_pnl": str(r["net_pnl"]),
            }
            for r in account.trades
        ],
        "pnl": {"gross": str(gross), "charges": str(charges), "net": str(account.realised_pnl)},
        "final_equity": str(equity.quantize(Decimal("0.01"))),
    }
    if broker_calls is not None:
        out["broker_calls"] = broker_calls
    if faults is not None:
        out["faults"] = faults
    return out
