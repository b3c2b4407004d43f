"""The default strategy: buy the dip in an uptrend, sell at the 9-day mean (STRATEGY.md). Pure decisions.

`DipBuyStrategy.analyse` is the 16:00 analysis. It computes the indicators of a whole `BarSource` once (they are
causal, so the full-history value at a row equals the value computed on history cut at that row) and then
answers each as-of day from that table, which makes a call per simulated day cheap. The module-level helpers
(limit prices, targets, sizing, averaging-down levels) are the order-side rules, on exact `Decimal`s.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from weakref import WeakKeyDictionary

import numpy as np

from swingtrader.market.bars import BarSource, Panel
from swingtrader.market.ticks import round_to_tick
from swingtrader.strategy.backtest_score import RuleSeries, backtest_rule, score_candidate
from swingtrader.strategy.base import AnalysisReport, Averaging, Candidate, ExitReason, PositionView, Snapshot
from swingtrader.strategy.exits import protective_exit
from swingtrader.strategy.indicators import avg_volume, ema, ema_next, rsi_next, rsi_with_state, volume_ratio
from swingtrader.strategy.params import StrategyParams

__all__ = [
    "REJECTION_REASONS",
    "AnalysisReport",
    "Candidate",
    "DipBuyStrategy",
    "Snapshot",
    "add_level_for",
    "buy_limit_price",
    "order_quantity",
    "provisional_ema",
    "provisional_rsi",
    "sell_target",
]

REJECTION_REASONS = (
    "no_bar_on_as_of",
    "insufficient_history",
    "already_held",
    "pending_buy",
    "rsi_not_oversold",
    "below_ema200",
    "low_avg_volume",
    "low_volume_ratio",
)
"""Why a symbol is not a candidate, in the order checked: a symbol is reported under the first that applies."""

NO_VOLUME_WARNING = "the data has no volume: liquidity checks (avg_volume_50, volume_ratio) skipped"


@dataclass(frozen=True)
class _Table:
    """The full-history indicator panel of one source (arrays shaped like the panel's)."""

    panel: Panel
    symbols: np.ndarray  # object array, for fancy indexing
    column: dict[str, int]
    row: dict[date, int]
    history: np.ndarray  # bars up to and including each row
    rsi: np.ndarray
    avg_gain: np.ndarray
    avg_loss: np.ndarray
    ema_exit: np.ndarray
    ema_trend: np.ndarray
    avg_volume: np.ndarray | None
    volume_ratio: np.ndarray | None

    @classmethod
    def build(cls, panel: Panel, params: StrategyParams) -> _Table:
        rsi, gain, loss = rsi_with_state(panel.close, params.rsi_period)
        avg = None if panel.volume is None else avg_volume(panel.volume, params.volume_window)
        return cls(
            panel=panel,
            symbols=np.array(panel.symbols, dtype=object),
            column={s: i for i, s in enumerate(panel.symbols)},
            row={d: i for i, d in enumerate(panel.dates.tolist())},
            history=np.cumsum(~np.isnan(panel.close), axis=0),
            rsi=rsi, avg_gain=gain, avg_loss=loss,
            ema_exit=ema(panel.close, params.ema_exit),
            ema_trend=ema(panel.close, params.ema_trend),
            avg_volume=avg,
            volume_ratio=None if avg is None or panel.volume is None else volume_ratio(panel.volume, avg),
        )


class DipBuyStrategy:
    """The default `Strategy` (strategy/base.py): the dip-buy entry rule and candidate ranking, averaging down
    at RSI levels, a target sell at the provisional exit EMA, the RSI exit and the protective exits (all off by
    default). Caches one indicator table per `BarSource` (recomputed when the source's panel object changes)."""

    def __init__(self, params: StrategyParams | None = None) -> None:
        self.params = params or StrategyParams()
        self._tables: WeakKeyDictionary[BarSource, _Table] = WeakKeyDictionary()

    def analyse(
        self, source: BarSource, as_of: date, *, held: Collection[str] = frozenset(),
        pending: Collection[str] = frozenset(),
    ) -> AnalysisReport:
        """Candidates on `as_of` from bars up to and including it; `held`/`pending` are the strategy's own
        positions and open buys. Every symbol of the source is either a candidate or under one reason."""
        t = self._table(source)
        warnings = list(source.warnings) + ([NO_VOLUME_WARNING] if t.avg_volume is None else [])
        row = t.row.get(as_of)
        if row is None:
            warnings.append(f"no bars on {as_of.isoformat()} in {source.name}")
            reason = np.zeros(len(t.symbols), dtype=np.int64)
        else:
            reason = self._reasons(t, row, held, pending)
        rejected = {
            name: t.symbols[idx].tolist()
            for k, name in enumerate(REJECTION_REASONS) if (idx := np.flatnonzero(reason == k)).size
        }
        candidates = [] if row is None else [
            self._candidate(t, row, col, as_of) for col in np.flatnonzero(reason == -1).tolist()
        ]
        candidates.sort(key=lambda c: (-c.score, c.symbol))
        return AnalysisReport(as_of, len(t.symbols), candidates, rejected, warnings)

    def indicator_snapshot(self, source: BarSource, symbol: str, as_of: date) -> Snapshot:
        """Indicators of `symbol` at its last bar on or before `as_of`.

        `KeyError` if the source does not have the symbol, `ValueError` if it has no bar by `as_of`.
        """
        t = self._table(source)
        if symbol not in t.column:
            raise KeyError(f"{source.name}: no bars for symbol {symbol!r}")
        col = t.column[symbol]
        end = int(np.searchsorted(t.panel.dates, np.datetime64(as_of, "D"), side="right"))
        rows = np.flatnonzero(~np.isnan(t.panel.close[:end, col]))
        if rows.size == 0:
            raise ValueError(f"{source.name}: no bar for {symbol} on or before {as_of.isoformat()}")
        r = int(rows[-1])
        return Snapshot(
            symbol=symbol, date=t.panel.dates[r].item(), close=float(t.panel.close[r, col]),
            rsi10=float(t.rsi[r, col]), ema_exit=float(t.ema_exit[r, col]), ema200=float(t.ema_trend[r, col]),
            avg_gain=float(t.avg_gain[r, col]), avg_loss=float(t.avg_loss[r, col]),
            avg_volume_50=None if t.avg_volume is None else float(t.avg_volume[r, col]),
        )

    def averaging(self, snapshot: Snapshot, position: PositionView) -> Averaging:
        """Levels reset once rsi10 closes above `rsi_entry`; otherwise the next level the close triggers."""
        if snapshot.rsi10 > self.params.rsi_entry and position.add_levels:
            return Averaging(reset=True)
        return Averaging(level=add_level_for(snapshot.rsi10, position.add_levels, self.params))

    def target(self, snapshot: Snapshot, ltp: Decimal) -> Decimal | None:
        """`ema_now`: the exit EMA if `ltp` were today's close."""
        return Decimal(repr(provisional_ema(float(ltp), snapshot.ema_exit, self.params.ema_exit)))

    def exit_reason(
        self, source: BarSource, snapshot: Snapshot, position: PositionView, ltp: Decimal, held_sessions: int
    ) -> ExitReason | None:
        """`rsi_exit` when the provisional RSI is above `rsi_exit`, else the protective exits (strategy/exits.py)."""
        if provisional_rsi(float(ltp), snapshot, self.params.rsi_period) > self.params.rsi_exit:
            return ExitReason.RSI_EXIT
        return protective_exit(self.params, source, position, ltp, snapshot.date, held_sessions)

    def quantity(self, price: Decimal, avg_volume_50: float | None) -> int:
        return order_quantity(price, avg_volume_50, self.params)

    def _table(self, source: BarSource) -> _Table:
        panel = source.panel()
        table = self._tables.get(source)
        if table is None or table.panel is not panel:
            table = _Table.build(panel, self.params)
            self._tables[source] = table
        return table

    def _reasons(self, t: _Table, row: int, held: Collection[str], pending: Collection[str]) -> np.ndarray:
        """Per symbol: the index in REJECTION_REASONS of the first check it fails, -1 for a candidate."""
        p, close = self.params, t.panel.close[row]
        checks = [
            np.isnan(close),
            t.history[row] < p.min_history,
            self._member(t, held),
            self._member(t, pending),
            ~(t.rsi[row] < p.rsi_entry),
            ~(close > t.ema_trend[row]),
        ]
        if t.avg_volume is not None and t.volume_ratio is not None:
            checks += [~(t.avg_volume[row] >= p.min_avg_volume), ~(t.volume_ratio[row] >= p.min_volume_ratio)]
        return np.select(checks, list(range(len(checks))), default=-1)

    @staticmethod
    def _member(t: _Table, symbols: Collection[str]) -> np.ndarray:
        mask = np.zeros(len(t.symbols), dtype=bool)
        mask[[t.column[s] for s in symbols if s in t.column]] = True
        return mask

    def _candidate(self, t: _Table, row: int, col: int, as_of: date) -> Candidate:
        start = int(np.searchsorted(t.panel.dates, np.datetime64(_years_before(as_of, self.params.backtest_years))))
        window = slice(start, row + 1)
        bars = np.flatnonzero(~np.isnan(t.panel.close[window, col])) + start

        def series(a: np.ndarray) -> np.ndarray:
            taken: np.ndarray = a[bars, col]
            return taken

        def optional(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else series(a)

        stats = backtest_rule(
            RuleSeries(
                open=series(t.panel.open), high=series(t.panel.high), low=series(t.panel.low),
                close=series(t.panel.close), rsi=series(t.rsi), ema_exit=series(t.ema_exit),
                ema_trend=series(t.ema_trend), avg_volume=optional(t.avg_volume), volume_ratio=optional(t.volume_ratio),
            ),
            self.params,
        )
        rsi10 = float(t.rsi[row, col])
        score, detail = score_candidate(rsi10, stats, self.params)
        return Candidate(
            symbol=str(t.symbols[col]), close=float(t.panel.close[row, col]), rsi10=rsi10,
            ema_exit=float(t.ema_exit[row, col]), ema200=float(t.ema_trend[row, col]),
            avg_volume_50=None if t.avg_volume is None else float(t.avg_volume[row, col]),
            volume_ratio=None if t.volume_ratio is None else float(t.volume_ratio[row, col]),
            score=float(score), score_detail=detail,
        )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- order-side rules ---------------------------------------------------------------------------------------------


def _decimal(x: Decimal | float | int) -> Decimal:
    """Exact for Decimal and int; a float through its shortest repr (1060.55 stays 1060.55)."""
    return x if isinstance(x, Decimal) else Decimal(repr(x)) if isinstance(x, float) else Decimal(x)


def buy_limit_price(
    close: Decimal | float, on: date, premium: Decimal = StrategyParams.buy_limit_premium,
    reference_price: Decimal | None = None,
) -> Decimal:
    """The buy limit: `close * (1 + premium)` rounded down to the tick of trading day `on`."""
    return round_to_tick(_decimal(close) * (1 + premium), on, "down", reference_price)


def sell_target(ema_now: Decimal | float, on: date, reference_price: Decimal | None = None) -> Decimal:
    """The sell limit: `ema_now` (the provisional exit EMA) rounded up to the tick of trading day `on`."""
    return round_to_tick(_decimal(ema_now), on, "up", reference_price)


def order_quantity(price: Decimal, avg_volume_50: float | None, params: StrategyParams) -> int:
    """floor(capital_per_trade / price), capped at the price band's fraction of avg_volume_50 (no cap when the
    data has no volume, None). 0 when the price is above capital_per_trade."""
    if price <= 0:
        raise ValueError(f"price must be positive, not {price}")
    if avg_volume_50 is not None and math.isnan(avg_volume_50):
        raise ValueError("avg_volume_50 is NaN: not enough history to size an order")
    quantity = int(params.capital_per_trade // price)  # exact; both positive, so the floor
    if avg_volume_50 is not None:
        fraction = next(f for minimum, f in params.liquidity_caps if price >= minimum)
        quantity = min(quantity, int((fraction * Decimal(avg_volume_50)).to_integral_value(ROUND_FLOOR)))
    return quantity


def provisional_ema(ltp: float, prev: float, n: int) -> float:
    """`ema_now`: the `n`-period EMA if the last traded price were today's close, from the previous session's
    EMA `prev` (`0.2*ltp + 0.8*prev` for n=9)."""
    return float(ema_next(ltp, prev, n))


def provisional_rsi(ltp: float, snapshot: Snapshot, period: int = 10) -> float:
    """The RSI if the last traded price were today's close, from the snapshot of the previous session."""
    return float(rsi_next(ltp, snapshot.close, snapshot.avg_gain, snapshot.avg_loss, period))


def add_level_for(rsi10: float, levels_used: Collection[float], params: StrategyParams) -> float | None:
    """The averaging-down level a close at `rsi10` triggers, or None. Levels are taken in order (20, then 10),
    each once per cycle and at most one per day; the caller clears `levels_used` when rsi10 rises above
    `rsi_entry`."""
    for level in params.rsi_add_levels:
        if level not in levels_used:
            return level if rsi10 < level else None
    return None
