"""Bar sources: the file formats, the checks that name the bad file, the generator, and the shipped copy."""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from swingtrader.market.bars import BarSource, DataFileError, open_bar_source

HEADER = "date,open,high,low,close,volume\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def days_text(n: int, start: str = "2024-01-01", close: float = 100.0) -> str:
    """n weekday bars from `start`, one CSV line each (no header)."""
    days = np.busday_offset(np.datetime64(start), np.arange(n), roll="forward")
    return "".join(f"{d},{close},{close + 1},{close - 1},{close},1000\n" for d in days)


# --- the reference data --------------------------------------------------------------------------------------------


def test_directory_of_symbol_files_loads_every_symbol_including_m_and_m(nifty_dir: Path) -> None:
    source = open_bar_source(str(nifty_dir))
    assert len(source.symbols()) == 50 and "M&M" in source.symbols()
    assert source.warnings == []
    with (nifty_dir / "M&M.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    bars = source.bars("M&M")
    assert [str(d) for d in bars.dates] == [r["date"] for r in rows]
    assert bars.close.tolist() == [float(r["close"]) for r in rows]
    assert bars.volume is not None and bars.volume.tolist() == [float(r["volume"]) for r in rows]
    last = rows[-1]
    assert source.bar_on("M&M", date.fromisoformat(last["date"])) == tuple(
        float(last[k]) for k in ("open", "high", "low", "close", "volume")
    )


def test_panel_aligns_symbols_on_the_union_of_dates(nifty_dir: Path) -> None:
    panel = open_bar_source(str(nifty_dir)).panel()
    assert panel.close.shape == (len(panel.dates), 50)
    assert (np.diff(panel.dates.astype(np.int64)) > 0).all()
    jiofin = panel.symbols.index("JIOFIN")
    first = np.flatnonzero(~np.isnan(panel.close[:, jiofin]))[0]
    assert str(panel.dates[first]) == "2023-08-21" and np.isnan(panel.volume[:first, jiofin]).all()


def test_bar_lookups_for_days_and_symbols_without_bars(nifty_dir: Path) -> None:
    source = open_bar_source(str(nifty_dir))
    assert source.bar_on("RELIANCE", date(2020, 10, 2)) is None  # Gandhi Jayanti: no session
    assert source.bar_on("JIOFIN", date(2021, 1, 4)) is None  # before its listing
    assert source.bar_on("NOSUCH", date(2021, 1, 4)) is None
    with pytest.raises(KeyError, match="NOSUCH"):
        source.bars("NOSUCH")


def test_last_close_before_skips_days_without_a_bar_and_reads_past_the_end(tmp_path: Path) -> None:
    write(tmp_path / "AAA.csv", HEADER + "2024-01-01,10,11,9,10.5,1\n2024-01-02,10,11,9,10.25,1\n"
          "2024-01-04,10,11,9,10.75,1\n2024-01-05,10,11,9,10.0,1\n")
    write(tmp_path / "BBB.csv", HEADER + days_text(6, "2024-01-01"))  # 1-5 and 8 January: AAA has no 3rd
    source = open_bar_source(str(tmp_path))
    assert source.last_close_before("AAA", date(2024, 1, 4)) == 10.25  # the 3rd is NaN for AAA: its 2nd
    assert source.last_close_before("AAA", date(2024, 1, 3)) == 10.25
    assert source.last_close_before("AAA", date(2024, 1, 1)) is None
    assert source.last_close_before("AAA", date(2024, 1, 31)) == 10.0
    assert source.last_close_before("NOSUCH", date(2024, 1, 4)) is None
    bars = source.bars("AAA")
    for day in (date(2024, 1, d) for d in range(1, 11)):  # the same as a search over the symbol's own bars
        before = [c for d, c in zip(bars.dates.tolist(), bars.close.tolist(), strict=True) if d < day]
        assert source.last_close_before("AAA", day) == (before[-1] if before else None)


def test_bundled_copy_equals_the_reference_directory(nifty_dir: Path, test_data: Path) -> None:
    """The per-symbol files written from the bundled sample are byte for byte `../shared/data/nifty50-daily`
    (SHA-256 sums recorded in tests/data), and both loaders read the same bars from them."""
    sums = dict(line.split()[::-1] for line in (test_data / "nifty50-daily.sha256").read_text().splitlines())
    assert len(sums) == 50
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in nifty_dir.glob("*.csv")} == sums
    bundled, reference = open_bar_source("bundled").panel(), open_bar_source(str(nifty_dir)).panel()
    assert bundled.symbols == reference.symbols
    np.testing.assert_array_equal(bundled.dates, reference.dates)
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(bundled, field), getattr(reference, field))


