"""The secret parts of a notification (apprise) URL, for the log redactor.

Apprise and the HTTP libraries under it log pieces of a URL, never the URL as configured: the POST URL built
from a Telegram bot token, a Discord webhook id and token, a json:// path token, a chat id. So each piece is
a secret of its own: the user and password, a host that is not a network name (`tgram://<bot token>/...`,
`discord://<webhook id>/...`), every path segment that holds a digit, starts with `@`/`#` or is at least
10 characters long (tokens, chat ids, channels), and the value of every query key that names a credential.
Plain words in a path (`api`, `notify`) are not secrets: redacting them would blank ordinary log text.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, unquote

__all__ = ["url_secrets"]

_SECRET_KEYS = re.compile(r"token|key|secret|pass|pwd|auth|sig|webhook|chat|user|to$|from$|botname", re.I)
_HOST_PORT = re.compile(r"^(?P<host>.*?)(?::(?P<port>\d{1,5}))?$")


def url_secrets(url: str) -> list[str]:
    """Every secret piece of `url` (raw and percent-decoded), the whole URL first; [] for a blank string."""
    url = url.strip()
    if not url:
        return []
    _, _, rest = url.partition("://")
    if not rest:
        return [url]
    found = [url, rest]
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        found += userinfo.split(":", 1)
    host = _HOST_PORT.match(hostport)
    if host is not None and not _is_network_name(host.group("host")):
        found.append(hostport if host.group("port") is None else host.group("host"))
        found.append(hostport)
    found += [seg for seg in path.split("/") if _looks_secret(unquote(seg))]
    found += [value for key, value in parse_qsl(query, keep_blank_values=False) if _SECRET_KEYS.search(key)]
    found += [unquote(value) for value in list(found)]
    return list(dict.fromkeys(v for v in found if v))


def _looks_secret(segment: str) -> bool:
    return any(ch.isdigit() for ch in segment) or segment[:1] in ("@", "#") or len(segment) >= 10


def _is_network_name(host: str) -> bool:
    """An IP address, `localhost` or a dotted DNS name: where a message goes, not a credential."""
    bare = host.strip("[]")
    if bare.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(bare)
        return True
    except ValueError:
        return "." in bare and all(re.fullmatch(r"[A-Za-z0-9-]+", label) for label in bare.split("."))
