"""The one tree of broker errors. Each class says what the service does when it sees one."""

from __future__ import annotations


class BrokerError(Exception):
    """Base of every broker failure. Never caught as "no data": a failed read is a failure."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class SessionExpired(BrokerError):
    """The session token is no longer valid. The session manager re-logs in once (single flight) and
    retries a read once; a write is reconciled by its client tag before anything else is sent."""


class LoginFailed(BrokerError):
    """Login itself was refused (wrong MPIN, stale TOTP, locked account, IP not whitelisted).
    Needs a human: the service stops logging in after a few tries and alerts loudly."""


class RateLimited(BrokerError):
    """The broker asked us to slow down (HTTP 429). Reads wait `retry_after` seconds and retry."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class BrokerUnavailable(BrokerError):
    """5xx, timeout, reset connection or a body that is not JSON. Reads retry with backoff;
    writes are never blindly re-sent (see `AmbiguousOutcome`)."""


class OrderRejected(BrokerError):
    """The broker or exchange refused the order. Recorded with its reason and notified; never retried as is."""

    def __init__(self, message: str, *, reason: str = "", **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.reason = reason or message


class ForeignOrder(OrderRejected):
    """The order was not placed through the API (Kotak 91400 on a cancel, modify or history): the service leaves
    it alone, never retries, and reads nothing from it."""


class AmbiguousOutcome(BrokerError):
    """A write was sent but its result is unknown (lost reply, timeout after sending).
    The order manager resolves it by looking the order's client tag up in the order book."""


class DuplicateTag(AmbiguousOutcome):
    """The broker refused a new order because an order with its client tag already exists today (Kotak stCode
    32, "Client OrderID already exists"). Never a rejection: an earlier send arrived. Resolve it by the tag and
    never send this intent again."""


class OrderCompleted(BrokerError):
    """A modify or cancel found the order already complete (Kotak stCode 1021): record the fill."""


class MalformedResponse(BrokerError):
    """The broker answered with something we cannot read (unknown status, missing field).
    Logged and surfaced; never read as an empty book or empty holdings."""
