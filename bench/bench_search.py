"""Benchmark: a walk-forward Optuna search against the default strategy on the same test windows.

    .venv/bin/python bench/bench_search.py [--trials 200] [--start D] [--end D] [--walk-forward 6m:3m]
                                           [--data PATH] [--workers 2] [--seed 0]

Runs `swingtrader sweep --trials N --walk-forward ...` over a `[search]` space of four settings of the default
strategy, then the same walk-forward with the default settings only (a one-point grid: its "best" point is the
default), and prints for each the out-of-sample rows (test window, chosen settings, return), the compounded
out-of-sample return, the buy-and-hold benchmark's, and the wall time. The baseline is the default run in the
same process: the search's time is also given per simulated trial window. Default: 2024 on the bundled Nifty 50.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPACE = """
[search]
rsi_entry = [25, 40]  # above the default averaging levels (20, 10)
rsi_exit = [40, 70]
ema_exit = [5, 20]
max_positions = [3, 10]
"""
DEFAULT = """
[grid]
max_positions = [6]
"""


def sweep(space: str, out: Path, args: argparse.Namespace, *extra: str) -> tuple[list[dict], float]:
    """The out-of-sample rows of one `swingtrader sweep` process and its wall time."""
    grid = out.with_suffix(".toml")
    grid.write_text(space)
    command = [sys.executable, "-m", "swingtrader", "sweep", "--grid", str(grid), "--start", args.start,
               "--end", args.end, "--data", args.data, "--walk-forward", args.walk_forward,
               "--workers", str(args.workers), "--out", str(out), "--yes", *extra]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((out / "results.json").read_text()), time.perf_counter() - t0


def compounded(rows: list[dict], key: str) -> float:
    total = 1.0
    for row in rows:
        total *= 1 + row[key]
    return total - 1


def show(name: str, rows: list[dict], seconds: float) -> None:
    print(f"  {name}: {seconds:.1f} s")
    for row in rows:
        window = row["window"]
        print(f"    test {window['test_start']} .. {window['test_end']}  return {row['total_return']:+.2%}  "
              f"benchmark {row['benchmark_return']:+.2%}  trades {row['trades']:3d}  params {row['params']}")
    print(f"    out of sample, compounded: return {compounded(rows, 'total_return'):+.2%}, "
          f"benchmark {compounded(rows, 'benchmark_return'):+.2%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--walk-forward", default="6m:3m")
    parser.add_argument("--data", default="bundled")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base, base_s = sweep(DEFAULT, Path(tmp) / "default", args)
        found, found_s = sweep(SPACE, Path(tmp) / "search", args, "--trials", str(args.trials),
                               "--seed", str(args.seed))
    print(f"walk-forward {args.walk_forward}, {args.start} .. {args.end} on {args.data}, --workers {args.workers}")
    show("default settings (baseline)", base, base_s)
    show(f"search of {args.trials} trials per training window", found, found_s)
    simulations = len(found) * (args.trials + 1)
    print(f"  search: {simulations} simulations, {found_s / simulations:.2f} s each; "
          f"{found_s / base_s:.1f}x the baseline's wall time")
    excess = compounded(found, "total_return") - compounded(base, "total_return")
    print(f"  search minus default, out of sample: {excess:+.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
