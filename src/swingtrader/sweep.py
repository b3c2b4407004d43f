"""Parameter sweeps: every point of a grid is a full-service simulation with its own store.

A grid file is TOML: a `[grid]` table whose keys are setting names (without `SWINGTRADER_`, lower case), each a
list of values (a scalar is one value); the points are the cartesian product, in file order. An optional
`[settings]` table sets values shared by every point (e.g. `universe = ["INFY", "TCS"]`).

Points run one after another (`workers=1`), in a local process pool, or on a Dask distributed cluster; each
returns the same row and report wherever it ran (a simulation depends only on its inputs). The cluster's
workers need swingtrader installed and `data` readable at the same path.

Walk-forward (`TRAIN:TEST`): `6m:3m` is calendar months, `120:60` sessions. Windows start at `start`: train on
the first TRAIN, test on the TEST that follows, then move on by TEST; the last test window is cut at `end`.
The best point of each training window (highest objective; the first in grid order on a tie) is run on its test
window, which starts after the training window ends; only those out-of-sample runs are results.
"""

from __future__ import annotations

import itertools
import math
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast, final

from swingtrader.objectives import objective_value

if TYPE_CHECKING:  # simulate (the whole service) is imported where a point runs, not with this module
    from dask.distributed import Client

    from swingtrader.config import Settings
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar
    from swingtrader.report_types import SimulationReport

    class PointReport(SimulationReport):
        """A point's `simulate --json` report and the setting overrides it ran with."""

        params: dict[str, Any]  # TOML values

__all__ = ["Figures", "Job", "Row", "SweepRow", "WalkForwardRow", "Window", "figures", "load_grid",
           "parse_walk_forward", "rank", "row_of", "run_jobs", "run_point", "walk_forward_windows"]

ROW_FIELDS = ("objective", "total_return", "benchmark_return", "excess_return", "final_equity", "net_pnl", "cagr",
              "max_drawdown", "max_drawdown_value", "sharpe", "sortino", "calmar", "win_rate", "profit_factor",
              "trades", "exposure")


class Figures(TypedDict):
    """A point's headline figures (the `ROW_FIELDS`, in that order): returns and ratios are fractions, money is
    a decimal string; `objective` is the value the sweep ranks by (`swingtrader.objectives.objective_value`)."""

    objective: float | None
    total_return: float
    benchmark_return: float | None
    excess_return: float | None
    final_equity: str
    net_pnl: str
    cagr: float | None
    max_drawdown: float
    max_drawdown_value: str
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    win_rate: float | None
    profit_factor: float | None
    trades: int
    exposure: float


class Row(Figures):
    params: dict[str, Any]


@final
class SweepRow(Row):
    """A row of a plain sweep's `results.json`; `report` names the point's report."""

    report: str


@final
class WalkForwardRow(Row):
    """A row of a walk-forward's `results.json`: also its `window` and the chosen point's training figures."""

    window: dict[str, str]  # train_start, train_end, test_start, test_end
    train: Figures
    report: str


R = TypeVar("R", bound=Row)


class SweepError(Exception):
    """A bad grid file or walk-forward specification."""


@dataclass(frozen=True)
class Job:
    """One simulation: `params` are setting overrides on top of `config` and the environment."""

    params: dict[str, Any]
    start: date
    end: date
    data: str
    config: str | None = None
    shared: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    train_start: date
    train_end: date
    test_start: date
    test_end: date

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k).isoformat() for k in ("train_start", "train_end", "test_start", "test_end")}


