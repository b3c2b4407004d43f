"""Who may see and act: the bind rule, credentials, and CSRF protection.

- A non-loopback bind needs a password (`check_bind`).
- With a password configured, every page and API call needs it, as HTTP Basic (any user name) or
  `Authorization: Bearer <password>`. Without one (loopback only), pages are open and actions are off.
- Repeated failed logins are slowed per client address (`login_throttle.py`): past five in a row, 429 with
  `Retry-After` until the client's penalty has passed. A loopback client presenting the right password is
  always let in, so the owner's own use on the machine is never locked out.
- Actions (POST) also need CSRF proof: the `X-CSRF-Token` header must equal the `swingtrader_csrf` cookie
  (double submit; pages set the cookie and carry the token in a meta tag), and a browser's `Origin` or
  `Sec-Fetch-Site` must say same-origin.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import math
import secrets

from fastapi import HTTPException, Request
from pydantic import SecretStr

from swingtrader.web.login_throttle import LoginThrottle

CSRF_COOKIE = "swingtrader_csrf"
CSRF_HEADER = "X-CSRF-Token"
_REALM = {"WWW-Authenticate": 'Basic realm="swingtrader", charset="UTF-8"'}


class BindRefused(ValueError):
    """The web server would be reachable from other machines without a password. It does not start."""


def secret_value(secret: SecretStr | str | None) -> str | None:
    """The plain value of an optional secret; empty counts as unset."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return value or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, password: SecretStr | str | None) -> None:
    """Raise `BindRefused` unless `host` is a loopback address or a password is configured."""
    if not is_loopback(host) and secret_value(password) is None:
        raise BindRefused(
            f"refusing to serve the dashboard on {host}: it would be reachable from other machines without a "
            "password. Set web_password (SWINGTRADER_WEB_PASSWORD) or bind to 127.0.0.1."
        )


class Guard:
    """Checks requests against the configured password. `actions_off` names why actions are refused
    for everyone (read-only dashboard, no password), or is None when they are allowed."""

    def __init__(self, password: SecretStr | str | None, *, actions_off: str | None,
                 throttle: LoginThrottle | None = None) -> None:
        self._password = secret_value(password)
        self._throttle = throttle or LoginThrottle()
        if actions_off is None and self._password is None:
            actions_off = "actions need a password: set web_password (SWINGTRADER_WEB_PASSWORD)"
        self.actions_off = actions_off

    def require_viewer(self, request: Request) -> None:
        """Dependency for pages and the JSON API: 401 if a password is set and not presented."""
        if self._password is not None and not self._presented(request):
            raise HTTPException(401, "authentication required", headers=_REALM)

    def require_actor(self, request: Request) -> None:
        """Dependency for actions: 403 when actions are off, 401 without credentials, 403 without CSRF proof."""
        if self.actions_off:
            raise HTTPException(403, self.actions_off)
        if not self._presented(request):
            raise HTTPException(401, "authentication required", headers=_REALM)
        _check_same_origin(request)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        header = request.headers.get(CSRF_HEADER, "")
        if not cookie or not header or not hmac.compare_digest(cookie, header):
            raise HTTPException(403, f"CSRF check failed: send the {CSRF_HEADER} header matching the cookie")

    def _presented(self, request: Request) -> bool:
        """Whether the request carries the password; a wrong one counts against its client (`LoginThrottle`),
        and a client still in its penalty gets 429."""
        offered = _offered(request)
        if offered is None:
            return False  # no credentials yet (a browser's first request): not a failed login
        client = request.client.host if request.client else "unknown"
        right = self._password is not None and hmac.compare_digest(offered.encode(), self._password.encode())
        wait = self._throttle.wait(client)
        if wait > 0 and not (right and is_loopback(client)):
            raise HTTPException(429, f"too many failed logins; try again in {math.ceil(wait)} s",
                                headers={"Retry-After": str(math.ceil(wait))})
        if right:
            self._throttle.succeeded(client)
        else:
            self._throttle.failed(client)
        return right


def _offered(request: Request) -> str | None:
    """The password a request offers (Bearer, or Basic with any user name); None without one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return None


def _check_same_origin(request: Request) -> None:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site request refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-origin request refused")


def csrf_token(request: Request) -> tuple[str, bool]:
    """The request's CSRF token and whether it is new (then the response must set the cookie)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing, False
    return secrets.token_urlsafe(32), True
