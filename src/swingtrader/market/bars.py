"""Daily bars: where they come from. `open_bar_source(spec)` picks the loader (files, a generator, Yahoo Finance,
the bundled sample; through the cache when given one) and returns a `BarSource` held in memory. Every problem
with a file raises `DataFileError`, whose message names the file (and the symbol, line, date and column where
they apply). The types live in `panel`, the file parsing and checks in `bar_files`.

Run as `python -m swingtrader.market.bars SPEC OUT`, it parses SPEC and writes the cache entry OUT: the child
process `bar_cache.cached` and the refresh use so that the caller never imports pandas.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import numpy as np

from swingtrader.market import bar_cache
from swingtrader.market.bar_files import MAX_GAP_DAYS, load_dir, load_long
from swingtrader.market.panel import Bar, Bars, BarSource, DataFileError, Panel, select_symbols

__all__ = ["MAX_GAP_DAYS", "Bar", "BarSource", "Bars", "DataFileError", "Panel", "open_bar_source"]


def open_bar_source(
    spec: str, *, cache_dir: Path | None = None, seed: int = 0, symbols: list[str] | None = None,
    parse_in_child: bool = False,
) -> BarSource:
    """Load daily bars from `spec`:

    - a directory of `<SYMBOL>.csv` files (`date,open,high,low,close[,volume]`; the file name is the symbol),
      where a duplicate, unsorted or more than `MAX_GAP_DAYS` apart date is an error;
    - a long-format `.csv` / `.csv.gz` (`symbol,date,open,high,low,close[,volume]`), where a symbol with
      duplicate dates is dropped and one with a gap keeps only its bars after the last gap, each with a warning;
    - `"synthetic"`: a seeded random walk of 50 symbols over the business days of 2019-2026 (same seed, same bars);
    - `"bundled"`: the Nifty 50 daily bars shipped with the package;
    - `"yfinance"`: Yahoo Finance (`SYMBOL.NS`), cached as `<SYMBOL>.csv` in `cache_dir` (needs the extra).

    `symbols` restricts the load to those symbols; asking for one the data does not have is an error.
    With `cache_dir`, parsed files are kept there as numpy arrays (`swingtrader.market.bar_cache`) and later
    loads skip pandas; `parse_in_child` parses a cache miss in a child process, so this one never imports pandas.
    """
    if spec == "synthetic":
        return select_symbols(BarSource(_synthetic_panel(seed), name="synthetic"), symbols)
    if spec == "yfinance":
        return _load_yfinance(symbols, cache_dir)
    if spec == "bundled":
        with resources.as_file(resources.files("swingtrader") / "data" / "nifty50.csv.gz") as bundled:
            return open_bar_source(str(bundled), cache_dir=cache_dir, symbols=symbols, parse_in_child=parse_in_child)
    path = Path(spec)
    if cache_dir is not None and path.exists():
        source = bar_cache.cached(path, cache_dir, lambda: open_bar_source(spec), in_child=parse_in_child)
        return select_symbols(source, symbols)
    if path.is_dir():
        return load_dir(path, symbols)
    if path.name.endswith((".csv", ".csv.gz")):
        return load_long(path, symbols)
    if not path.exists():
        raise DataFileError(f"{path}: no such file or directory")
    raise DataFileError(f"{path}: not a directory of <SYMBOL>.csv files, a .csv/.csv.gz file or 'synthetic'")


# --- generated and downloaded bars ---


def _synthetic_panel(seed: int, n_symbols: int = 50) -> Panel:
    """A random walk with drift, plus dip-and-rebound episodes (about one in 60 days) so the strategy trades.

    Prices are on a 0.05 grid with low <= open, close <= high; volume rises on down days.
    """
    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64("2019-01-01"), np.datetime64("2027-01-01"))
    days = days[np.is_busday(days)]
    n, m = len(days), n_symbols
    drift = rng.uniform(0.05, 0.30, m) / 252
    sigma = rng.uniform(0.18, 0.45, m) / np.sqrt(252)
    returns = drift + sigma * rng.standard_normal((n, m))
    episodes = rng.uniform(0.01, 0.03, (n, m)) * (rng.random((n, m)) < 1 / 60)
    for k, weight in enumerate((-1, -1, -1, -1, 0.6, 0.6, 0.6, 0.6, 0.6)):
        returns[k:] += weight * episodes[: n - k]
    close = 10 ** rng.uniform(1.5, 3.8, m) * np.exp(np.cumsum(returns, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(0.3 * sigma * rng.standard_normal((n, m)))
    high = np.maximum(open_, close) * np.exp(0.5 * sigma * np.abs(rng.standard_normal((n, m))))
    low = np.minimum(open_, close) * np.exp(-0.5 * sigma * np.abs(rng.standard_normal((n, m))))

    def tick(x: np.ndarray) -> np.ndarray:
        return np.maximum(np.round(x * 20), 1) / 20

    open_, close = tick(open_), tick(close)
    high, low = np.maximum(tick(high), np.maximum(open_, close)), np.minimum(tick(low), np.minimum(open_, close))
    base = 10 ** rng.uniform(4.8, 6.7, m)
    volume = np.round(base * np.exp(0.3 * rng.standard_normal((n, m))) * (1 + 30 * np.maximum(-returns, 0)))
    symbols = tuple(f"SYN{i + 1:02d}" for i in range(m))
    return Panel(days, symbols, open_, high, low, close, volume)


def _load_yfinance(symbols: list[str] | None, cache_dir: Path | None) -> BarSource:
    """Download `SYMBOL.NS` daily bars (5 years) into `cache_dir` as `<SYMBOL>.csv`, then load that directory.

    A symbol Yahoo returns nothing for keeps its cached file if there is one, else it is left out with a warning.
    """
    try:
        import yfinance
    except ImportError as exc:
        raise DataFileError("the yfinance data source needs an extra: pip install swingtrader[yfinance]") from exc
    if symbols is None:
        symbols = open_bar_source("bundled").symbols()
    cache = cache_dir or Path.home() / ".cache" / "swingtrader" / "yfinance"
    cache.mkdir(parents=True, exist_ok=True)
    warnings, have = [], []
    for symbol in symbols:
        frame = yfinance.Ticker(f"{symbol}.NS").history(period="5y", auto_adjust=True)
        target = cache / f"{symbol}.csv"
        if not frame.empty:
            out = frame[["Open", "High", "Low", "Close", "Volume"]].rename(columns=str.lower).dropna()
            out.index = out.index.strftime("%Y-%m-%d")
            out.rename_axis("date").to_csv(target)
        if target.exists():
            have.append(symbol)
        else:
            warnings.append(f"yfinance: no data for {symbol}.NS; left out")
    if not have:
        raise DataFileError(f"yfinance: no data for any of {', '.join(symbols)}")
    source = load_dir(cache, have)
    return BarSource(source.panel(), name=f"yfinance ({cache})", warnings=warnings)


def _main(argv: list[str]) -> int:
    """Parse SPEC into the cache entry OUT; exit 2 with the `DataFileError` message on stderr."""
    spec, out = argv
    try:
        bar_cache.save(open_bar_source(spec), Path(out))
    except DataFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
