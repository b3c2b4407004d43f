"""Benchmark: a 16-point sweep with `--workers 2` against the same 16 points run one after another.

    .venv/bin/python bench/bench_sweep.py [--start D] [--end D] [--data PATH] [--workers N]

The points are rsi_entry x max_positions x capital_per_trade (2 x 4 x 2). Default: the first quarter of 2024 on
the bundled Nifty 50 data (the whole of 2024 takes about four times as long; pass --end 2024-12-31). Both runs
must give the same rows; prints both wall times and the speed-up (aim: close to 2x on 2 cores).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from datetime import date

from swingtrader.sweep import Job, row_of, run_jobs

GRID = {"rsi_entry": [30, 35], "max_positions": [2, 3, 4, 6], "capital_per_trade": ["50000", "100000"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--end", default="2024-03-31")
    parser.add_argument("--data", default="bundled")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as data_dir:
        jobs = [Job(params=dict(zip(GRID, combo, strict=True)), start=date.fromisoformat(args.start),
                    end=date.fromisoformat(args.end), data=args.data, shared={"data_dir": data_dir})
                for combo in itertools.product(*GRID.values())]
        run_jobs(jobs[:1])  # parse the data into the cache once, outside both timings
        t0 = time.perf_counter()
        serial = [row_of(r) for r in run_jobs(jobs, workers=1)]
        t1 = time.perf_counter()
        parallel = [row_of(r) for r in run_jobs(jobs, workers=args.workers)]
        t2 = time.perf_counter()
    same = serial == parallel
    print(f"sweep of {len(jobs)} points, {args.start} .. {args.end} on {args.data}")
    print(f"  serial (one process)       {t1 - t0:7.1f} s  ({(t1 - t0) / len(jobs):.2f} s/point)")
    print(f"  --workers {args.workers:<2}               {t2 - t1:7.1f} s")
    print(f"  speed-up                   {(t1 - t0) / (t2 - t1):7.2f}x")
    print(f"  same results: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