def load_grid(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(points, shared settings) of a grid file; `SweepError` if it is not one (or needs `--trials`)."""
    grid, ranges, shared = load_space(path)
    if ranges:
        raise SweepError(f"{path}: a [search] table needs --trials N (an Optuna search)")
    if not grid:
        raise SweepError(f"{path}: needs a [grid] table with at least one setting")
    return grid_points(grid), shared


def load_space(path: Path) -> tuple[dict[str, list[Any]], dict[str, list[Any]], dict[str, Any]]:
    """([grid] lists, [search] ranges `[low, high]`, [settings]) of a grid file. Setting names are checked to be
    lower case without the prefix, and secret settings are refused (by name: the value is never shown)."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"{path}: {exc}") from exc
    grid, ranges, shared = doc.get("grid", {}), doc.get("search", {}), doc.get("settings", {})
    for name, table in (("grid", grid), ("search", ranges), ("settings", shared)):
        if not isinstance(table, dict):
            raise SweepError(f"{path}: [{name}] must be a table")
    if not grid and not ranges:
        raise SweepError(f"{path}: needs a [grid] or [search] table with at least one setting")
    secrets = secret_settings()
    for key in (*grid, *ranges, *shared):
        if key != key.lower() or key.startswith("swingtrader_"):
            raise SweepError(f"{path}: {key!r}: use setting names without SWINGTRADER_, in lower case")
        if key in secrets:
            raise SweepError(f"{path}: {key!r} is a secret setting and cannot be in a sweep file (set it in the "
                             "environment or the --config file)")
    lists = {k: v if isinstance(v, list) else [v] for k, v in grid.items()}
    if any(not v for v in lists.values()):
        raise SweepError(f"{path}: every grid setting needs at least one value")
    for key, bounds in ranges.items():
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(
                isinstance(b, int | float) and not isinstance(b, bool) for b in bounds) and bounds[0] < bounds[1]):
            raise SweepError(f"{path}: [search] {key!r}: expected [low, high] numbers with low < high "
                             "(whole numbers search whole numbers)")
    return lists, dict(ranges), shared


def grid_points(lists: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of [grid] lists, in file order."""
    return [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]


def secret_settings() -> frozenset[str]:
    """The names of the settings that hold secrets (typed `SecretStr`: Kotak credentials, passwords, notify URLs)."""
    from swingtrader.config import Settings

    return frozenset(name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation))


def settings_for(job: Job) -> Settings:
    """The job's settings; `ConfigError` names a bad value."""
    from swingtrader.config import load_settings

    return load_settings(job.config, **job.shared, **job.params)


_BARS: dict[tuple[str, tuple[str, ...], str], BarSource] = {}
_CALENDARS: dict[tuple[str, str], TradingCalendar] = {}


def _inputs(settings: Settings, data: str) -> tuple[BarSource, TradingCalendar]:
    """Bars and calendar for a job, loaded once per process (parsed files cached in the data directory)."""
    from swingtrader.market.bars import open_bar_source
    from swingtrader.market.calendar import TradingCalendar

    cache = Path(settings.data_dir) / "cache"
    key = (data, tuple(settings.universe), str(cache))
    if key not in _BARS:
        _BARS[key] = open_bar_source(data, cache_dir=cache, symbols=settings.universe or None)
    ckey = (str(settings.calendar_override_file), str(cache))
    if ckey not in _CALENDARS:
        _CALENDARS[ckey] = TradingCalendar.load(settings.calendar_override_file, cache_dir=cache)
    return _BARS[key], _CALENDARS[ckey]


def run_point(job: Job) -> PointReport:
    """Simulate one job in a fresh store (deleted afterwards) and return its `simulate --json` report (with its
    performance fields, `swingtrader.performance`)."""
    from swingtrader.simulate import SimulationSpec, run_simulation

    settings = settings_for(job)
    bars, calendar = _inputs(settings, job.data)
    spec = SimulationSpec(job.start, job.end, job.data, settings.initial_capital)
    tmp = Path(tempfile.mkdtemp(prefix="swingtrader-sweep-"))
    try:
        report = run_simulation(spec, settings, bars=bars, calendar=calendar, db=tmp / "sim.sqlite")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**report, "params": job.params}


def row_of(report: PointReport, objective: str = "return") -> Row:
    """A results row: the point's params and headline figures, `objective` valued on them."""
    h, dd = report["headline"], report["max_drawdown"]
    fig: Figures = {
        "objective": None,
        "total_return": h["total_return"], "benchmark_return": h["benchmark_return"],
        "excess_return": h["excess_return"], "final_equity": report["final_equity"], "net_pnl": report["pnl"]["net"],
        "cagr": report["cagr"], "max_drawdown": dd["fraction"], "max_drawdown_value": dd["value"],
        "sharpe": report["sharpe"], "sortino": h["sortino"], "calmar": h["calmar"], "win_rate": report["win_rate"],
        "profit_factor": h["profit_factor"], "trades": len(report["trades"]),
        "exposure": report["exposure"]["sessions_with_position"],
    }
    fig["objective"] = objective_value(objective, fig)
    return {"params": report["params"], **fig}


