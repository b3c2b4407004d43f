"""The local order state machine, as a table: each status and the statuses it may move to.

    (new) --risk check fails--> failed
    (new) --> sending --ack--> pending | open --book--> filled | cancelled | rejected
              sending --refused (Not_Ok)--> rejected
              sending --not sent (429, connection refused)--> sending, sent again by the next reconcile
              sending --reply lost / unreadable / session died / duplicate tag--> unknown
    unknown --tag found in a book--> pending | open | filled | ... (by order number)
    unknown --absence PROVEN--> sending again (today; bounded), else failed (not_sent)
    unknown --no proof by the deadline--> lost (a person decides; found later: resolved as above)

An order in doubt (sending, unknown, lost) may end anywhere; an acknowledged one only follows the broker's
book; filled, cancelled, rejected and failed are final. Staying in a status is always allowed (a fill, an
event)."""

from __future__ import annotations

from enum import StrEnum

from swingtrader.broker.base import OrderStatus


class LocalStatus(StrEnum):
    SENDING = "sending"
    PENDING = "pending"
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    FAILED = "failed"
    UNKNOWN = "unknown"
    LOST = "lost"  # its send may have reached the broker, nothing proves either way: a person decides

    @property
    def is_active(self) -> bool:
        return self in (LocalStatus.SENDING, LocalStatus.PENDING, LocalStatus.OPEN, LocalStatus.UNKNOWN,
                        LocalStatus.LOST)

    @property
    def in_doubt(self) -> bool:
        """Sent, or maybe sent, without an order number from the broker."""
        return self in (LocalStatus.SENDING, LocalStatus.UNKNOWN, LocalStatus.LOST)


_S = LocalStatus
_BOOK = frozenset({_S.PENDING, _S.OPEN, _S.FILLED, _S.CANCELLED, _S.REJECTED})

NEW = frozenset({_S.SENDING, _S.FAILED})  # the statuses an intent is first stored in
NEXT: dict[LocalStatus, frozenset[LocalStatus]] = {
    _S.SENDING: _BOOK | {_S.SENDING, _S.UNKNOWN, _S.LOST, _S.FAILED},
    _S.UNKNOWN: _BOOK | {_S.SENDING, _S.UNKNOWN, _S.LOST, _S.FAILED},
    _S.LOST: _BOOK | {_S.SENDING, _S.UNKNOWN, _S.LOST, _S.FAILED},
    _S.PENDING: _BOOK,
    _S.OPEN: _BOOK,
    _S.FILLED: frozenset({_S.FILLED}),
    _S.CANCELLED: frozenset({_S.CANCELLED}),
    _S.REJECTED: frozenset({_S.REJECTED}),
    _S.FAILED: frozenset({_S.FAILED}),
}

FROM_BROKER = {
    OrderStatus.PENDING: _S.PENDING,
    OrderStatus.OPEN: _S.OPEN,
    OrderStatus.FILLED: _S.FILLED,
    OrderStatus.CANCELLED: _S.CANCELLED,
    OrderStatus.REJECTED: _S.REJECTED,
}


class IllegalTransition(ValueError):
    """A status change the table does not allow (a bug: the order is left as it was)."""


def check(current: LocalStatus, new: LocalStatus, tag: str) -> None:
    """Raise `IllegalTransition` unless an order in `current` may move to `new`."""
    if new not in NEXT[current]:
        raise IllegalTransition(f"order {tag}: {current} -> {new} is not allowed")
