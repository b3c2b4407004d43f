"""`swingtrader sweep --grid FILE.toml --start D --end D --data PATH [--workers N] [--cluster tcp://HOST:PORT]
[--walk-forward TRAIN:TEST] [--trials N [--seed N]] [--objective NAME] [--yes] [--resume] --out DIR`: simulate
every point of a grid, or an Optuna search over its `[search]` ranges (see `swingtrader.sweep`,
`swingtrader.search`), and write the results ranked by the objective to DIR. Exit 0; 2 with `error: ...` for bad
input. `--out` must be a new or empty directory, or with `--resume` the directory of an earlier run of the same
sweep (its finished simulations are reused)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from swingtrader.commands._common import calendar_or_exit, fail, parse_date, settings_or_exit

if TYPE_CHECKING:
    from swingtrader.sweep import Job, Window

LARGE_GRID = 10_000  # points; more need --yes
_CHECK_ALL = 2_000  # grids up to this size have every point's settings checked first; larger ones every value


class Progress:
    """Progress on `stream` from the start: a redrawn bar on a terminal, else a line per step (at most ~100)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = max(1, total // 100)
        self.started = time.monotonic()
        self._draw()

    def step(self) -> None:
        self.done += 1
        if self.tty or self.done % self.every == 0 or self.done == self.total:
            self._draw()
        if self.done == self.total and self.tty:
            self.stream.write("\n")

    def _draw(self) -> None:
        elapsed = f"{time.monotonic() - self.started:.0f} s"
        if self.tty:
            filled = 30 * self.done // max(self.total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} "
                              f"{elapsed}")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total} simulations done, {elapsed}\n")
        self.stream.flush()


def _check_out_or_exit(out: Path, resume: bool) -> None:
    """`--out` is a new or empty directory, or with `--resume` one that holds an earlier sweep."""
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not resume:
            fail(f"--out {out}: not empty; give a new or empty directory (or --resume an earlier sweep's)")
        if not (out / "sweep.json").is_file():
            fail(f"--out {out}: --resume needs the directory of an earlier sweep (no sweep.json there)")


