"""Proof of absence: whether the broker's books show positively that an order in doubt never reached it.

Silence is never proof. A read proves a tag absent only when it is complete and readable:
- the order book read succeeded with rows (an empty list or Kotak's `5203 "No Data"` proves nothing: a live
  account that had traded has received exactly that, kotak-neo-api #103) and shows every order the store knows
  was acknowledged today, by order number (a partial book proves nothing);
- the trade book shows every order the store knows filled today (it may be empty when nothing filled);
- no unreadable row could be the order's (`OrderBook.skipped_tags`);
- no row that could be the order under a rewritten tag: Kotak rewrites `GuiOrdId` after a manual cancel to
  `<tag>-<epoch>` (matched as the order itself) and after a modify to `<epoch>-<n>-****-ADMINAPI` (Kotak-neo-api-v2
  #33); a row with such a tag, or none, on the same symbol and side whose order number the store does not know
  blocks the proof.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from swingtrader.broker.base import Side

ADMIN_SUFFIX = "-ADMINAPI"


class _Row(Protocol):
    @property
    def order_id(self) -> str: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...


R = TypeVar("R", bound=_Row)


@dataclass(frozen=True)
class Known:
    """What the store knows of today: order numbers acknowledged today, and those of them with a fill."""

    acknowledged: frozenset[str]
    filled: frozenset[str]


def tag_matches(row_tag: str | None, tag: str) -> bool:
    """The row carries `tag`, as sent or as rewritten by a manual cancel (`<tag>-<epoch>`)."""
    return row_tag is not None and (row_tag == tag or row_tag.startswith(f"{tag}-"))


def find(rows: Iterable[R], tag: str) -> R | None:
    """The first row carrying `tag` (see `tag_matches`)."""
    return next((r for r in rows if tag_matches(r.tag, tag)), None)


def could_be_ours(row: _Row, symbol: str, side: Side, known: frozenset[str]) -> bool:
    """An order we do not know, on our symbol and side, whose tag was rewritten by a modify or is blank."""
    if row.order_id in known or row.symbol != symbol or row.side is not side:
        return False
    return row.tag is None or row.tag.upper().endswith(ADMIN_SUFFIX)


@dataclass(frozen=True)
class Doubt:
    """The order in doubt (its tag, symbol and side) and what the store knows: `today` and `known`, every order
    number of recent days (a row whose number is not among them may be ours)."""

    tag: str
    symbol: str
    side: Side
    today: Known
    known: frozenset[str]


def book_gap(rows: Sequence[_Row], doubt: Doubt, required: frozenset[str]) -> str | None:
    """Why `rows` (one book read) cannot prove `doubt.tag` absent, or None when it can. `required`: the order
    numbers it must show."""
    skipped = getattr(rows, "skipped", ())
    skipped_tags = getattr(rows, "skipped_tags", ())
    if skipped and (len(skipped_tags) != len(skipped)
                    or any(t is None or tag_matches(t, doubt.tag) for t in skipped_tags)):
        return "an unreadable row could be the order's"
    missing = required - {r.order_id for r in rows}
    if missing:
        return f"partial read: {len(missing)} order(s) the store knows are not shown"
    if any(could_be_ours(r, doubt.symbol, doubt.side, doubt.known) for r in rows):
        return f"a row on {doubt.symbol} {doubt.side.value} with a rewritten or blank tag could be the order"
    return None


def order_book_gap(rows: Sequence[_Row], doubt: Doubt, *, complete: bool = False) -> str | None:
    """`book_gap` for the order book, which must also have rows unless the broker's books are `complete` by
    construction (the paper exchange, read from our own store)."""
    if not rows and not complete:
        return "an empty order book (5203 'No Data' or no rows) proves nothing"
    return book_gap(rows, doubt, doubt.today.acknowledged)


def trade_book_gap(rows: Sequence[_Row], doubt: Doubt) -> str | None:
    """`book_gap` for the trade book, which must show every order the store knows filled today."""
    return book_gap(rows, doubt, doubt.today.filled)
