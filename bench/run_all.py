"""Run every benchmark and print its figures: `make bench` (or `python bench/run_all.py`).

Each benchmark compares against a baseline measured in the same run, so the ratios mean something on a
shared, noisy machine. Benchmarks that need ../shared/data skip themselves when it is absent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).parent
ORDER = ["bench_startup", "bench_simulate", "bench_analyze", "bench_sweep", "bench_kotak_client", "bench_dashboard",
         "bench_long_run", "bench_year_resources", "bench_fencing", "bench_takeover", "bench_search"]


def main() -> int:
    failed = []
    for name in ORDER:
        path = HERE / f"{name}.py"
        if not path.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            module.main()
        except Exception as exc:
            print(f"{name} failed: {type(exc).__name__}: {exc}")
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
