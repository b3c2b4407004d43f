"""`swingtrader sweep` on the bundled data: the same results serially, on a Dask cluster and in a process pool;
walk-forward without look-ahead; the dashboard page over a sweep directory."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from swingtrader.cli import main
from swingtrader.web.format import money

START, END = "2024-01-01", "2024-02-29"
GRID = """
[settings]
data_dir = "{data_dir}"

[grid]
rsi_entry = [30, 35]
max_positions = [2, 6]
"""


def sweep(tmp_path: Path, name: str, *extra: str, grid: str = GRID, start: str = START, end: str = END) -> Path:
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text(grid.format(data_dir=tmp_path / "var"))
    out = tmp_path / name
    assert main(["sweep", "--grid", str(grid_file), "--start", start, "--end", end, "--data", "bundled",
                 "--out", str(out), *extra]) == 0
    return out


def contents(out: Path) -> tuple[list, dict]:
    rows = json.loads((out / "results.json").read_text())
    reports = {p.name: json.loads(p.read_text()) for p in sorted((out / "points").glob("*.json"))}
    return rows, reports


@pytest.fixture(scope="module")
def serial(tmp_path_factory) -> Path:
    return sweep(tmp_path_factory.mktemp("sweep"), "serial", "--workers", "1")


def test_serial_sweep_is_ranked_with_reports_beside_it(serial):
    rows, reports = contents(serial)
    assert len(rows) == 4 and len(reports) == 4
    assert {json.dumps(r["params"], sort_keys=True) for r in rows} == {
        json.dumps({"max_positions": m, "rsi_entry": e}, sort_keys=True) for e in (30, 35) for m in (2, 6)}
    # ranked by the default objective, total return: final equity falls down the table
    finals = [Decimal(r["final_equity"]) for r in rows]
    assert finals == sorted(finals, reverse=True) and len(set(finals)) == 4  # the parameters matter here
    for r in rows:
        report = reports[Path(r["report"]).name]
        assert report["params"] == r["params"] and report["pnl"]["net"] == r["net_pnl"]
        assert r["objective"] == r["total_return"] == report["headline"]["total_return"]
        assert r["total_return"] == pytest.approx(float(Decimal(r["final_equity"]) / 1_000_000 - 1), abs=1e-6)
        assert isinstance(r["net_pnl"], str) and isinstance(r["max_drawdown_value"], str)
        assert r["max_drawdown"] == report["max_drawdown"]["fraction"] < 1  # a fraction, like every ratio
        assert r["trades"] == len(report["trades"]) > 0
        # the rebuilt equity ends where the simulation's own report does
        assert report["equity_curve"]["2024-02-29"] == report["final_equity"]
        assert len(report["benchmark"]["series"]) == report["trading_days"]
    assert (serial / "results.csv").read_text().count("\n") == 5


def test_dask_cluster_and_process_pool_give_the_serial_results(serial, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        on_cluster = sweep(tmp_path, "cluster", "--cluster", lc.scheduler_address)
    pooled = sweep(tmp_path, "pool", "--workers", "2")
    assert contents(on_cluster) == contents(serial)
    assert contents(pooled) == contents(serial)


def test_walk_forward_tests_each_choice_only_after_its_training_window(tmp_path):
    out = sweep(tmp_path, "wf", "--workers", "2", "--walk-forward", "1m:1m", end="2024-04-30")
    rows, reports = contents(out)
    assert len(rows) == 3  # train Jan/test Feb, train Feb/test Mar, train Mar/test Apr
    previous_test_end = None
    for r, month in zip(rows, (2, 3, 4), strict=True):
        w = {k: date.fromisoformat(v) for k, v in r["window"].items()}
        assert w["train_start"] <= w["train_end"] < w["test_start"] <= w["test_end"]
        assert w["train_start"].month == month - 1 and w["train_end"].month == month - 1
        assert w["test_start"].month == month and w["test_end"].month == month
        if previous_test_end is not None:
            assert w["test_start"] > previous_test_end
        previous_test_end = w["test_end"]
        report = reports[Path(r["report"]).name]
        assert (report["start"], report["end"]) == (r["window"]["test_start"], r["window"]["test_end"])
        assert min(report["equity_curve"]) == r["window"]["test_start"]
        assert all(t["entry_date"] >= r["window"]["test_start"] for t in report["trades"])
        assert r["train"]["net_pnl"] is not None


def test_bad_grid_key_is_an_error(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text('[grid]\nSWINGTRADER_RSI_ENTRY = [30]\n')
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--grid", str(grid), "--start", START, "--end", END, "--data", "bundled",
              "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "lower case" in capsys.readouterr().err




def test_dashboard_shows_the_sweep_table_and_curves(serial):
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "swingtrader", "dashboard", "--sweep", str(serial),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, proc.stderr.read() if proc.poll() is not None else line
        page = httpx.get(f"http://127.0.0.1:{port}/sweep", timeout=30)
        api = httpx.get(f"http://127.0.0.1:{port}/api/sweep", timeout=30).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    rows, _ = contents(serial)
    assert page.status_code == 200
    html = page.text
    assert html.count('class="benchmark"') == 4 and html.count('class="line"') == 4
    table = html[html.index('<table id="sweep">'):html.index("</table>")]
    where = [table.index(money(Decimal(r["final_equity"]))) for r in rows]
    assert where == sorted(where)  # ranked best first, with final equity shown
    assert api["rows"] == rows
