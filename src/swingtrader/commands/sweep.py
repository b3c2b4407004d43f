"""`swingtrader sweep --grid FILE.toml --start D --end D --data PATH [--workers N] [--cluster tcp://HOST:PORT]
[--walk-forward TRAIN:TEST] --out DIR`: simulate every point of a grid (see `swingtrader.sweep`) and write the
ranked results to DIR. Exit 0; 2 with `error: ...` for bad input."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from swingtrader.commands._common import calendar_or_exit, fail, parse_date, settings_or_exit


class Progress:
    """A one-line progress bar on `stream`, drawn only when it is a terminal."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.shown = stream.isatty()
        self._draw()

    def step(self) -> None:
        self.done += 1
        self._draw()
        if self.done == self.total and self.shown:
            self.stream.write("\n")

    def _draw(self) -> None:
        if self.shown:
            filled = 30 * self.done // max(self.total, 1)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}")
            self.stream.flush()


def main(args: Any) -> int:
    from swingtrader import sweep as sw
    from swingtrader.config import ConfigError

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
    try:
        points, shared = sw.load_grid(Path(args.grid))
        windows_spec = sw.parse_walk_forward(args.walk_forward) if args.walk_forward else None
    except sw.SweepError as exc:
        fail(str(exc))
    base = sw.Job(params={}, start=start, end=end, data=args.data, config=args.config, shared=shared)
    for p in points:  # every bad value before any simulation starts
        try:
            sw.settings_for(replace(base, params=p))
        except ConfigError as exc:
            fail(f"grid point {p}: " + "; ".join(exc.problems))
    settings = settings_or_exit(args, **shared)
    from swingtrader.commands._common import bars_or_exit

    bars_or_exit(args.data, settings)  # a bad data file is reported here, once (and parsed into the cache)
    run = {"workers": args.workers or os.cpu_count() or 1, "cluster": args.cluster}
    meta = {"grid": str(args.grid), "start": start.isoformat(), "end": end.isoformat(), "data": args.data,
            "points": len(points), "walk_forward": args.walk_forward}
    out = Path(args.out)
    rows: list[sw.SweepRow] | list[sw.WalkForwardRow]
    if windows_spec is None:
        progress = Progress(len(points), "sweep")
        rows, reports = sw.sweep([replace(base, params=p) for p in points], **run,
                                 on_done=progress.step)
    else:
        sessions = [s.date for s in calendar_or_exit(settings).sessions(start, end)]
        windows = sw.walk_forward_windows(start, sessions, *windows_spec) if sessions else []
        if not windows:
            fail(f"--walk-forward {args.walk_forward}: {start}..{end} is too short for one training and test window")
        progress = Progress(len(windows) * (len(points) + 1), "walk-forward")
        rows, reports = sw.walk_forward(points, windows, base, **run, on_done=progress.step)
    sw.write(out, rows, reports, meta)
    print(f"{len(rows)} rows in {out / 'results.json'} and {out / 'results.csv'}")
    for r in rows[:5]:
        where = f"{r['window']['test_start']}..{r['window']['test_end']} " if "window" in r else ""
        print(f"  {where}{r['params']}: net {r['net_pnl']}, {r['trades']} trades, sharpe {r['sharpe']}")
    return 0
