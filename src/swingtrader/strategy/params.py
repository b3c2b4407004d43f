"""The default strategy's settings: every number in STRATEGY.md, as defaults (not constants in code)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["StrategyParams", "StrategySettings", "params_from_settings"]


@dataclass(frozen=True)
class StrategyParams:
    """Settings of the dip-buy strategy. Money and fractions at the order boundary are `Decimal`."""

    rsi_period: int = 10
    rsi_entry: float = 30
    """A candidate needs rsi10 below this; a position's add levels reset when rsi10 rises above it."""
    rsi_add_levels: tuple[float, ...] = (20, 10)
    """Averaging-down levels, deepest last: one more lot when rsi10 closes below each, once per cycle."""
    rsi_exit: float = 50
    ema_exit: int = 9
    ema_trend: int = 200
    min_history: int = 250
    """Sessions of history a symbol needs (up to and including the as-of day) to be analysed."""
    min_avg_volume: float = 150_000
    min_volume_ratio: float = 1.0
    volume_window: int = 50
    capital_per_trade: Decimal = Decimal(100_000)
    max_positions: int = 6
    buy_limit_premium: Decimal = Decimal("0.01")
    """Buy limit = close * (1 + premium), rounded down to the tick."""
    max_target_loss_pct: Decimal = Decimal(5)
    """No sell order on a day the target is more than this percent below the average entry price."""
    stop_loss_pct: Decimal | None = None
    """Protective exits (strategy/exits.py), any strategy's, all off by default: sell when the last price is
    this percent under the average entry price..."""
    trailing_stop_pct: Decimal | None = None
    """...or this percent under the highest close since the entry..."""
    max_holding_days: int | None = None
    """...or after this many sessions held."""
    liquidity_caps: tuple[tuple[Decimal, Decimal], ...] = (
        (Decimal(5000), Decimal("0.02")),
        (Decimal(1000), Decimal("0.05")),
        (Decimal(500), Decimal("0.10")),
        (Decimal(0), Decimal("0.20")),
    )
    """(minimum price, fraction): an order's quantity is at most fraction * avg_volume_50 for the first band
    (highest minimum first) whose minimum the price reaches."""
    backtest_years: int = 2
    score_prior_trades: int = 5
    """The score trusts a backtest of n trades with weight n / (n + score_prior_trades)."""
    use_market_amo: bool = False

    def __post_init__(self) -> None:
        levels = self.rsi_add_levels
        if any(b >= a for a, b in zip((self.rsi_entry, *levels), levels, strict=False)):
            raise ValueError(f"rsi_add_levels must fall below rsi_entry and each other: {levels}")
        if [m for m, _ in self.liquidity_caps] != sorted((m for m, _ in self.liquidity_caps), reverse=True):
            raise ValueError("liquidity_caps must be ordered by minimum price, highest first")



class StrategySettings(Protocol):
    """The settings a strategy reads (`config.Settings` is one): the strategy owns this view, so it does not
    import the settings module (which checks the strategy's name when it loads)."""

    @property
    def strategy(self) -> str: ...
    @property
    def rsi_period(self) -> int: ...
    @property
    def rsi_entry(self) -> float: ...
    @property
    def rsi_add_levels(self) -> Sequence[float]: ...
    @property
    def rsi_exit(self) -> float: ...
    @property
    def ema_exit(self) -> int: ...
    @property
    def ema_trend(self) -> int: ...
    @property
    def min_history(self) -> int: ...
    @property
    def min_avg_volume(self) -> float: ...
    @property
    def min_volume_ratio(self) -> float: ...
    @property
    def capital_per_trade(self) -> Decimal: ...
    @property
    def max_positions(self) -> int: ...
    @property
    def buy_limit_premium(self) -> Decimal: ...
    @property
    def max_target_loss_pct(self) -> Decimal: ...
    @property
    def stop_loss_pct(self) -> Decimal | None: ...
    @property
    def trailing_stop_pct(self) -> Decimal | None: ...
    @property
    def max_holding_days(self) -> int | None: ...
    @property
    def use_market_amo(self) -> bool: ...


def params_from_settings(settings: StrategySettings) -> StrategyParams:
    """The strategy's parameters from the settings (every number in STRATEGY.md is a setting)."""
    return StrategyParams(
        rsi_period=settings.rsi_period,
        rsi_entry=settings.rsi_entry,
        rsi_add_levels=tuple(settings.rsi_add_levels),
        rsi_exit=settings.rsi_exit,
        ema_exit=settings.ema_exit,
        ema_trend=settings.ema_trend,
        min_history=settings.min_history,
        min_avg_volume=settings.min_avg_volume,
        min_volume_ratio=settings.min_volume_ratio,
        capital_per_trade=settings.capital_per_trade,
        max_positions=settings.max_positions,
        buy_limit_premium=settings.buy_limit_premium,
        max_target_loss_pct=settings.max_target_loss_pct,
        stop_loss_pct=settings.stop_loss_pct,
        trailing_stop_pct=settings.trailing_stop_pct,
        max_holding_days=settings.max_holding_days,
        use_market_amo=settings.use_market_amo,
    )
