"""`run --standby`: wait while another process owns the store, then take it over.

PostgreSQL only (a standby on another machine shares the store over the network; SQLite is one machine's
file, where a second `run` simply refuses). The standby polls the lease row (a fifth of the lease expiry,
bounded) and takes it over once its holder stops renewing it, which is within the lease expiry of the owner's
last renewal (plus one poll). It writes nothing while it waits. Meanwhile `/readyz` answers 503 with
"standby: owner is ..." and `/` shows the same line, from a small stdlib server on the dashboard's port that
the real dashboard replaces after the take-over.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from swingtrader.commands._common import fail
from swingtrader.store import Store
from swingtrader.store.lease import Lease, LeaseHeld, LeaseInfo

log = logging.getLogger(__name__)


def refuse_on_sqlite(store_url: str) -> None:
    """Exit 2 for a SQLite store: a standby needs a store shared over the network (PostgreSQL)."""
    if store_url.startswith("sqlite"):
        fail("--standby needs a PostgreSQL store (SWINGTRADER_DATABASE_URL=postgresql+psycopg://...); on SQLite "
             "a second `run` on the same store refuses instead")


def wait_as_standby(settings: Any, store: Store, clock: Any, *, mode: str | None = None
                    ) -> tuple[Lease, LeaseInfo | None] | None:
    """Block until this process holds the store's lease (installed as the fence; recorded with `mode`, the
    settings' by default) and return it with the previous holder; None if SIGINT/SIGTERM arrived first."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    expiry = timedelta(seconds=settings.lease_expiry_seconds)
    lease = Lease(store, clock, mode=mode or settings.mode, expiry=expiry)
    poll = min(max(expiry.total_seconds() / 5, 0.1), 5.0)
    status = {"line": "standby: starting"}
    server = _StatusServer(status, settings.web_host, settings.web_port) if settings.web_enabled else None
    shown = None
    try:
        while not stop.is_set():
            try:
                return lease, _installed(lease, lease.acquire())
            except LeaseHeld as exc:
                status["line"] = f"standby: owner is pid {exc.holder.pid} on host {exc.holder.host}"
                if exc.holder.token != shown:
                    shown = exc.holder.token
                    print(f"{status['line']} ({exc.holder.describe(clock.now())}); waiting", flush=True)
                    log.info("%s; waiting to take over", status["line"])
            stop.wait(poll)
        return None
    finally:
        if server is not None:
            server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _installed(lease: Lease, previous: LeaseInfo | None) -> LeaseInfo | None:
    lease.install()
    return previous


class _StatusServer:
    """`/readyz` (503) and `/` with the standby line, on the dashboard's address, until `stop`."""

    def __init__(self, status: dict[str, str], host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ready = self.path.startswith("/readyz")
                body = (json.dumps({"ready": False, "standby": status["line"]}) if ready else status["line"]).encode()
                self.send_response(503 if ready else 200)
                self.send_header("Content-Type", "application/json" if ready else "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        try:
            self._server: ThreadingHTTPServer | None = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            log.error("standby status not served on %s:%s: %s", host, port, exc)
            self._server = None
            return
        threading.Thread(target=self._server.serve_forever, name="standby-web", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
