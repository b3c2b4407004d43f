"""Reading and checking bar files: a directory of `<SYMBOL>.csv` files or one long-format `.csv`/`.csv.gz`,
parsed (by pyarrow when installed and the file is large, else pandas), checked value by value and row by row,
and aligned into a `Panel`. Every problem raises `DataFileError` naming the file, line, symbol, date and column.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from swingtrader.market.panel import BarSource, DataFileError, Panel

if TYPE_CHECKING:  # pandas is imported only to read files, so the strategy's import stays light
    import pandas as pd

__all__ = ["MAX_GAP_DAYS", "PRICE_COLUMNS", "load_dir", "load_long"]

PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_VOLUME = 1e15
"""More shares than any NSE stock has traded in a day by orders of magnitude: a larger volume is bad data."""
MAX_GAP_DAYS = 15
"""A hole of more than this many calendar days between consecutive bars of a symbol is a gap."""


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


def load_long(path: Path, symbols: list[str] | None) -> BarSource:
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


def load_dir(directory: Path, symbols: list[str] | None) -> BarSource:
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
