"""Daily bars: loading, checking and aligning OHLCV history from files, a generator, or Yahoo Finance.

`open_bar_source(spec)` loads everything into memory and returns a `BarSource`. Every problem with a file
raises `DataFileError`, whose message names the file (and the symbol, line, date and column where they apply).
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas is imported only to read files, so the strategy's import stays light
    import pandas as pd

__all__ = ["MAX_GAP_DAYS", "Bar", "BarSource", "Bars", "DataFileError", "Panel", "open_bar_source"]

PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_VOLUME = 1e15
"""More shares than any NSE stock has traded in a day by orders of magnitude: a larger volume is bad data."""
MAX_GAP_DAYS = 15
"""A hole of more than this many calendar days between consecutive bars of a symbol is a gap."""

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
        return _select(BarSource(_synthetic_panel(seed), name="synthetic"), symbols)
    if spec == "yfinance":
        return _load_yfinance(symbols, cache_dir)
    if spec == "bundled":
        with resources.as_file(resources.files("swingtrader") / "data" / "nifty50.csv.gz") as bundled:
            return open_bar_source(str(bundled), cache_dir=cache_dir, symbols=symbols, parse_in_child=parse_in_child)
    path = Path(spec)
    if cache_dir is not None and path.exists():
        from swingtrader.market import bar_cache

        source = bar_cache.cached(path, cache_dir, lambda: open_bar_source(spec), in_child=parse_in_child)
        return _select(source, symbols)
    if path.is_dir():
        return _load_dir(path, symbols)
    if path.name.endswith((".csv", ".csv.gz")):
        return _load_long(path, symbols)
    if not path.exists():
        raise DataFileError(f"{path}: no such file or directory")
    raise DataFileError(f"{path}: not a directory of <SYMBOL>.csv files, a .csv/.csv.gz file or 'synthetic'")


# --- reading and checking files ---------------------------------------------------------------------------------


_DTYPES: Mapping[Hashable, str] = {"symbol": "category", "date": "category",
                                   **dict.fromkeys((*PRICE_COLUMNS, "volume"), "float64")}


_ARROW_MIN_BYTES = 4 << 20  # below this pyarrow's import costs more than its parser saves


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """The known columns of a CSV file, numbers as float64 and `symbol`/`date` as categories (sorted).

    A large file is parsed by pyarrow's multi-threaded reader when it is installed (the `fast-csv` extra), else
    and for anything that reader would treat differently, by pandas: the frame is the same either way."""
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    df = _read_csv_arrow(path) if path.stat().st_size >= _ARROW_MIN_BYTES else None
    if df is None:
        df = _read_csv_pandas(path, required)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataFileError(f"{path}: missing column {', '.join(missing)} (expected {','.join(required)})")
    return df


def _read_csv_arrow(path: Path) -> pd.DataFrame | None:
    """`_read_csv_pandas`'s frame parsed by pyarrow's multi-threaded reader (gzip inflated by ISA-L when `isal`
    is installed); None without pyarrow, or when the file has anything (a bad number, a short row, an odd
    header, an empty or NA-like symbol or date, a corrupt stream) that pandas should report or read its own way."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:
        return None
    from pandas._libs.parsers import STR_NA_VALUES

    pool = pa.system_memory_pool()  # freed buffers go back to malloc, where the frame's arrays come from
    try:
        with _open_binary(path) as f:
            header = f.readline().decode().rstrip("\r\n").split(",")
        if len(set(header)) != len(header) or any(not c or '"' in c or c != c.strip() for c in header):
            return None
        words = pa.dictionary(pa.int32(), pa.string())
        types = {c: words if _DTYPES[c] == "category" else pa.float64() for c in header if c in _DTYPES}
        with _open_binary(path) as f:
            table = pacsv.read_csv(f, memory_pool=pool, convert_options=pacsv.ConvertOptions(
                column_types=types, include_columns=list(types), null_values=sorted(STR_NA_VALUES),
                strings_can_be_null=False))
    except Exception:  # whatever it is, the pandas parser reads the file again and reports it
        return None
    df: pd.DataFrame = table.to_pandas(self_destruct=True, split_blocks=True, memory_pool=pool)
    del table
    _trim_malloc()
    for c, kind in types.items():
        if kind != words:
            continue
        categories = [str(v) for v in df[c].cat.categories]
        if STR_NA_VALUES.intersection(categories):
            return None
        df[c] = df[c].cat.reorder_categories(sorted(categories))
    return df


