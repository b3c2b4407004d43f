"""What a Kotak Neo reply means: one table from (HTTP status, stCode, errMsg / stat text) to an outcome, each
row with its evidence (`../shared/docs/KOTAK_NEO_API.md`, "Replies seen in the wild").

Replies are read tolerantly and classified strictly: a reply is a success only when `stat` is "Ok" (any case),
or, for the few operations whose success carries no `stat` (login, holdings, the master file paths, quotes),
when it is HTTP 200 without a failure marker; the parsers then require the fields the operation needs. The
first matching row decides. A reply no row explains is `AmbiguousOutcome` on a write (the order may exist:
look it up by its tag) and `BrokerUnavailable` on a read.

Part of the wire package: the only place that knows Kotak's field names (see `wire/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from swingtrader.broker.base import (
    AmbiguousOutcome,
    BrokerError,
    BrokerUnavailable,
    DuplicateTag,
    ForeignOrder,
    LoginFailed,
    OrderCompleted,
    OrderRejected,
    RateLimited,
    SessionExpired,
)
from swingtrader.broker.kotak_neo.wire.outbound import CANCEL, LOGIN, MODIFY, PLACE, VALIDATE, Endpoint

ST_CODE_EMPTY = "5203"
ST_CODE_COMPLETED = "1021"
ST_CODE_DUPLICATE_TAG = "32"
ST_CODE_NOT_WHITELISTED = "100008"
ST_CODE_BAD_INSTRUMENT = "1009"
ST_CODE_BAD_REQUEST = "1007"
ST_CODE_DUPLICATE_TAG_2 = "5204"
ST_CODE_NOT_VIA_API = "91400"
SESSION_CODES = frozenset({"900901", "900902", "100022", "10020", "100021"})
_SESSION_TEXT = ("invalid session", "neo-login-check-api", "invalid jwt")
# Operations whose success reply has no `stat` (holdings: SDK sample `{"data": [...]}`; quotes: a JSON array).
_NO_STAT_OPS = frozenset({"login", "validate", "holdings", "instruments", "quotes"})


class Outcome(Enum):
    SUCCESS = "success"
    EMPTY = "empty"  # an empty book: a success with no rows
    SESSION = "session"
    RATE_LIMITED = "rate_limited"
    LOGIN_REFUSED = "login_refused"
    COMPLETED = "completed"
    DUPLICATE_TAG = "duplicate_tag"
    REJECTED = "rejected"
    FOREIGN = "foreign"  # an order not placed through the API: left alone
    UNAVAILABLE = "unavailable"  # a read that failed: retry with backoff
    UNKNOWN = "unknown"  # no row explains it: AmbiguousOutcome on a write, BrokerUnavailable on a read


@dataclass(frozen=True)
class Reply:
    """One reply as the table sees it: the HTTP status, the decoded JSON (None if not JSON), and the fields
    pulled out of either failure shape."""

    ep: Endpoint
    status: int
    body: Any
    code: str | None
    text: str  # errMsg / message / description and a non-"Ok" stat

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def stat(self) -> str:
        return str(self.body.get("stat", "")).strip().lower() if isinstance(self.body, dict) else ""

    @property
    def login(self) -> bool:
        return self.ep in (LOGIN, VALIDATE)


@dataclass(frozen=True)
class Rule:
    when: Callable[[Reply], bool]
    outcome: Outcome
    evidence: str


def _amend(r: Reply) -> bool:
    return r.ep in (MODIFY, CANCEL)


def _not_ok(r: Reply) -> bool:
    return r.stat == "not_ok"


def _success(r: Reply) -> bool:
    if r.status != 200 or r.body is None:
        return False
    if r.stat == "ok":
        return True
    if r.ep.op not in _NO_STAT_OPS or r.stat:
        return False
    if isinstance(r.body, list):
        return True
    return isinstance(r.body, dict) and "data" in r.body and r.code is None and "error" not in r.body


TABLE: tuple[Rule, ...] = (
    Rule(lambda r: r.status == 429, Outcome.RATE_LIMITED,
         "HTTP 429 (may carry Retry-After): KOTAK_NEO_API.md errors table"),
    Rule(lambda r: r.login and (r.status >= 400 or _not_ok(r) or not isinstance(r.body, dict)
                                or "data" not in r.body), Outcome.LOGIN_REFUSED,
         "login failures: {stCode, errMsg, status: failure} or {error: [{code, message}]} with 4xx: API docs"),
    Rule(lambda r: r.code == ST_CODE_NOT_WHITELISTED, Outcome.REJECTED,
         "100008 'unauthorized' = static IP not whitelisted, not a session error: Kotak-neo-api-v2 #71"),
    Rule(lambda r: not r.login and r.status in (401, 403), Outcome.SESSION,
         "HTTP 401 900901 'Invalid JWT token' / HTTP 403 'Invalid session, please re-login': API docs"),
    Rule(lambda r: not r.login and r.code in SESSION_CODES, Outcome.SESSION,
         "stCode 100022 'invalid session token' inside Not_Ok on place order: kotak-neo-api #280; "
         "900901/900902 from gateway notes; error[0].code 10020 'Authentication Failed' and stCode 100021 "
         "'invalid  access type': kotak-neo-api #207, #296 (re-login once, then a person is told)"),
    Rule(lambda r: not r.login and any(s in r.low for s in _SESSION_TEXT), Outcome.SESSION,
         "stat 'error in neo-login-check-api' on margin: kotak-neo-api #280; 'Invalid session' text: API docs"),
    Rule(lambda r: r.status >= 500, Outcome.UNKNOWN,
         "HTTP 5xx: broker unavailable (a write may still have arrived): KOTAK_NEO_API.md errors table"),
    Rule(lambda r: r.body is None, Outcome.UNKNOWN,
         "a body that is not JSON: KOTAK_NEO_API.md errors table"),
    Rule(lambda r: r.ep is PLACE and (r.code in (ST_CODE_DUPLICATE_TAG, ST_CODE_DUPLICATE_TAG_2)
                                      or "already exists" in r.low),
         Outcome.DUPLICATE_TAG,
         "{stCode 32, errMsg 'error from core', stat 'Put Order Response : Client OrderID already exists'}: "
         "Kotak-neo-api-v2 #6, #30; {stCode 5204, errMsg 'Put Order Response : Client OrderID already exists'}: "
         "kotak-neo-api #150"),
    Rule(lambda r: r.code == ST_CODE_NOT_VIA_API, Outcome.FOREIGN,
         "error[0].code 91400 '...only available for orders placed via our API...' on cancel/modify/history of "
         "an order placed in the app: kotak-neo-api #123, #48"),
    Rule(lambda r: r.ep.write and r.code == ST_CODE_BAD_REQUEST, Outcome.REJECTED,
         "{stCode 1007, errMsg 'body invalid', stat 'bad request'}: nothing was placed: kotak-neo-api #271"),
    Rule(lambda r: r.code == ST_CODE_EMPTY and not r.ep.write, Outcome.EMPTY,
         "{stat Not_Ok, errMsg 'No Data', stCode 5203} is an empty book: kotak-neo-api #103"),
    Rule(lambda r: r.ep.op == "quotes" and r.code == ST_CODE_BAD_INSTRUMENT, Outcome.EMPTY,
         "HTTP 200 {stat Not_Ok, stCode 1009} for an invalid instrument in a quote batch: OpenAlgo data.py "
         "(the client splits the batch to drop that instrument only)"),
    Rule(lambda r: _amend(r) and r.code == ST_CODE_COMPLETED, Outcome.COMPLETED,
         "stCode 1021 (HTTP 400) on modify/cancel of a completed order: SDK test_order.py"),
    Rule(_success, Outcome.SUCCESS, "stat 'Ok', stCode 200 (holdings/quotes: data without stat): SDK samples"),
    Rule(lambda r: r.ep.write and r.status < 500 and _not_ok(r) and bool(r.text), Outcome.REJECTED,
         "Not_Ok with errMsg on an order: the broker refused it: KOTAK_NEO_API.md errors table"),
    Rule(lambda r: not r.ep.write and (_not_ok(r) or r.status >= 400), Outcome.UNAVAILABLE,
         "Not_Ok or 4xx on a read: the read failed; never an empty result: KOTAK_NEO_API.md"),
)


def _fields(body: Any) -> tuple[str | None, str]:
    """(code, text) from either failure shape, or from a gateway body."""
    if not isinstance(body, dict):
        return None, ""
    if isinstance(body.get("error"), list) and body["error"] and isinstance(body["error"][0], dict):
        first = body["error"][0]
        return _str_or_none(first.get("code")), str(first.get("message", ""))
    code = _str_or_none(body.get("stCode", body.get("code")))
    parts = [body.get(k) for k in ("errMsg", "emsg", "description", "message")]
    stat = str(body.get("stat") or "")
    if stat.strip().lower() not in ("ok", "not_ok", ""):
        parts.append(stat)
    return code, " ".join(str(p) for p in parts if p)


def _str_or_none(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def outcome(ep: Endpoint, status: int, body: Any) -> tuple[Outcome, Reply]:
    """The table's verdict on one reply (the first matching row), and the reply as the table read it."""
    code, text = _fields(body)
    reply = Reply(ep, status, body, code, text)
    for rule in TABLE:
        if rule.when(reply):
            return rule.outcome, reply
    return Outcome.UNKNOWN, reply


