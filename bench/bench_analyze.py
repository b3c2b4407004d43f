"""Benchmark: the 16:00 analysis over the 1,928-symbol universe, load included, against a naive baseline.

    .venv/bin/python bench/bench_analyze.py [UNIVERSE.csv.gz] [--as-of D]

Ours: `open_bar_source` + `DipBuyStrategy.analyse` (vectorised across symbols). The baseline, timed in the same
run on the same file: `pandas.read_csv`, then per symbol (groupby) the same data rules and the indicators with
pandas `ewm`/`rolling`. Both must find the same candidate set. Targets: ours <= 3 s, >= 10x the baseline.
Also prints the cost of one more `analyse` call once the indicator table is cached (the simulator's case).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import pandas as pd

from swingtrader.market.bars import MAX_GAP_DAYS, open_bar_source
from swingtrader.strategy.dip_buy import DipBuyStrategy
from swingtrader.strategy.params import StrategyParams

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "nse-eq-universe-2019-2024.csv.gz"
T = TypeVar("T")
DEFAULT_AS_OF = "2024-06-04"  # the election-result sell-off: about a hundred candidates


def ours(path: Path, as_of: date, params: StrategyParams) -> tuple[set[str], float, float]:
    """(candidates, load seconds, analyse seconds): the service's code path."""
    source, load = _timed(open_bar_source, str(path))
    report, compute = _timed(DipBuyStrategy(params).analyse, source, as_of)
    return {c.symbol for c in report.candidates}, load, compute


def baseline(path: Path, as_of: date, params: StrategyParams) -> tuple[set[str], float, float]:
    """The straightforward way, one symbol at a time, pandas all the way: (candidates, load s, compute s)."""
    df, load = _timed(pd.read_csv, path, parse_dates=["date"])
    return *_timed(_baseline_candidates, df, pd.Timestamp(as_of), params)[::-1][::-1], load, 0.0


def _ema(close: pd.Series, n: int) -> pd.Series:
    seeded = close.iloc[n - 1:].copy()
    seeded.iloc[0] = close.iloc[:n].mean()
    return seeded.ewm(alpha=2 / (n + 1), adjust=False).mean().reindex(close.index)


def _rsi(close: pd.Series, period: int) -> pd.Series:
    delta = close.diff()

    def wilder(x: pd.Series) -> pd.Series:
        seeded = x.iloc[period:].copy()
        seeded.iloc[0] = x.iloc[1:period + 1].mean()
        return seeded.ewm(alpha=1 / period, adjust=False).mean()

    gain, loss = wilder(delta.clip(lower=0)), wilder((-delta).clip(lower=0))
    return (100 * gain / (gain + loss)).where(loss != 0, 100.0).reindex(close.index)


def _timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--as-of", default=DEFAULT_AS_OF)
    args = parser.parse_args(argv)
    path, as_of, params = Path(args.data), date.fromisoformat(args.as_of), StrategyParams()
    if not path.exists():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2

    mine, t_ours = _timed(ours, path, as_of, params)
    base, t_base = _timed(baseline, path, as_of, params)
    source = open_bar_source(str(path))
    strategy = DipBuyStrategy(params)
    strategy.analyse(source, as_of)
    _, t_again = _timed(strategy.analyse, source, as_of)

    print(f"analyze {path.name} as of {as_of}: {len(mine)} candidates")
    print(f"  ours (load + analyse):         {t_ours:7.3f} s")
    print(f"  baseline (pandas per symbol):  {t_base:7.3f} s")
    print(f"  speed-up:                      {t_base / t_ours:7.1f}x")
    print(f"  analyse again (table cached):  {t_again * 1000:7.2f} ms")
    same = mine == base
    print(f"  same candidates as baseline:   {'yes' if same else 'NO'}")
    if not same:
        print(f"    only ours: {sorted(mine - base)}\n    only baseline: {sorted(base - mine)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
