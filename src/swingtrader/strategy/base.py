"""The `Strategy` protocol: what the analysis, the sell tasks and the position monitor ask a strategy.

A strategy is pure decision code over a `BarSource`: it never places orders or reads the clock. The tasks turn
its answers into orders (`tasks/buying.py`, `tasks/selling.py`). `DipBuyStrategy` (STRATEGY.md) is the default;
`AtrBreakout` is a trend-following alternative; a user's class is named by `SWINGTRADER_STRATEGY`
(`strategy/loader.py`) and built as `Class(params)`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from swingtrader.market.panel import BarSource
    from swingtrader.strategy.params import StrategyParams

__all__ = ["AnalysisReport", "Averaging", "Candidate", "ExitReason", "PositionView", "Snapshot", "Strategy"]


class ExitReason(StrEnum):
    """Why a position is sold, as recorded on its sell order (`purpose`) and trade (`exit_reason`)."""

    TARGET = "target"
    TARGET_BELOW_COST = "target_below_cost"
    """A target sell that filled below the average entry price (set on the trade, never a sell's purpose)."""
    RSI_EXIT = "rsi_exit"
    STOP_LOSS = "stop_loss"
    TRAILING_STOP = "trailing_stop"
    MAX_HOLDING = "max_holding"


class PositionView(Protocol):
    """What a strategy sees of an open position (`portfolio.Position` is one)."""

    @property
    def symbol(self) -> str: ...

    @property
    def quantity(self) -> int: ...

    @property
    def average_price(self) -> Decimal: ...

    @property
    def entry_date(self) -> date: ...

    @property
    def add_levels(self) -> tuple[float, ...]: ...


@dataclass(frozen=True)
class Candidate:
    """A symbol meeting the entry rule on the as-of day, with the indicator values and the score behind it.
    `ema_exit` is the EMA of `params.ema_exit` periods (JSON key `ema9`, as the `analyze` output names it)."""

    symbol: str
    close: float
    rsi10: float
    ema_exit: float
    ema200: float
    avg_volume_50: float | None
    volume_ratio: float | None
    score: float
    score_detail: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "close": self.close, "rsi10": self.rsi10, "ema9": self.ema_exit,
            "ema200": self.ema200, "avg_volume_50": self.avg_volume_50, "volume_ratio": self.volume_ratio,
            "score": self.score, "score_detail": self.score_detail,
        }


@dataclass(frozen=True)
class AnalysisReport:
    """The analysis of one as-of day: candidates best first, every other symbol under its rejection reason."""

    as_of: date
    symbols_analysed: int
    candidates: list[Candidate]
    rejected: dict[str, list[str]]
    warnings: list[str]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "symbols_analysed": self.symbols_analysed,
            "candidates": [c.to_json_dict() for c in self.candidates],
            "rejected": self.rejected,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Snapshot:
    """Indicator values of a symbol at the close of its last bar on or before the day asked for (`date`).

    NaN where the history is too short for an indicator; `avg_volume_50` is None when the data has no volume.
    `avg_gain`/`avg_loss` are the Wilder averages behind `rsi10`, for provisional intraday values; `ema_exit`
    is the EMA of `params.ema_exit` periods, the base of the sell target.
    """

    symbol: str
    date: date
    close: float
    rsi10: float
    ema_exit: float
    ema200: float
    avg_gain: float
    avg_loss: float
    avg_volume_50: float | None



@dataclass(frozen=True)
class Averaging:
    """An averaging-down decision at a close: buy one more lot at `level` (None: no add); `reset` clears the
    levels already used this cycle."""

    level: float | None = None
    reset: bool = False


@runtime_checkable
class Strategy(Protocol):
    """The decisions the service asks of a strategy. `params` carries the sizing, order and risk settings
    the tasks apply to every strategy (capital per trade, max positions, buy limit premium, loss floor)."""

    @property
    def params(self) -> StrategyParams: ...

    def analyse(
        self, source: BarSource, as_of: date, *, held: Collection[str] = ..., pending: Collection[str] = ...
    ) -> AnalysisReport:
        """Candidates on `as_of` (best first, each with its reasons in `score_detail`) from bars up to and
        including it; every other symbol under the reason it was rejected."""
        ...

    def indicator_snapshot(self, source: BarSource, symbol: str, as_of: date) -> Snapshot:
        """Indicator values of `symbol` at its last bar on or before `as_of` (`KeyError` for an unknown symbol,
        `ValueError` without a bar by then)."""
        ...

    def averaging(self, snapshot: Snapshot, position: PositionView) -> Averaging:
        """Whether the close of `snapshot` adds a lot to `position` (or resets its levels)."""
        ...

    def target(self, snapshot: Snapshot, ltp: Decimal) -> Decimal | None:
        """The price (before tick rounding) the standing sell of a position is placed at and lowered to when
        the last price is `ltp`, from the previous session's `snapshot`; None: the strategy keeps no target
        sell (it exits on `exit_reason` only). Must be non-decreasing in `ltp` (the simulation's fast-forward
        relies on it)."""
        ...

    def exit_reason(
        self, source: BarSource, snapshot: Snapshot, position: PositionView, ltp: Decimal, held_sessions: int
    ) -> ExitReason | None:
        """Whether to sell `position` now at a marketable limit, and why (None: hold). `snapshot` is the
        previous session's; `held_sessions` counts sessions since the entry."""
        ...

    def quantity(self, price: Decimal, avg_volume_50: float | None) -> int:
        """Shares to buy at `price` (0: no trade)."""
        ...
