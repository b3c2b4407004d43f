"""`swingtrader sweep --trials N`: an Optuna (TPE) search over `[search]` ranges, with walk-forward, gives the same
out-of-sample rows on a Dask `LocalCluster` as in local processes with the same seed; objectives rank rows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from swingtrader.cli import main
from swingtrader.search import ObjectiveError, objective_value, parse_objective

SPACE = """
[settings]
data_dir = "{data_dir}"
universe = ["ADANIENT", "TATAMOTORS", "INDUSINDBK", "HINDALCO", "BAJFINANCE", "WIPRO"]

[search]
rsi_entry = [30, 50]
ema_exit = [5, 15]

[grid]
max_positions = [2, 4]
"""


def search(tmp_path: Path, name: str, *extra: str) -> list[dict]:
    space = tmp_path / "space.toml"
    space.write_text(SPACE.format(data_dir=tmp_path / "var"))
    out = tmp_path / name
    assert main(["sweep", "--grid", str(space), "--start", "2024-01-01", "--end", "2024-02-29", "--data", "bundled",
                 "--trials", "20", "--seed", "7", "--walk-forward", "1m:1m", "--out", str(out), *extra]) == 0
    return json.loads((out / "results.json").read_text())


def test_a_seeded_walk_forward_search_is_the_same_on_dask_and_locally(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    pytest.importorskip("optuna")
    local = search(tmp_path, "local", "--workers", "2")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_dask = search(tmp_path, "dask", "--cluster", lc.scheduler_address)
    assert on_dask == local
    [row] = local  # train January, test February
    assert row["window"] == {"train_start": "2024-01-01", "train_end": "2024-01-31", "test_start": "2024-02-01",
                             "test_end": "2024-02-29"}
    assert 30 <= row["params"]["rsi_entry"] <= 50 and 5 <= row["params"]["ema_exit"] <= 15
    assert row["params"]["max_positions"] in (2, 4)
    assert row["objective"] == row["total_return"] and row["train"]["trades"] > 0
    report = json.loads((tmp_path / "local" / row["report"]).read_text())
    assert min(report["equity_curve"]) == "2024-02-01"
    assert all(date.fromisoformat(t["entry_date"]) >= date(2024, 2, 1) for t in report["trades"])
    # 20 distinct training trials ran (cached by job), and the chosen one was the best of them by the objective
    trained = [json.loads(p.read_text()) for p in (tmp_path / "local" / "runs").glob("*.json")]
    training = [r for r in trained if r["end"] == "2024-01-31"]
    assert len(training) == 20
    assert row["train"]["total_return"] == max(r["headline"]["total_return"] for r in training)


def test_objectives():
    figures = {"total_return": 0.12, "sharpe": 1.5, "calmar": None, "max_drawdown": 0.2}
    assert objective_value(parse_objective("return"), figures) == 0.12
    assert objective_value(parse_objective("SHARPE"), figures) == 1.5
    assert objective_value(parse_objective("calmar"), figures) is None
    assert objective_value(parse_objective("return:0.25"), figures) == 0.12
    assert objective_value(parse_objective("return:0.15"), figures) is None  # over the drawdown cap
    for bad in ("profit", "return:2", "return:x"):
        with pytest.raises(ObjectiveError):
            parse_objective(bad)
