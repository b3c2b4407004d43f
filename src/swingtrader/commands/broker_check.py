"""`swingtrader broker-check [--config FILE]`: log in to Kotak Neo, print funds, holdings and open orders, exit.

Refuses (exit 2) naming every missing credential; a refused login or a failed read exits 1 with the broker's
classified error. Prints no secret: credentials and the session token are redacted from the logs too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from swingtrader.commands._common import fail, settings_or_exit


def main(args: argparse.Namespace) -> int:
    settings = settings_or_exit(args)
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