def classify(ep: Endpoint, status: int, body: Any, retry_after: float | None) -> BrokerError | None:
    """The typed error a reply stands for, or None for a success (an empty book is a success).

    `body` is the decoded JSON, or `None` when the body was not JSON."""
    verdict, r = outcome(ep, status, body)
    where = f"{ep.op}: HTTP {status}"
    msg = r.text or ("reply was not JSON" if body is None else "no message")
    kw: dict[str, Any] = {"code": r.code, "status": status}
    if verdict in (Outcome.SUCCESS, Outcome.EMPTY):
        return None
    if verdict is Outcome.RATE_LIMITED:
        return RateLimited(f"{where}: rate limited", retry_after=retry_after, **kw)
    if verdict is Outcome.LOGIN_REFUSED:
        return LoginFailed(f"{ep.op} refused: {msg}", **kw)
    if verdict is Outcome.SESSION:
        return SessionExpired(f"{where}: session expired or invalid ({msg})", **kw)
    if verdict is Outcome.COMPLETED:
        return OrderCompleted(f"{ep.op}: order is completed ({msg})", **kw)
    if verdict is Outcome.FOREIGN:
        return ForeignOrder(f"{where}: not an order placed through the API ({msg}); left alone", reason=msg, **kw)
    if verdict is Outcome.DUPLICATE_TAG:
        return DuplicateTag(f"{where}: an order with this tag already exists ({msg}); resolve it by tag", **kw)
    if verdict is Outcome.REJECTED:
        if ep.write:
            return OrderRejected(f"{ep.op} rejected: {msg}", reason=msg, **kw)
        return BrokerUnavailable(f"{where}: refused ({msg}, stCode {r.code})", **kw)
    if ep.write:
        return AmbiguousOutcome(f"{where}: unrecognised reply to a {ep.op} ({msg}); reconcile by tag", **kw)
    return BrokerUnavailable(f"{where}: broker unavailable or unrecognised reply ({msg}, stCode {r.code})", **kw)
