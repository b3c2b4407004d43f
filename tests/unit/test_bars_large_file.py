"""A large long-format file (where `fast-csv`'s pyarrow parser takes over from pandas when installed): the bars
read are exactly the ones written, and a bad line is reported as for a small file."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from swingtrader.market.bars import DataFileError, open_bar_source

N_SYMBOLS, N_DAYS = 420, 300  # about 5 MB of CSV


@pytest.fixture(scope="module")
def written() -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(symbols in file order, days, closes [day, symbol] as written, CSV lines without the header)."""
    rng = np.random.default_rng(11)
    symbols = [f"S{i:03d}{'&M' if i % 50 == 0 else ''}" for i in range(N_SYMBOLS)][::-1]  # reverse-sorted
    days = np.busday_offset(np.datetime64("2023-01-02"), np.arange(N_DAYS), roll="forward")
    closes = np.round(rng.uniform(5, 5000, size=(N_DAYS, N_SYMBOLS)), 2)
    lines = [f"{s},{d},{c},{c + 0.05:.2f},{c - 0.05:.2f},{c},{1000 + j}"
             for j, s in enumerate(symbols) for d, c in zip(days, closes[:, j].tolist(), strict=True)]
    return symbols, days, closes, lines


def save(path: Path, lines: list[str]) -> Path:
    text = "symbol,date,open,high,low,close,volume\n" + "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["big.csv", "big.csv.gz"])
def test_a_large_file_reads_exactly_what_was_written(tmp_path: Path, written, name: str) -> None:
    symbols, days, closes, lines = written
    path = save(tmp_path / name, lines)
    assert path.stat().st_size > 4 << 20 or name.endswith(".gz")
    panel = open_bar_source(str(path)).panel()
    assert panel.symbols == tuple(sorted(symbols))
    assert np.array_equal(panel.dates, days.astype("datetime64[D]"))
    order = [symbols.index(s) for s in panel.symbols]
    assert np.array_equal(panel.close, closes[:, order])
    assert np.array_equal(panel.high, np.array([[float(f"{c + 0.05:.2f}") for c in row] for row in closes[:, order]]))
    assert np.array_equal(panel.volume[0], np.array([1000.0 + j for j in order]))


def test_a_large_file_with_duplicate_dates_drops_that_symbol(tmp_path: Path, written) -> None:
    symbols, _, _, lines = written
    source = open_bar_source(str(save(tmp_path / "dup.csv", [*lines[:N_DAYS], lines[N_DAYS - 1], *lines[N_DAYS:]])))
    assert symbols[0] not in source.symbols() and len(source.symbols()) == N_SYMBOLS - 1
    assert source.warnings == [f"{tmp_path / 'dup.csv'}: {symbols[0]}: duplicate date 2024-02-23; symbol dropped"]


@pytest.mark.parametrize(("bad", "message"), [
    ("{s},{d},1,2,0.5,abc,10", r"line 1002: column 'close': not a number: 'abc'"),
    ("{s},{d},1,2,0.5,,10", r"line 1002 \({s}\): close on {d}: empty or NaN"),
    ("NA,{d},1,2,0.5,1,10", r"line 1002: empty symbol"),
    ("{s},,1,2,0.5,1,10", r"line 1002 \({s}\): unparseable date ''"),
    ("{s},{d},1,2,0.5", r"line 1002 \({s}\): close on {d}: empty or NaN"),  # a short row
])
def test_a_bad_line_in_a_large_file_is_reported_as_in_a_small_one(tmp_path: Path, written, bad: str,
                                                                 message: str) -> None:
    _, _, _, lines = written
    s, d = lines[1000].split(",")[:2]
    edited = [*lines[:1000], bad.format(s=s, d=d), *lines[1001:]]
    with pytest.raises(DataFileError, match=message.format(s=s, d=d)):
        open_bar_source(str(save(tmp_path / "bad.csv", edited)))


def test_without_the_fast_csv_extra_the_bars_are_the_same(tmp_path: Path, written) -> None:
    """The same file read in a process where pyarrow and isal cannot be imported (the pandas parser)."""
    _, _, _, lines = written
    path = save(tmp_path / "big.csv", [*lines[:N_DAYS], lines[N_DAYS - 1], *lines[N_DAYS:]])  # > 4 MB
    child = (
        "import sys\n"
        "sys.modules.update(pyarrow=None, isal=None)\n"
        "import numpy as np\n"
        "from swingtrader.market.bars import open_bar_source\n"
        f"s = open_bar_source({str(path)!r})\n"
        "p = s.panel()\n"
        f"np.savez({str(tmp_path / 'plain.npz')!r}, symbols=np.array(p.symbols), dates=p.dates, open=p.open,"
        " high=p.high, low=p.low, close=p.close, volume=p.volume, warnings=np.array(s.warnings))\n"
    )
    subprocess.run([sys.executable, "-c", child], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(
        sys.path)})
    plain = np.load(tmp_path / "plain.npz")
    source = open_bar_source(str(path))
    panel = source.panel()
    assert list(plain["symbols"]) == list(panel.symbols) and list(plain["warnings"]) == source.warnings
    for name in ("dates", "open", "high", "low", "close", "volume"):
        assert np.array_equal(plain[name], getattr(panel, name), equal_nan=True), name
