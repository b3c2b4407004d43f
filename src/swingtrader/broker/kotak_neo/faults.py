"""Fault injection for the fake Kotak Neo server.

A SPEC is comma-separated `key=value` pairs, e.g. `expire=2h,http429=0.02,http5xx=0.01,lost_reply=0.005,
non_json=0.01,latency_ms=5,seed=7`:
- `expire=<duration>` (`90s`, `30m`, `2h`, `1d`): a trade session dies that long after it was issued (the JWT
  `exp` still says midnight, as when Kotak kills a session early); `expire_body=401|403|mix` picks the reply;
- `http429`, `http5xx`, `non_json`, `lost_reply`: per-request probabilities for trading calls (login is spared);
  a lost reply runs the request on the exchange, then drops the connection without answering;
- `latency_ms`: added to every request; `seed`: the random draws (default 0).
Behaviour of the real API that our code must survive (KOTAK_NEO_API.md, "Replies seen in the wild"):
- `status_noise=<p>`: the order book carries hand-placed orders with statuses beyond our list (`trigger
  pending`, the after-market ones, one status nobody documented), and each of our active orders shows, with
  probability p, another status string of the same meaning (or, with p/4, an undocumented one);
- `tag_rewrite=<p>`: a modify or cancel rewrites the order's `GuiOrdId` (in both books) with probability p:
  `<tag>-<epoch>` after a cancel, `<epoch>-<n>-****-ADMINAPI` after a modify;
- `stale_books=<p>`: an order book or trade book read answers `5203 "No Data"` with probability p, though the
  account has orders (kotak-neo-api #103);
- `price_delay=<duration>`: for that long after a fill, the order's row shows the new `fldQty` with `avgPrc`
  "0.00" and the trade book does not show the fill yet (fills before prices);
- `visibility_delay=<duration>`: a new order shows in the books only that long after it was placed (on the
  server's clock, which may be virtual);
- `tag_guard=off`: no duplicate-tag refusal (it is undocumented: nothing may rely on it);
- `expire_body=100022` (also drawn by `mix`): an expired session answers HTTP 200 `{"stCode": 100022, ...}`.
On unless switched off: duplicate-tag refusal (stCode 32). Always on: `dTickSize` in paise,
`low_price_range`/`high_price_range`, a whole-reply `Not_Ok` stCode 1009 for a quote batch naming an unlisted
instrument.
Injected faults are counted by kind; `serve_next()` queues a one-off canned reply, `drop_next()` a one-off lost
reply (the server's `expire_now()` kills the live sessions, `refuse_quotes()` makes instruments unknown to the
quote service).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RANDOM_KINDS = ("http429", "http5xx", "non_json", "lost_reply")
_EXPIRE_BODIES = ("401", "403", "100022")


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not m:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h or d (e.g. 2h)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class FaultSpec:
    """The parsed fault mix (all zero: no faults)."""

    expire_every: timedelta | None = None
    expire_body: str = "mix"
    http429: float = 0.0
    http5xx: float = 0.0
    non_json: float = 0.0
    lost_reply: float = 0.0
    latency_ms: float = 0.0
    status_noise: float = 0.0
    tag_rewrite: float = 0.0
    stale_books: float = 0.0
    visibility_delay: timedelta = timedelta(0)
    price_delay: timedelta = timedelta(0)
    tag_guard: bool = True
    seed: int = 0

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse a SPEC; `ValueError` names the bad key or value."""
        values: dict[str, object] = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            key, sep, value = part.partition("=")
            key, value = key.strip(), value.strip()
            if not sep:
                raise ValueError(f"fault {part!r} needs a value (key=value)")
            if key == "expire":
                values["expire_every"] = parse_duration(value)
            elif key == "expire_body":
                if value not in (*_EXPIRE_BODIES, "mix"):
                    raise ValueError(f"expire_body must be 401, 403, 100022 or mix, got {value!r}")
                values["expire_body"] = value
            elif key in ("visibility_delay", "price_delay"):
                values[key] = parse_duration(value)
            elif key in ("status_noise", "tag_rewrite", "stale_books"):
                values[key] = _number(key, value, upper=1.0)
            elif key == "tag_guard":
                if value not in ("on", "off"):
                    raise ValueError(f"tag_guard must be on or off, got {value!r}")
                values["tag_guard"] = value == "on"
            elif key == "seed":
                values["seed"] = int(value)
            elif key == "latency_ms":
                values["latency_ms"] = _number(key, value, upper=None)
            elif key in _RANDOM_KINDS:
                values[key] = _number(key, value, upper=1.0)
            else:
                raise ValueError(f"unknown fault {key!r}: expected expire, expire_body, {', '.join(_RANDOM_KINDS)}, "
                                 "latency_ms, status_noise, tag_rewrite, stale_books, visibility_delay, price_delay, "
                                 "tag_guard, seed")
        return cls(**values)  # type: ignore[arg-type]


def _number(key: str, value: str, *, upper: float | None) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"fault {key}={value!r} is not a number") from None
    if number < 0 or (upper is not None and number > upper):
        raise ValueError(f"fault {key}={value} is out of range")
    return number


@dataclass(frozen=True)
class CannedReply:
    """A reply served once instead of the real one (`serve_next`)."""

    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class FaultPlan:
    """The fault state of one fake server: draws, one-off injections, and counts by kind. Thread-safe."""

    spec: FaultSpec = field(default_factory=FaultSpec)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.spec.seed)
        self._behaviour_rng = random.Random(self.spec.seed + 1)  # its own stream: knobs don't shift fault draws
        self._counts: Counter[str] = Counter()
        self._canned: dict[str, deque[CannedReply]] = {}
        self._drops: Counter[str] = Counter()
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """The random fault for one trading request, or None."""
        with self._lock:
            u = self._rng.random()
            for kind in _RANDOM_KINDS:
                p = getattr(self.spec, kind)
                if u < p:
                    return kind
                u -= p
            return None

    def session_reply(self) -> str:
        """'401', '403' or '100022', as configured (`mix` picks at random)."""
        if self.spec.expire_body != "mix":
            return self.spec.expire_body
        with self._lock:
            return self._rng.choice(_EXPIRE_BODIES)

    def chance(self, p: float, kind: str) -> bool:
        """True with probability p (counted under `kind`): the behaviour knobs' draws."""
        if p <= 0:
            return False
        with self._lock:
            hit = self._behaviour_rng.random() < p
            if hit:
                self._counts[kind] += 1
        return hit

    def pick(self, options: tuple[str, ...]) -> str:
        with self._lock:
            return self._behaviour_rng.choice(options)

    def serve_next(self, op: str, reply: CannedReply) -> None:
        """Answer the next request for operation `op` (e.g. `holdings`, `validate`) with `reply`."""
        with self._lock:
            self._canned.setdefault(op, deque()).append(reply)

    def drop_next(self, op: str) -> None:
        """Run the next `op` request on the exchange, then drop the connection without answering."""
        with self._lock:
            self._drops[op] += 1

    def take_drop(self, op: str) -> bool:
        with self._lock:
            if self._drops[op] <= 0:
                return False
            self._drops[op] -= 1
            return True

    def take_canned(self, op: str) -> CannedReply | None:
        with self._lock:
            queue = self._canned.get(op)
            return queue.popleft() if queue else None

    def record(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