def test_universe_file_loads_and_flags_suspended_and_duplicated_symbols(shared_data: Path) -> None:
    source = open_bar_source(str(shared_data / "nse-eq-universe-2019-2024.csv.gz"))
    panel = source.panel()
    assert panel.volume is None
    assert len(panel.symbols) == 1928 - 5  # five symbols with duplicate dates are dropped
    assert any("DIL: duplicate date 2019-07-24; symbol dropped" in w for w in source.warnings)
    assert any("LIQUID1: gap of 1234 days before 2023-02-01" in w for w in source.warnings)
    liquid = source.bars("LIQUID1")
    assert str(liquid.dates[0]) == "2023-02-01"  # only the bars after the last gap
    assert (np.diff(liquid.dates.astype(np.int64)) <= 15).all()


# --- long format ---------------------------------------------------------------------------------------------------


def test_long_format_groups_symbols_in_any_row_order_and_gz_works(tmp_path: Path) -> None:
    text = (
        "symbol,date,open,high,low,close,volume\n"
        "B,2024-01-01,10,11,9,10.5,100\nA,2024-01-01,20,21,19,20.5,200\n"
        "B,2024-01-02,10,11,9,10.25,300\nA,2024-01-03,20,21,19,20.75,400\n"
    )
    for path in (tmp_path / "u.csv", tmp_path / "u.csv.gz"):
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        panel = open_bar_source(str(path)).panel()
        assert panel.symbols == ("A", "B")
        assert [str(d) for d in panel.dates] == ["2024-01-01", "2024-01-02", "2024-01-03"]
        np.testing.assert_array_equal(panel.close, [[20.5, 10.5], [np.nan, 10.25], [20.75, np.nan]])
        np.testing.assert_array_equal(panel.volume, [[200, 100], [np.nan, 300], [400, np.nan]])


def test_symbols_restricts_what_is_loaded(tmp_path: Path, nifty_dir: Path) -> None:
    assert open_bar_source(str(nifty_dir), symbols=["TCS", "M&M"]).symbols() == ["M&M", "TCS"]
    assert open_bar_source("bundled", symbols=["INFY"]).symbols() == ["INFY"]
    assert open_bar_source("synthetic", symbols=["SYN03"]).symbols() == ["SYN03"]
    with pytest.raises(DataFileError, match=r"NOPE\.csv: no such file"):
        open_bar_source(str(nifty_dir), symbols=["NOPE"])
    with pytest.raises(DataFileError, match=r"nifty50\.csv\.gz: no bars for symbol NOPE"):
        open_bar_source("bundled", symbols=["NOPE"])


# --- errors name the file (and symbol, date, column) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,,5\n", r"line 3: close on 2024-01-02: empty or NaN"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,NaN,5\n", r"line 3: close on 2024-01-02: empty or NaN"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,0,11,9,10,5\n", r"line 3: open on 2024-01-02: 0.0, not positive"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,10,-5\n", r"line 3: volume on 2024-01-02: -5.0, negative"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,abc,5\n", r"line 3: column 'close': not a number: 'abc'"),
        ("2024-01-01,10,11,9,10,5\n2024-01-01,10,11,9,10,5\n", r"duplicate date 2024-01-01"),
        ("2024-01-02,10,11,9,10,5\n2024-01-01,10,11,9,10,5\n", r"not in ascending order: 2024-01-01 after"),
        ("2024-01-01,10,11,9,10,5\n2024-01-17,10,11,9,10,5\n", r"gap of 16 days between 2024-01-01 and 2024-01-17"),
        ("2024-01-01,10,11,9,10,5\n01/02/2024,10,11,9,10,5\n", r"line 3: unparseable date '01/02/2024'"),
        ("", r"no bars"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,9,11,10,5\n", r"line 3: bar on 2024-01-02: high 9 below low 11"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,12,5\n",
         r"line 3: bar on 2024-01-02: high 11 below open 10 or close 12"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,8,11,9,10,5\n",
         r"line 3: bar on 2024-01-02: low 9 above open 8 or close 10"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,10,1e40\n",
         r"line 3: volume on 2024-01-02: 1e\+40, above 1e\+15"),
        ("2024-01-01,10,11,9,10,5\n2024-01-02,10,11,9,10,inf\n", r"line 3: volume on 2024-01-02: infinite"),
    ],
)
def test_bad_symbol_file_is_an_error_naming_it(tmp_path: Path, body: str, message: str) -> None:
    write(tmp_path / "GOOD.csv", HEADER + days_text(5))
    bad = write(tmp_path / "M&M.csv", HEADER + body)
    with pytest.raises(DataFileError, match=message) as exc:
        open_bar_source(str(tmp_path))
    assert str(exc.value).startswith(str(bad))


