"""`HostGuard`: the dashboard answers only requests addressed to it, against DNS rebinding and cross-site posts.

A request whose `Host` header names a host outside the allowed set gets 421; a state-changing request (not GET,
HEAD or OPTIONS) whose `Origin` header names a foreign host gets 403. Allowed: the bind address, `localhost`,
`127.0.0.1`, `::1` and the extra names given (`SWINGTRADER_WEB_ALLOWED_HOSTS`). A rebinding page always sends
its own domain name as `Host`, so when the server listens on every interface (`0.0.0.0`, `::`) any IP literal
is accepted, names still only from the list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["HostGuard", "allowed_hosts"]

_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names (lower case, no port, IPv6 without brackets) the dashboard answers to."""
    return frozenset(_bare(h) for h in (bind_host, *_LOOPBACK, *extra) if h.strip())


class HostGuard:
    def __init__(self, app: ASGIApp, *, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts
        self.any_ip = bool({"0.0.0.0", "::"} & hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self._allowed(_host_of(headers.get("host", ""))):
            await PlainTextResponse("unknown Host header: this dashboard answers only to its own address",
                                    status_code=421)(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in _SAFE_METHODS and not self._allowed(_origin_host(origin)):
            await PlainTextResponse("cross-origin request refused", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, host: str | None) -> bool:
        if not host:
            return False
        if host in self.hosts:
            return True
        return self.any_ip and _is_ip(host)


def _host_of(header: str) -> str | None:
    """`Host: name:port` or `[v6]:port` -> `name` / `v6`; None when malformed."""
    try:
        return urlsplit(f"//{header.strip()}").hostname
    except ValueError:
        return None


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    return parts.hostname if parts.scheme in ("http", "https") else None


def _bare(host: str) -> str:
    return host.strip().strip("[]").lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
