"""The seeded Optuna search over `[search]` ranges, and what it maximises (`--objective`: `objectives`, re-exported
here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from swingtrader.objectives import OBJECTIVES, ObjectiveError, objective_value, parse_objective
from swingtrader.sweep import Job, Row, SweepError, WalkForwardRow, Window, figures, rank, row_of, run_jobs

if TYPE_CHECKING:
    from swingtrader.sweep import PointReport

__all__ = ["BATCH", "OBJECTIVES", "ObjectiveError", "objective_value", "parse_objective", "search",
           "search_walk_forward"]

BATCH = 4  # trials asked of the sampler at once, then run in parallel: fixed, so results do not depend on workers


def search(lists: Mapping[str, Sequence[Any]], ranges: Mapping[str, Sequence[float]], base: Job, *, trials: int,
           seed: int, objective: str, **run: Any) -> tuple[list[Row], list[PointReport]]:
    """(rows in trial order, their reports): `trials` simulations of `base` (its dates) with parameters drawn by
    Optuna's TPE sampler seeded with `seed`: a `[low, high]` range of whole numbers is searched as whole numbers,
    of decimals as decimals; a `[grid]` list is a categorical choice. Trials are asked `BATCH` at a time and run
    through `sweep.run_jobs(**run)`, so the same seed gives the same trials serially, in a pool or on Dask."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for key, values in lists.items():
        if any(not isinstance(v, bool | int | float | str) for v in values):
            raise SweepError(f"[grid] {key!r}: a search takes only single values (numbers, text) as choices")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[Row] = []
    reports: list[PointReport] = []
    while len(rows) < trials:
        asked = [study.ask() for _ in range(min(BATCH, trials - len(rows)))]
        params = [_suggest(t, lists, ranges) for t in asked]
        done = run_jobs([replace(base, params=p) for p in params], **run)
        for t, report in zip(asked, done, strict=True):
            row = row_of(report, objective)
            study.tell(t, _MISSING if row["objective"] is None else row["objective"])
            rows.append(row)
            reports.append(report)
    return rows, reports


_MISSING = -1e9  # what the sampler is told for a point without an objective value (ranked last)


def _suggest(trial: Any, lists: Mapping[str, Sequence[Any]], ranges: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, (low, high) in ranges.items():
        whole = isinstance(low, int) and isinstance(high, int)
        params[key] = trial.suggest_int(key, low, high) if whole else trial.suggest_float(key, low, high)
    for key, values in lists.items():
        params[key] = trial.suggest_categorical(key, list(values))
    return params


def search_walk_forward(lists: Mapping[str, Sequence[Any]], ranges: Mapping[str, Sequence[float]],
                        windows: Sequence[Window], base: Job, *, trials: int, seed: int, objective: str, **run: Any
                        ) -> tuple[list[WalkForwardRow], list[PointReport]]:
    """(out-of-sample rows, their reports), one per window in date order: a search of `trials` on each training
    window (seeded `seed`), its best trial (the first on a tie) simulated afresh on the test window after it."""
    rows: list[WalkForwardRow] = []
    reports: list[PointReport] = []
    for i, w in enumerate(windows):
        train, _ = search(lists, ranges, replace(base, start=w.train_start, end=w.train_end), trials=trials,
                          seed=seed, objective=objective, **run)
        best = rank(train)[0]
        [report] = run_jobs([replace(base, params=best["params"], start=w.test_start, end=w.test_end)], **run)
        rows.append({"window": w.as_dict(), **row_of(report, objective), "train": figures(best),
                     "report": f"points/{i:03d}.json"})
        reports.append(report)
    return rows, reports
