"""`swingtrader broker-check [--config FILE] [--reset-login]`: log in to Kotak Neo, print funds, holdings and open
orders, exit.

Refuses (exit 2) naming every missing credential; a refused login or a failed read exits 1 with the broker's
classified error. Prints no secret: credentials and the session token are redacted from the logs too.

`--reset-login` logs nothing in: it asks the running service that owns the store (its lease row names its control
endpoint, `control_server.py`) to reset its login breaker, the one `SessionManager` that stops logging in after
repeated refusals until a person looks. With no running owner there is nothing to reset (exit 0); an owner that
cannot be asked exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from swingtrader.commands._common import fail, settings_or_exit


def main(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
    if getattr(args, "reset_login", False):
        return _reset_owner_login(settings)
    missing = settings.missing_live_credentials()
    if missing:
        fail(f"broker-check needs the Kotak Neo credentials; missing: {', '.join(missing)}")
    from swingtrader.broker.base import BrokerError
    from swingtrader.broker.kotak_neo import KotakCredentials, KotakNeoBroker
    from swingtrader.broker.session import SessionManager
    from swingtrader.clock import LiveClock
    from swingtrader.logs import setup_logging

    redaction = setup_logging(settings)
    creds = KotakCredentials.from_settings(settings)
    clock = LiveClock()
    client = KotakNeoBroker(
        creds, login_url=settings.kotak_login_url, clock=clock, timeout=settings.kotak_timeout_seconds,
        orders_per_second=settings.kotak_orders_per_second, reads_per_second=settings.kotak_reads_per_second,
        cache_dir=Path(settings.data_dir) / "cache",
    )
    broker = SessionManager(client, clock)  # the one login breaker (a fresh one: broker-check is a person asking)
    with client:
        try:
            session = broker.login()
            redaction.add_secret(session.token.get_secret_value())
            print(f"logged in to Kotak Neo; session expires {session.expires_at:%Y-%m-%d %H:%M %Z}")
            funds = broker.funds()
            holdings = broker.holdings()
            open_orders = [o for o in broker.orders() if o.status.is_active]
            unknown = client.unknown_statuses()
        except BrokerError as exc:
            print(f"error: {type(exc).__name__}: {redaction.redact(str(exc))}", file=sys.stderr)
            return 1
    print(f"funds: available cash {funds.available_cash}")
    print(f"holdings ({len(holdings)}):")
    for h in holdings:
        close = f" close {h.close_price}" if h.close_price is not None else ""
        print(f"  {h.symbol:<12} qty {h.quantity} (sellable {h.sellable_quantity}) avg {h.average_price}{close}")
    if unknown:
        print(f"order statuses this client does not know (treated as still active): {', '.join(sorted(unknown))}")
    print(f"open orders ({len(open_orders)}):")
    for o in open_orders:
        price = o.price if o.price is not None else "market"
        print(f"  {o.order_id} {o.side.value} {o.quantity} {o.symbol} {o.order_type.value} {price} "
              f"{o.status.value}{' AMO' if o.amo else ''} filled {o.filled_quantity} tag {o.tag or '-'}")
    return 0



def _reset_owner_login(settings: Any) -> int:
    from swingtrader.clock import LiveClock
    from swingtrader.control_server import request_reset_login
    from swingtrader.runtime import open_store
    from swingtrader.store import StoreError
    from swingtrader.store.lease import current

    now = LiveClock().now()
    holder = None
    if _store_exists(settings):
        try:
            store = open_store(settings)
        except StoreError as exc:
            fail(str(exc))
        try:
            holder = current(store)
        finally:
            store.dispose()
    if holder is None or not holder.live(now):
        print("no running service owns the store: there is no login breaker to reset "
              "(a plain broker-check starts with its own)")
        return 0
    if not holder.control_url:
        fail(f"the store is in use: {holder.describe(now)}; it takes no requests", 1)
    try:
        code, body = request_reset_login(holder.control_url, settings.data_dir)
    except OSError as exc:
        fail(f"the store is in use: {holder.describe(now)}; cannot reach it at {holder.control_url}: {exc}", 1)
    if code != 200:
        fail(f"the running service (pid {holder.pid}) refused: {body.get('error', code)}", 1)
    was = "it had stopped logging in after refused logins" if body.get("was_blocked") else "it was not blocked"
    print(f"the running service (pid {holder.pid}) reset its login breaker ({was}); it logs in again at its next "
          "broker call")
    return 0


def _store_exists(settings: Any) -> bool:
    """False only for a SQLite store whose file is missing or empty (opening it would create it)."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return True
    path = Path(url.database)
    return path.is_file() and path.stat().st_size > 0