def _trim_malloc() -> None:
    """Give the memory that the reader's threads freed back to the system (glibc keeps it in per-thread arenas,
    out of the main thread's reach: some 90 MB for the universe file); nothing elsewhere."""
    import ctypes

    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def _open_binary(path: Path) -> io.BufferedIOBase:
    """The file's bytes, a `.gz` one inflated (by `isal` when installed: about three times zlib's speed)."""
    if not path.name.endswith(".gz"):
        return path.open("rb")
    try:
        from isal import igzip
    except ImportError:
        return gzip.open(path, "rb")
    stream: io.BufferedIOBase = igzip.open(path, "rb")
    return stream


def _read_csv_pandas(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    try:
        df = pd.read_csv(path, usecols=lambda c: c in _DTYPES, dtype=_DTYPES, engine="c")
    except ValueError as exc:
        raise DataFileError(_locate_bad_number(path, required) or f"{path}: cannot read CSV: {exc}") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(f"{path}: cannot read: {exc}") from exc
    return df


def _locate_bad_number(path: Path, columns: tuple[str, ...]) -> str | None:
    """Find the first value of a number column that is not a number (the slow path, after a failed read)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, OSError, EOFError, zlib.error):
        return None
    for col in [c for c in (*columns, "volume") if c in df.columns and c not in ("symbol", "date")]:
        parsed = pd.to_numeric(df[col].replace("", "nan"), errors="coerce")
        bad = parsed.isna() & (df[col] != "")
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            return f"{path}: line {row + 2}: column {col!r}: not a number: {df[col].iloc[row]!r}"
    return None


def _where(path: Path, df: pd.DataFrame, names: Sequence[str] | None, codes: np.ndarray | None) -> Callable[[int], str]:
    """A function naming the file, line (and symbol) of a row, for error messages."""

    def where(row: int) -> str:
        symbol = f" ({names[codes[row]]})" if names is not None and codes is not None else ""
        return f"{path}: line {int(df.index[row]) + 2}{symbol}"

    return where


def _parse_days(dates: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    """`YYYY-MM-DD` strings (a categorical column) as datetime64[D]; an unparseable one is an error."""
    import pandas as pd

    cat = dates.array
    cat_days = pd.to_datetime(cat.categories, format="%Y-%m-%d", errors="coerce").to_numpy().astype("datetime64[D]")
    codes = cat.codes
    bad = (codes < 0) | np.isnat(cat_days)[codes]
    if bad.any():
        row = int(np.argmax(bad))
        raw = "" if codes[row] < 0 else cat.categories[codes[row]]
        raise DataFileError(f"{where(row)}: unparseable date {raw!r} (expected YYYY-MM-DD)")
    days: np.ndarray = cat_days[codes]
    return days


def _check_values(df: pd.DataFrame, where: Callable[[int], str]) -> dict[str, np.ndarray]:
    """The number columns as arrays; NaN/empty, infinite, non-positive prices, negative volume or volume above
    `MAX_VOLUME`, and a bar whose high or low does not bound its open and close are errors."""
    out = {}
    for col in [c for c in (*PRICE_COLUMNS, "volume") if c in df.columns]:
        x = df[col].to_numpy()
        bad = ~np.isfinite(x) | ((x <= 0) if col != "volume" else ((x < 0) | (x > MAX_VOLUME)))
        if bad.any():
            row = int(np.argmax(bad))
            value = float(x[row])
            what = ("empty or NaN" if np.isnan(value) else "infinite" if np.isinf(value)
                    else f"{value:g}, above {MAX_VOLUME:g}" if value > MAX_VOLUME
                    else f"{value}, {'negative' if col == 'volume' else 'not positive'}")
            raise DataFileError(f"{where(row)}: {col} on {df['date'].iloc[row]}: {what}")
        out[col] = x
    o, h, low, c = (out[k] for k in PRICE_COLUMNS)
    for bad, what in ((h < low, "high {h:g} below low {l:g}"),
                      (h < np.maximum(o, c), "high {h:g} below open {o:g} or close {c:g}"),
                      (low > np.minimum(o, c), "low {l:g} above open {o:g} or close {c:g}")):
        if bad.any():
            row = int(np.argmax(bad))
            text = what.format(o=o[row], h=h[row], l=low[row], c=c[row])
            raise DataFileError(f"{where(row)}: bar on {df['date'].iloc[row]}: {text}")
    return out


def _check_sequence(
    codes: np.ndarray, days: np.ndarray, names: Sequence[str], label: str, *, lenient: bool
) -> tuple[np.ndarray, list[str]]:
    """Check each symbol's dates (rows grouped by symbol) ascend without duplicates or gaps.

    Unsorted dates are always an error. Duplicates and gaps are errors unless `lenient`: then a symbol with
    duplicates is dropped and one with gaps keeps only its bars after the last gap. Returns (rows to keep,
    warnings).
    """
    same = codes[1:] == codes[:-1]
    step = np.diff(days.astype(np.int64))
    after = {kind: np.flatnonzero(same & cond) + 1 for kind, cond in
             (("back", step < 0), ("dup", step == 0), ("gap", step > MAX_GAP_DAYS))}

    def at(i: int) -> str:
        return f"{names[codes[i]]} " if lenient else ""

    if after["back"].size:
        i = int(after["back"][0])
        raise DataFileError(f"{label}: {at(i)}dates not in ascending order: {days[i]} after {days[i - 1]}")
    if not lenient and after["dup"].size:
        raise DataFileError(f"{label}: duplicate date {days[after['dup'][0]]}")
    if not lenient and after["gap"].size:
        i = int(after["gap"][0])
        raise DataFileError(f"{label}: gap of {step[i - 1]} days between {days[i - 1]} and {days[i]} "
                            f"(more than {MAX_GAP_DAYS})")
    warnings, keep = [], np.ones(len(codes), dtype=bool)
    dropped: set[int] = set()
    for i in after["dup"].tolist():
        if codes[i] not in dropped:
            dropped.add(int(codes[i]))
            warnings.append(f"{label}: {names[codes[i]]}: duplicate date {days[i]}; symbol dropped")
    for code in dropped:
        keep[np.searchsorted(codes, code):np.searchsorted(codes, code, side="right")] = False
    last_gap = {int(codes[i]): i for i in after["gap"].tolist() if codes[i] not in dropped}
    for code, i in last_gap.items():
        first = int(np.searchsorted(codes, code))
        keep[first:i] = False
        warnings.append(f"{label}: {names[code]}: gap of {step[i - 1]} days before {days[i]}; "
                        f"{i - first} earlier bars dropped")
    return keep, warnings


def _build_panel(names: Sequence[str], codes: np.ndarray, days: np.ndarray, cols: dict[str, np.ndarray]) -> Panel:
    """Scatter long rows (symbol code, day, values) into aligned 2-D arrays; symbols without rows are left out."""
    present = np.bincount(codes, minlength=len(names)) > 0
    d = days.astype(np.int64)
    lo = int(d.min())
    used = np.bincount(d - lo) > 0
    rows = (np.cumsum(used) - 1)[d - lo]
    flat = rows * int(present.sum()) + (np.cumsum(present) - 1)[codes]
    shape = (int(used.sum()), int(present.sum()))

    def scatter(values: np.ndarray) -> np.ndarray:
        out = np.full(shape[0] * shape[1], np.nan)
        out[flat] = values
        return out.reshape(shape)

    return Panel(
        dates=(np.flatnonzero(used) + lo).astype("datetime64[D]"),
        symbols=tuple(n for n, p in zip(names, present, strict=True) if p),
        open=scatter(cols["open"]), high=scatter(cols["high"]), low=scatter(cols["low"]),
        close=scatter(cols["close"]), volume=scatter(cols["volume"]) if "volume" in cols else None,
    )


def _load_long(path: Path, symbols: list[str] | None) -> BarSource:
    df = _read_csv(path, ("symbol", "date", *PRICE_COLUMNS))
    if symbols is not None:
        missing = sorted(set(symbols) - set(df["symbol"].cat.categories))
        if missing:
            raise DataFileError(f"{path}: no bars for symbol {', '.join(missing)}")
        df = df[df["symbol"].isin(symbols)]
    if df.empty:
        raise DataFileError(f"{path}: no bars")
    codes = df["symbol"].array.codes.astype(np.int64)
    if (codes < 0).any():
        raise DataFileError(f"{path}: line {int(df.index[int(np.argmax(codes < 0))]) + 2}: empty symbol")
    names = [str(s) for s in df["symbol"].cat.categories]
    where = _where(path, df, names, codes)
    days = _parse_days(df["date"], where)
    cols = _check_values(df, where)
    if (codes[1:] < codes[:-1]).any():
        order = np.argsort(codes, kind="stable")
        codes, days, cols = codes[order], days[order], {k: v[order] for k, v in cols.items()}
    keep, warnings = _check_sequence(codes, days, names, str(path), lenient=True)
    if not keep.any():
        raise DataFileError(f"{path}: no usable bars ({'; '.join(warnings)})")
    if not keep.all():
        codes, days, cols = codes[keep], days[keep], {k: v[keep] for k, v in cols.items()}
    return BarSource(_build_panel(names, codes, days, cols), name=str(path), warnings=warnings)


def _load_dir(directory: Path, symbols: list[str] | None) -> BarSource:
    files = sorted(directory.glob("*.csv")) if symbols is None else [directory / f"{s}.csv" for s in sorted(symbols)]
    if not files:
        raise DataFileError(f"{directory}: no <SYMBOL>.csv files")
    names, chunks = [f.name[: -len(".csv")] for f in files], []
    for path in files:
        df = _read_csv(path, ("date", *PRICE_COLUMNS))
        if df.empty:
            raise DataFileError(f"{path}: no bars")
        where = _where(path, df, None, None)
        days = _parse_days(df["date"], where)
        cols = _check_values(df, where)
        _check_sequence(np.zeros(len(days), dtype=np.int64), days, names, str(path), lenient=False)
        chunks.append((days, cols))
    warnings = []
    without_volume = [str(f) for f, (_, cols) in zip(files, chunks, strict=True) if "volume" not in cols]
    if without_volume and len(without_volume) < len(files):
        warnings.append(f"no volume column in {', '.join(without_volume)}: volume ignored for every symbol")
    keys = PRICE_COLUMNS if without_volume else (*PRICE_COLUMNS, "volume")
    codes = np.repeat(np.arange(len(files)), [len(days) for days, _ in chunks])
    days = np.concatenate([days for days, _ in chunks])
    cols = {k: np.concatenate([c[k] for _, c in chunks]) for k in keys}
    return BarSource(_build_panel(names, codes, days, cols), name=str(directory), warnings=warnings)


def _select(source: BarSource, symbols: list[str] | None) -> BarSource:
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


# --- generated and downloaded bars -------------------------------------------------------------------------------


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
    source = _load_dir(cache, have)
    return BarSource(source.panel(), name=f"yfinance ({cache})", warnings=warnings)