def test_gap_of_exactly_fifteen_days_is_allowed(tmp_path: Path) -> None:
    write(tmp_path / "X.csv", HEADER + "2024-01-01,10,11,9,10,5\n2024-01-16,10,11,9,10,5\n")
    assert len(open_bar_source(str(tmp_path)).bars("X").dates) == 2


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    bad = write(tmp_path / "X.csv", "date,open,high,low,volume\n2024-01-01,10,11,9,5\n")
    with pytest.raises(DataFileError, match=r"X\.csv: missing column close"):
        open_bar_source(str(tmp_path))
    bad.unlink()
    with pytest.raises(DataFileError, match=r"no <SYMBOL>\.csv files"):
        open_bar_source(str(tmp_path))
    with pytest.raises(DataFileError, match=r"nothere\.csv\.gz: no such file"):
        open_bar_source(str(tmp_path / "nothere.csv.gz"))
    with pytest.raises(DataFileError, match=r"nothere: no such file or directory"):
        open_bar_source(str(tmp_path / "nothere"))
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(DataFileError, match=r"empty\.csv: cannot read"):
        open_bar_source(str(empty))


def test_long_format_errors_name_file_symbol_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", "symbol,date,open,high,low,close\nA,2024-01-01,1,1,1,1\nB,2024-01-01,1,1,1,\n")
    with pytest.raises(DataFileError, match=r"u\.csv: line 3 \(B\): close on 2024-01-01: empty or NaN"):
        open_bar_source(str(path))
    write(path, "symbol,date,open,high,low,close\nA,2024-01-02,1,1,1,1\nA,2024-01-01,1,1,1,1\n")
    with pytest.raises(DataFileError, match=r"u\.csv: A dates not in ascending order"):
        open_bar_source(str(path))
    write(path, "date,open,high,low,close\n2024-01-01,1,1,1,1\n")
    with pytest.raises(DataFileError, match=r"u\.csv: missing column symbol"):
        open_bar_source(str(path))


def test_long_format_names_the_symbol_of_an_inconsistent_bar(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", "symbol,date,open,high,low,close\nA,2024-01-01,1,1,1,1\nB,2024-01-01,1,2,1,3\n")
    with pytest.raises(DataFileError, match=r"u\.csv: line 3 \(B\): bar on 2024-01-01: high 2 below open 1 or close 3"):
        open_bar_source(str(path))


def test_long_format_drops_duplicated_symbols_and_cuts_history_at_gaps(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", "symbol,date,open,high,low,close\n"
                 "DUP,2024-01-01,1,1,1,1\nDUP,2024-01-01,2,2,2,2\n"
                 "GAP,2024-01-01,1,1,1,1\nGAP,2024-02-01,1,1,1,1\nGAP,2024-02-02,1,1,1,1\n"
                 "OK,2024-01-01,1,1,1,1\n")
    source = open_bar_source(str(path))
    assert source.symbols() == ["GAP", "OK"]
    assert [str(d) for d in source.bars("GAP").dates] == ["2024-02-01", "2024-02-02"]
    assert source.warnings == [
        f"{path}: DUP: duplicate date 2024-01-01; symbol dropped",
        f"{path}: GAP: gap of 31 days before 2024-02-01; 1 earlier bars dropped",
    ]


def test_yfinance_without_the_extra_says_what_to_install() -> None:
    if importlib.util.find_spec("yfinance") is not None:
        pytest.skip("yfinance is installed")
    with pytest.raises(DataFileError, match=r"pip install swingtrader\[yfinance\]"):
        open_bar_source("yfinance")


# --- synthetic -----------------------------------------------------------------------------------------------------


def test_synthetic_is_deterministic_for_a_seed_and_realistic() -> None:
    a, b, c = (open_bar_source("synthetic", seed=s).panel() for s in (1, 1, 2))
    for field in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.close, c.close)
    assert len(a.symbols) == 50 and str(a.dates[0]) == "2019-01-01" and str(a.dates[-1]) == "2026-12-31"
    assert np.is_busday(a.dates).all()
    assert (a.low <= np.minimum(a.open, a.close)).all() and (a.high >= np.maximum(a.open, a.close)).all()
    assert (a.low > 0).all() and (a.volume >= 0).all()
    assert np.allclose(a.close * 20, np.round(a.close * 20))  # on the 0.05 grid


def test_bar_source_can_be_built_from_a_panel_directly() -> None:
    panel = open_bar_source("synthetic").panel()
    source = BarSource(panel, name="mine")
    assert source.panel() is panel and source.bars("SYN01").dates[0] == panel.dates[0]