def figures(row: Row) -> Figures:
    """The headline figures of `row`, without its params."""
    return cast(Figures, {k: row[k] for k in ROW_FIELDS})  # type: ignore[literal-required]


def rank(rows: Sequence[R]) -> list[R]:
    """Best first: the highest objective (a row without one last); ties keep their order."""
    return sorted(rows, key=lambda r: math.inf if r["objective"] is None else -r["objective"])


def run_jobs(jobs: Sequence[Job], *, workers: int = 1, cluster: str | Client | None = None,
             on_done: Callable[[], None] = lambda: None, cache: Path | None = None) -> list[PointReport]:
    """The reports of `jobs`, in job order: serially (`workers` 1), in a local process pool of `workers`, or on
    the Dask cluster at `cluster` (an address or a `dask.distributed.Client`). `on_done` is called per job.
    With `cache` (a directory), a job whose report is there (same job, see `job_key`) is not run again, and each
    finished report is written there as it arrives (what `sweep --resume` reuses)."""
    out: list[PointReport | None] = [None] * len(jobs)
    todo = []
    for i, job in enumerate(jobs):
        out[i] = _cached(cache, job)
        if out[i] is None:
            todo.append(i)
        else:
            on_done()
    for k, report in _completed([jobs[i] for i in todo], workers, cluster):
        out[todo[k]] = report
        if cache is not None:
            _store(cache, jobs[todo[k]], report)
        on_done()
    return [r for r in out if r is not None]