def _claim_out_or_exit(out: Path, meta: dict[str, Any]) -> None:
    """Write `sweep.json` to `--out`, after checking that a resumed directory holds this same sweep."""
    if (out / "sweep.json").is_file():
        try:
            earlier = json.loads((out / "sweep.json").read_text())
        except (OSError, ValueError):
            earlier = {}
        if not isinstance(earlier, dict) or {k: earlier.get(k) for k in meta} != meta:
            fail(f"--out {out}: --resume: that directory holds another sweep (different grid, dates, data or "
                 "options)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "sweep.json").write_text(json.dumps(meta, indent=2) + "\n")
    except OSError as exc:
        fail(f"--out {out}: cannot write there ({exc.strerror})")


def main(args: Any) -> int:
    from swingtrader import sweep as sw
    from swingtrader.config import ConfigError
    from swingtrader.search import ObjectiveError, parse_objective

    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if end < start:
        fail("--end is before --start")
    if args.cluster:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            fail("--cluster needs Dask: pip install swingtrader[research]")
    if args.workers is not None and args.workers < 1:
        fail("--workers must be at least 1")
    if args.trials is not None and args.trials < 1:
        fail("--trials must be at least 1")
    out = Path(args.out)
    _check_out_or_exit(out, args.resume)
    try:
        objective = parse_objective(args.objective)
        lists, ranges, shared = sw.load_space(Path(args.grid))
        windows_spec = sw.parse_walk_forward(args.walk_forward) if args.walk_forward else None
    except (sw.SweepError, ObjectiveError) as exc:
        fail(str(exc))
    if ranges and args.trials is None:
        fail(f"{args.grid}: a [search] table needs --trials N (an Optuna search)")
    if args.trials is not None:
        try:
            import optuna  # noqa: F401
        except ImportError:
            fail("--trials needs Optuna: pip install swingtrader[research]")
    size = 0 if args.trials is not None else _grid_size(lists)
    if args.trials is None:
        print(f"grid of {size:,} points ({' x '.join(str(len(v)) for v in lists.values())})", file=sys.stderr)
        if size > LARGE_GRID and not args.yes:
            fail(f"the grid has {size:,} points (more than {LARGE_GRID:,}): pass --yes to run them all")
    points = sw.grid_points(lists) if args.trials is None else [{}]
    base = sw.Job(params={}, start=start, end=end, data=args.data, config=args.config, shared=shared)
    checks = points if args.trials is None and size <= _CHECK_ALL else _corners(lists, ranges)
    for p in checks:  # bad values before any simulation (each value, at least, in a very large grid)
        try:
            sw.settings_for(replace(base, params=p))
        except ConfigError as exc:
            fail(f"grid point {_params(p)}: " + "; ".join(exc.problems))
    settings = settings_or_exit(args, **shared)
    from swingtrader.commands._common import bars_or_exit

    bars_or_exit(args.data, settings)  # a bad data file is reported here, once (and parsed into the cache)
    meta = {"grid": str(args.grid), "start": start.isoformat(), "end": end.isoformat(), "data": args.data,
            "points": size, "walk_forward": args.walk_forward, "trials": args.trials, "seed": args.seed,
            "objective": objective}
    windows = None
    if windows_spec is not None:
        sessions = [s.date for s in calendar_or_exit(settings).sessions(start, end)]
        windows = sw.walk_forward_windows(start, sessions, *windows_spec) if sessions else []
        if not windows:
            fail(f"--walk-forward {args.walk_forward}: {start}..{end} is too short for one training and test window")
    _claim_out_or_exit(out, meta)
    run = {"workers": args.workers or os.cpu_count() or 1, "cluster": args.cluster, "cache": out / "runs"}
    rows, reports = _run(lists, ranges, points, windows, base, objective, args, run)
    sw.write(out, rows, reports, meta)
    print(f"{len(rows)} rows in {out / 'results.json'} and {out / 'results.csv'}, ranked by {objective}"
          + (" (out-of-sample test windows, in date order)" if windows else ""))
    print(format_table(rows[:10]))
    return 0


def _run(lists: dict[str, list[Any]], ranges: dict[str, Any], points: list[dict[str, Any]],
         windows: list[Window] | None, base: Job, objective: str, args: Any, run: dict[str, Any]
         ) -> tuple[list[Any], list[Any]]:
    """(rows ranked by the objective or, walk-forward, one per test window; their reports)."""
    from swingtrader import search
    from swingtrader import sweep as sw

    if args.trials is not None:
        per_window = args.trials + 1
        progress = Progress(args.trials if windows is None else len(windows) * per_window, "search")
        if windows is None:
            rows, reports = search.search(lists, ranges, base, trials=args.trials, seed=args.seed,
                                          objective=objective, **run, on_done=progress.step)
            named = [{**r, "report": f"points/{i:03d}.json"} for i, r in enumerate(rows)]
            return sw.rank(named), reports
        return search.search_walk_forward(lists, ranges, windows, base, trials=args.trials, seed=args.seed,
                                          objective=objective, **run, on_done=progress.step)
    if windows is None:
        progress = Progress(len(points), "sweep")
        return sw.sweep([replace(base, params=p) for p in points], objective, **run, on_done=progress.step)
    progress = Progress(len(windows) * (len(points) + 1), "walk-forward")
    return sw.walk_forward(points, windows, base, objective, **run, on_done=progress.step)


def _grid_size(lists: dict[str, list[Any]]) -> int:
    import math

    return math.prod(len(v) for v in lists.values()) if lists else 0


def _corners(lists: dict[str, list[Any]], ranges: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings a search can reach, checked at its bounds: each range's low and high, each list's values."""
    lows = {k: v[0] for k, v in ranges.items()} | {k: v[0] for k, v in lists.items()}
    checks = [lows, {k: v[1] for k, v in ranges.items()} | {k: v[-1] for k, v in lists.items()}]
    return checks + [lows | {k: x} for k, v in lists.items() for x in v]


def _params(p: dict[str, Any]) -> str:
    return ", ".join(f"{k}={';'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in p.items()) or "-"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.2f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_table(rows: list[Any]) -> str:
    """Rows as a text table: objective, return against the benchmark, final equity, drawdown, trades, params."""
    head = ["#", "window", "objective", "return", "benchmark", "final equity", "max dd", "sharpe", "trades",
            "params"]
    body = []
    for i, r in enumerate(rows, 1):
        window = f"{r['window']['test_start']}..{r['window']['test_end']}" if "window" in r else "-"
        obj = r["objective"]
        body.append([str(i), window, "-" if obj is None else f"{obj:.4f}", _pct(r["total_return"]),
                     _pct(r["benchmark_return"]), r["final_equity"], _pct(r["max_drawdown"]).lstrip("+"),
                     _num(r["sharpe"]), str(r["trades"]), _params(r["params"])])
    if not any("window" in r for r in rows):
        head.pop(1)
        body = [b[:1] + b[2:] for b in body]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    return "\n".join("  " + "  ".join(c.ljust(w) if j in (len(head) - 1,) else c.rjust(w)
                                       for j, (c, w) in enumerate(zip(line, widths, strict=True))).rstrip()
                     for line in [head, *body])
