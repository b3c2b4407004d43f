"""Daily bars held in memory: the aligned `Panel` of every symbol, the `BarSource` that owns it, and
`DataFileError`, the one error for market data that is missing or malformed.

The lowest floor of market data: loaders (`bars`, `bar_files`) build these, the cache (`bar_cache`) stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

__all__ = ["Bar", "BarSource", "Bars", "DataFileError", "Panel", "select_symbols"]

Bar = tuple[float, float, float, float, float | None]
"""(open, high, low, close, volume) of one session; volume is None when the data has none."""


class DataFileError(Exception):
    """Market data is missing or malformed. The message names the file (and symbol, line, date, column where it
    can); callers report it as bad input and do not trade on the data."""


@dataclass(frozen=True, eq=False)
class Bars:
    """One symbol's full daily history, sorted by date, one entry per session it traded."""

    symbol: str
    dates: np.ndarray  # datetime64[D]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Panel:
    """All symbols aligned on the sorted union of their dates.

    Price arrays are float64 shaped (len(dates), len(symbols)) with NaN where a symbol has no bar;
    `volume` is None when the data has none.
    """

    dates: np.ndarray  # datetime64[D]
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None


class BarSource:
    """Daily bars held in memory. `name` says where they came from; `warnings` lists what loading dropped.

    The source owns its panel: the arrays are made read-only, so that what is computed from them stays valid.
    """

    def __init__(self, panel: Panel, *, name: str, warnings: Sequence[str] = ()) -> None:
        for array in (panel.dates, panel.open, panel.high, panel.low, panel.close, panel.volume):
            if array is not None:
                array.flags.writeable = False
        self.name = name
        self.warnings = list(warnings)
        self._panel = panel
        self._column = {s: i for i, s in enumerate(panel.symbols)}
        self._row = {d: i for i, d in enumerate(panel.dates.tolist())}

    def symbols(self) -> list[str]:
        return list(self._panel.symbols)

    def panel(self) -> Panel:
        return self._panel

    def bars(self, symbol: str) -> Bars:
        """The full sorted history of `symbol`; `KeyError` if the source does not have it."""
        if symbol not in self._column:
            raise KeyError(f"{self.name}: no bars for symbol {symbol!r}")
        col, p = self._column[symbol], self._panel
        rows = np.flatnonzero(~np.isnan(p.close[:, col]))

        def take(a: np.ndarray) -> np.ndarray:
            column: np.ndarray = a[rows, col]
            return column

        volume = None if p.volume is None else take(p.volume)
        return Bars(symbol, p.dates[rows], take(p.open), take(p.high), take(p.low), take(p.close), volume)

    def bar_on(self, symbol: str, day: date) -> Bar | None:
        """The bar of `symbol` on `day`; None if it has none that day (or the source does not know the symbol)."""
        col, row = self._column.get(symbol), self._row.get(day)
        if col is None or row is None:
            return None
        p = self._panel
        close = float(p.close[row, col])
        if close != close:  # NaN: no bar
            return None
        volume = None if p.volume is None else float(p.volume[row, col])
        return float(p.open[row, col]), float(p.high[row, col]), float(p.low[row, col]), close, volume

    def last_close_before(self, symbol: str, day: date) -> float | None:
        """The close of `symbol`'s last bar strictly before `day`; None if it has none (or the source does not
        know the symbol). Reads the panel in place: no per-symbol copy is kept."""
        col = self._column.get(symbol)
        if col is None:
            return None
        closes = self._panel.close[:, col]
        row = self._row.get(day)  # rows before `day`: [0, row)
        if row is None:
            row = int(np.searchsorted(self._panel.dates, np.datetime64(day, "D")))
        while row > 0:
            row -= 1
            close = float(closes[row])
            if close == close:  # not NaN: a bar
                return close
        return None


def select_symbols(source: BarSource, symbols: list[str] | None) -> BarSource:
    """`source` restricted to `symbols` (sorted); all of it for None; `DataFileError` naming any it lacks."""
    if symbols is None:
        return source
    p = source.panel()
    missing = sorted(set(symbols) - set(p.symbols))
    if missing:
        raise DataFileError(f"{source.name}: no bars for symbol {', '.join(missing)}")
    cols = [p.symbols.index(s) for s in sorted(symbols)]
    sub = Panel(p.dates, tuple(sorted(symbols)), p.open[:, cols], p.high[:, cols], p.low[:, cols],
                p.close[:, cols], None if p.volume is None else p.volume[:, cols])
    return BarSource(sub, name=source.name, warnings=source.warnings)
