"""The strategy signals tasks record, as typed payloads: each has a `kind` (the `signals.kind` column) and a
`detail()` (its JSON). The dashboard shows them from the `signals` table."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol


class SignalKind(StrEnum):
    AT_TARGET = "at_target"
    RSI_EXIT = "rsi_exit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    MAX_HOLDING = "max_holding"
    TARGET_BELOW_LOSS_LIMIT = "target_below_loss_limit"
    HOLDING_MISSING = "holding_missing"
    HOLDINGS_MISMATCH = "holdings_mismatch"


class Signal(Protocol):
    @property
    def kind(self) -> SignalKind: ...

    def detail(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class PriceSignal:
    """`at_target` or an exit signal, with the provisional values it was decided on: the last price, the
    target now (the strategy's; the default's provisional exit EMA; None when it keeps no target) and the
    provisional RSI."""

    kind: SignalKind
    ltp: Decimal
    target_now: Decimal | None
    rsi_now: float

    def detail(self) -> dict[str, Any]:
        target = None if self.target_now is None else str(self.target_now)
        return {"ltp": str(self.ltp), "target_now": target, "rsi_now": round(self.rsi_now, 4)}


@dataclass(frozen=True)
class TargetBelowLossLimit:
    """No target sell today: the target is below the loss limit under the average entry price."""

    target: Decimal
    average_price: Decimal
    kind: SignalKind = SignalKind.TARGET_BELOW_LOSS_LIMIT

    def detail(self) -> dict[str, Any]:
        return {"target": str(self.target), "avg": str(self.average_price)}


@dataclass(frozen=True)
class HoldingMissing:
    """The account holds fewer shares than the strategy's position and no sell of ours explains it."""

    expected: int
    held: int
    kind: SignalKind = SignalKind.HOLDING_MISSING

    def detail(self) -> dict[str, Any]:
        return {"expected": self.expected, "held": self.held}


@dataclass(frozen=True)
class HoldingsMismatch:
    """The account's holdings of a symbol differ from the strategy's position (recovery.py): `action` is
    `adopted` (extra shares taken into the position) or `flagged` (left for a person)."""

    ours: int
    held: int
    action: str
    kind: SignalKind = SignalKind.HOLDINGS_MISMATCH

    def detail(self) -> dict[str, Any]:
        return {"ours": self.ours, "held": self.held, "difference": self.held - self.ours, "action": self.action}