def job_key(job: Job) -> str:
    """A stable name for what a job computes (its params, dates, data, config and shared settings)."""
    import hashlib
    import json
    from dataclasses import asdict

    text = json.dumps(asdict(job), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cached(cache: Path | None, job: Job) -> PointReport | None:
    import json

    path = None if cache is None else cache / f"{job_key(job)}.json"
    if path is None or not path.is_file():
        return None
    try:
        report: PointReport = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a torn write from an interrupted sweep: run the job again
    return report


def _store(cache: Path, job: Job, report: PointReport) -> None:
    import json
    import os

    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{job_key(job)}.tmp"
    tmp.write_text(json.dumps(report))
    os.replace(tmp, cache / f"{job_key(job)}.json")


def _completed(jobs: Sequence[Job], workers: int, cluster: str | Client | None
               ) -> Iterator[tuple[int, PointReport]]:
    """(index, report) of each job as it finishes."""
    if not jobs:
        return
    if cluster is not None:
        yield from _on_dask(jobs, cluster)
    elif workers <= 1:
        for i, job in enumerate(jobs):
            yield i, run_point(job)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
            futures = {pool.submit(run_point, job): i for i, job in enumerate(jobs)}
            for f in as_completed(futures):
                yield futures[f], f.result()


def _on_dask(jobs: Sequence[Job], cluster: str | Client) -> Iterator[tuple[int, PointReport]]:
    from dask.distributed import Client, as_completed

    client = cluster if isinstance(cluster, Client) else Client(cluster)
    try:
        futures = client.map(run_point, list(jobs), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for f in as_completed(futures):
            report: PointReport = f.result()  # untyped in dask: what run_point returned
            yield index[f.key], report
    finally:
        if client is not cluster:
            client.close()


# --- walk-forward -----------------------------------------------------------------------------------------------

_SPAN = re.compile(r"^(\d+)(m?)$")


def parse_walk_forward(text: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """`6m:3m` (months) or `120:60` (sessions) as ((n, unit), (n, unit)); `SweepError` otherwise."""
    parts = text.split(":")
    spans = [_SPAN.match(p.strip().lower()) for p in parts]
    if len(parts) != 2 or not all(spans) or any(int(m.group(1)) == 0 for m in spans if m):
        raise SweepError(f"--walk-forward {text!r}: expected TRAIN:TEST, e.g. 6m:3m (months) or 120:60 (sessions)")
    return tuple((int(m.group(1)), "months" if m.group(2) else "sessions") for m in spans if m)  # type: ignore[return-value]


def _add_months(day: date, n: int) -> date:
    """`day` moved by `n` calendar months, clipped to the end of a shorter month."""
    y, m = divmod(day.month - 1 + n, 12)
    year, month = day.year + y, m + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def walk_forward_windows(start: date, sessions: Sequence[date], train: tuple[int, str], test: tuple[int, str]
                         ) -> list[Window]:
    """The windows over `sessions` (the trading days from `start` to the end, in order); month windows count from
    `start`. Each window's test part holds at least one session and starts after its training part ends."""
    out: list[Window] = []
    if train[1] == "sessions" and test[1] == "sessions":
        i = 0
        while i + train[0] < len(sessions):
            tr, te = sessions[i:i + train[0]], sessions[i + train[0]:i + train[0] + test[0]]
            out.append(Window(tr[0], tr[-1], te[0], te[-1]))
            i += test[0]
        return out
    if train[1] != test[1]:
        raise SweepError("--walk-forward: TRAIN and TEST must use the same unit")
    last = sessions[-1]
    for k in itertools.count():
        train_start = _add_months(start, k * test[0])
        test_start = _add_months(train_start, train[0])
        test_end = min(_add_months(test_start, test[0]) - timedelta(days=1), last)
        tr = [d for d in sessions if train_start <= d < test_start]
        te = [d for d in sessions if test_start <= d <= test_end]
        if not tr or not te:
            return out
        out.append(Window(tr[0], tr[-1], te[0], te[-1]))
    raise AssertionError("unreachable")


# --- a sweep directory ------------------------------------------------------------------------------------------


def sweep(jobs: Sequence[Job], objective: str = "return", **run: Any) -> tuple[list[SweepRow], list[PointReport]]:
    """(rows ranked by `objective`, reports in job order) of a plain sweep; each row names its report
    (`points/NNN.json`)."""
    reports = run_jobs(jobs, **run)
    rows: list[SweepRow] = [{**row_of(r, objective), "report": f"points/{i:03d}.json"}
                            for i, r in enumerate(reports)]
    return rank(rows), reports


def walk_forward(points: Sequence[dict[str, Any]], windows: Sequence[Window], base: Job, objective: str = "return",
                 **run: Any) -> tuple[list[WalkForwardRow], list[PointReport]]:
    """(out-of-sample rows, their reports), one per window in date order. Every training run goes in one batch,
    then every test run; a row carries its window and the chosen point's training figures under `train`."""
    from dataclasses import replace

    train_jobs = [replace(base, params=p, start=w.train_start, end=w.train_end) for w in windows for p in points]
    train_rows = [row_of(r, objective) for r in run_jobs(train_jobs, **run)]
    best = [rank(train_rows[i * len(points):(i + 1) * len(points)])[0] for i in range(len(windows))]
    test_jobs = [replace(base, params=b["params"], start=w.test_start, end=w.test_end)
                 for w, b in zip(windows, best, strict=True)]
    reports = run_jobs(test_jobs, **run)
    rows: list[WalkForwardRow] = [{"window": w.as_dict(), **row_of(r, objective), "train": figures(b),
             "report": f"points/{i:03d}.json"} for i, (w, b, r) in enumerate(zip(windows, best, reports, strict=True))]
    return rows, reports


def write(out: Path, rows: Sequence[SweepRow] | Sequence[WalkForwardRow], reports: Sequence[PointReport],
          meta: dict[str, Any]) -> None:
    """`out/results.json` (rows), `out/results.csv`, `out/sweep.json` (how it was run) and each report under
    `out/points/`."""
    import csv
    import json

    (out / "points").mkdir(parents=True, exist_ok=True)
    for i, report in enumerate(reports):
        (out / "points" / f"{i:03d}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "results.json").write_text(json.dumps(list(rows), indent=2) + "\n")
    (out / "sweep.json").write_text(json.dumps(meta, indent=2) + "\n")
    keys = sorted({k for r in rows for k in r["params"]})
    window: list[str] = ["train_start", "train_end", "test_start", "test_end"] if rows and "window" in rows[0] else []
    with (out / "results.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*window, *keys, *ROW_FIELDS, "report"])
        for r in rows:
            w.writerow([*(_window(r)[k] for k in window), *(_cell(r["params"].get(k)) for k in keys),
                        *(_cell(v) for v in figures(r).values()), r["report"]])


def _window(row: SweepRow | WalkForwardRow) -> dict[str, str]:
    return row["window"] if "window" in row else {}


def _cell(value: object) -> object:
    return ";".join(map(str, value)) if isinstance(value, list) else "" if value is None else value
