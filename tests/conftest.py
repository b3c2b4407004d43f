"""Shared fixtures: the reference data every test can use, and the larger data only `../shared/data` has.

Real prices come from the Nifty 50 sample the package ships (`swingtrader/data/nifty50.csv.gz`), written out as
one `<SYMBOL>.csv` per symbol, byte for byte the files of `../shared/data/nifty50-daily` (their SHA-256 sums are
in `tests/data/nifty50-daily.sha256`). Small reference files live in `tests/data/`. Only the 1,928-symbol universe
needs `$SWINGTRADER_SHARED_DATA` or `../shared/data`; the tests that use it skip without it.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"


def _shared_data_dir() -> Path | None:
    env = os.environ.get("SWINGTRADER_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "nse-eq-universe-2019-2024.csv.gz").exists():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory (`../shared/data`), for the universe checks only; they skip without it."""
    found = _shared_data_dir()
    if found is None:
        pytest.skip("the 1,928-symbol universe is only in ../shared/data (set SWINGTRADER_SHARED_DATA)")
    return found


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small reference files kept with the tests (`tests/data/`)."""
    return TEST_DATA


@pytest.fixture(scope="session")
def nifty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of `<SYMBOL>.csv` daily bars of the 50 Nifty stocks, 2020-10..2025-09, from the bundled sample."""
    out = tmp_path_factory.mktemp("nifty50-daily")
    rows: dict[str, list[str]] = defaultdict(list)
    bundled = resources.files("swingtrader") / "data" / "nifty50.csv.gz"
    with bundled.open("rb") as raw, gzip.open(raw, "rt", newline="") as f:
        header = f.readline()
        assert header == "symbol,date,open,high,low,close,volume\n", header
        for line in f:
            symbol, rest = line.split(",", 1)
            rows[symbol].append(rest)
    for symbol, lines in rows.items():
        with (out / f"{symbol}.csv").open("w", newline="") as f:
            f.write("date,open,high,low,close,volume\n")
            f.writelines(lines)
    return out


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored (handlers, redaction filters, level) after a test that sets logging up."""
    from swingtrader.logs import RedactionFilter

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        for f in [f for f in handler.filters if isinstance(f, RedactionFilter)]:
            handler.removeFilter(f)
        if handler not in saved:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
