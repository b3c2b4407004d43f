"""Benchmark: the 16:00 analysis over the 1,928-symbol universe, load included, against a naive baseline.

    .venv/bin/python bench/bench_analyze.py [UNIVERSE.csv.gz] [--as-of D] [--repeat N]

Ours: `open_bar_source` + `DipBuyStrategy.analyse` (vectorised across symbols). The baseline, timed in the same
run on the same file: `pandas.read_csv`, then per symbol (groupby) the same data rules and the indicators with
pandas `ewm`/`rolling`. Both must find the same candidate set. Each side runs `--repeat` times; the fastest run
counts (the least disturbed by other load on the machine). Targets: ours <= 3 s, >= 10x the baseline.
Also prints the cost of one more `analyse` once the indicator table is cached (the simulator's case), and
`swingtrader analyze` as a whole process: cold (empty data directory: parse the CSV, fill the cache) and warm
(memory-mapped cache), wall time and peak RSS of each (best of `--repeat`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
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
DEFAULT_DATA = Path(os.environ.get("SWINGTRADER_SHARED_DATA", REPO.parent / "shared" / "data")) / (
    "nse-eq-universe-2019-2024.csv.gz")
DEFAULT_AS_OF = "2024-06-04"  # the election-result sell-off: about a hundred candidates
T = TypeVar("T")


def ours(path: Path, as_of: date, params: StrategyParams) -> tuple[set[str], float, float]:
    """(candidates, load seconds, analysis seconds) on the service's code path."""
    source, load = _timed(open_bar_source, str(path))
    report, compute = _timed(DipBuyStrategy(params).analyse, source, as_of)
    return {c.symbol for c in report.candidates}, load, compute


def _warm(path: Path, cache: Path, as_of: date, params: StrategyParams) -> float:
    """Load through the parsed-file cache (as a second `swingtrader analyze` does) and analyse."""
    t0 = time.perf_counter()
    DipBuyStrategy(params).analyse(open_bar_source(str(path), cache_dir=cache), as_of)
    return time.perf_counter() - t0


def baseline(path: Path, as_of: date, params: StrategyParams) -> tuple[set[str], float, float]:
    """(candidates, load seconds, analysis seconds) the straightforward way: one symbol at a time, in pandas."""
    df, load = _timed(pd.read_csv, path, parse_dates=["date"])
    found, compute = _timed(_baseline_candidates, df, pd.Timestamp(as_of), params)
    return found, load, compute


def _baseline_candidates(df: pd.DataFrame, day: pd.Timestamp, params: StrategyParams) -> set[str]:
    found = set()
    for symbol, g in df.groupby("symbol", sort=True):
        if g["date"].duplicated().any():  # the loader's rules: drop these, cut history at the last gap
            continue
        gaps = g.index[g["date"].diff().dt.days > MAX_GAP_DAYS]
        if len(gaps):
            g = g.loc[gaps[-1]:]
        g = g[g["date"] <= day].reset_index(drop=True)
        if len(g) < params.min_history or g["date"].iloc[-1] != day:
            continue
        close = g["close"]
        rsi, ema_exit, ema_trend = _rsi(close, params.rsi_period), _ema(close, params.ema_exit), _ema(
            close, params.ema_trend)
        ok = rsi.iloc[-1] < params.rsi_entry and close.iloc[-1] > ema_trend.iloc[-1] and ema_exit.notna().iloc[-1]
        if "volume" in g:
            avg = g["volume"].rolling(params.volume_window).mean().shift(1)
            ok = ok and avg.iloc[-1] >= params.min_avg_volume
            ok = ok and g["volume"].iloc[-1] / avg.iloc[-1] >= params.min_volume_ratio
        if ok:
            found.add(symbol)
    return found


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


def _timed(fn: Callable[..., T], *args: object, **kwargs: object) -> tuple[T, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


_CHILD = """import sys
from swingtrader.cli import main
rc = main(sys.argv[1:])
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0].split()[1]
print(hwm, file=sys.stderr)
sys.exit(rc)
"""


def process_run(path: Path, as_of: date, data_dir: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `swingtrader analyze --json` as a child process. The peak is the
    child's own VmHWM (getrusage would count this process's size at fork)."""
    env = {**os.environ, "SWINGTRADER_DATA_DIR": str(data_dir)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, "analyze", "--as-of", as_of.isoformat(),
                           "--data", str(path), "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          env=env, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"swingtrader analyze exited {proc.returncode}: {proc.stderr[-500:]}")
    return wall, int(proc.stderr.split()[-1]) / 1024


def _processes(path: Path, as_of: date, repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    cold, warm = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as data_dir:
            cold.append(process_run(path, as_of, Path(data_dir)))
            warm.append(process_run(path, as_of, Path(data_dir)))
    return min(cold), min(warm)


def _best(runs: list[tuple[set[str], float, float]]) -> tuple[set[str], float, float]:
    return min(runs, key=lambda r: r[1] + r[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--as-of", default=DEFAULT_AS_OF)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    path, as_of, params = Path(args.data), date.fromisoformat(args.as_of), StrategyParams()
    if not path.exists():
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2

    mine, my_load, my_compute = _best([ours(path, as_of, params) for _ in range(args.repeat)])
    base, base_load, base_compute = _best([baseline(path, as_of, params) for _ in range(args.repeat)])
    source, strategy = open_bar_source(str(path)), DipBuyStrategy(params)
    strategy.analyse(source, as_of)
    _, again = _timed(strategy.analyse, source, as_of)
    with tempfile.TemporaryDirectory() as cache:  # `swingtrader analyze` keeps parsed files in the data dir
        open_bar_source(str(path), cache_dir=Path(cache))
        warm = min(_warm(path, Path(cache), as_of, params) for _ in range(args.repeat))

    (cold, cold_rss), (warm_proc, warm_rss) = _processes(path, as_of, args.repeat)
    mine_total, base_total = my_load + my_compute, base_load + base_compute
    print(f"analyze {path.name} as of {as_of}: {len(mine)} candidates (best of {args.repeat})")
    print(f"  {'':<22}{'load':>9}{'analysis':>10}{'total':>9}")
    print(f"  {'ours':<22}{my_load:>8.3f}s{my_compute:>9.3f}s{mine_total:>8.3f}s")
    print(f"  {'baseline (pandas)':<22}{base_load:>8.3f}s{base_compute:>9.3f}s{base_total:>8.3f}s")
    print(f"  {'speed-up':<22}{base_load / my_load:>8.1f}x{base_compute / my_compute:>9.1f}x"
          f"{base_total / mine_total:>8.1f}x")
    print(f"  {'ours, parsed-file cache':<22}{'':>9}{'':>10}{warm:>8.3f}s  ({base_total / warm:.1f}x the baseline)")
    print(f"  analyse again with the indicator table cached: {again * 1000:.1f} ms")
    print("  `swingtrader analyze` as a process (interpreter, imports, settings, load, analysis, JSON):")
    print(f"    cold (parses the CSV)    {cold:>7.3f}s  peak RSS {cold_rss:>5.0f} MB  "
          f"({base_total / cold:.1f}x the baseline)")
    print(f"    warm (memory-mapped)     {warm_proc:>7.3f}s  peak RSS {warm_rss:>5.0f} MB  "
          f"({base_total / warm_proc:.1f}x the baseline)")
    same = mine == base
    print(f"  same candidates as the baseline: {'yes' if same else 'NO'}")
    if not same:
        print(f"    only ours: {sorted(mine - base)}\n    only baseline: {sorted(base - mine)}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
