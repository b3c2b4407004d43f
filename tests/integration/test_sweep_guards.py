"""`swingtrader sweep` refuses what would hurt (issue 16, bullet 7): an `--out` that is a file or a directory
holding anything but an earlier run of the same sweep, a grid of more than 10,000 points without `--yes`,
secret settings in a grid file; it reports its size and progress on stderr from the start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swingtrader.cli import main

TINY = ("--start", "2024-01-01", "--end", "2024-01-03", "--data", "bundled", "--workers", "1")


def grid_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "grid.toml"
    path.write_text(f'[settings]\ndata_dir = "{tmp_path / "var"}"\nuniverse = ["INFY", "TCS"]\n\n{body}')
    return path


def refused(capsys, *argv: str) -> tuple[str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["sweep", *argv])
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    return out, err


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    _, err = refused(capsys, "--grid", str(grid_file(tmp_path, "[grid]\nrsi_entry = [30]\n")), *TINY,
                     "--out", str(target))
    assert err.startswith("error: --out") and "is a file" in err and "Traceback" not in err
    assert target.read_text() == "keep me\n"


def test_out_that_holds_other_files_is_refused_even_with_resume(tmp_path, capsys):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0\n")
    grid = str(grid_file(tmp_path, "[grid]\nrsi_entry = [30]\n"))
    _, err = refused(capsys, "--grid", grid, *TINY, "--out", str(etc))
    assert "not empty" in err
    _, err = refused(capsys, "--grid", grid, *TINY, "--out", str(etc), "--resume")
    assert "earlier sweep" in err
    assert sorted(p.name for p in etc.iterdir()) == ["passwd"]  # nothing written there


def test_a_grid_over_ten_thousand_points_needs_yes_and_says_its_size_first(tmp_path, capsys):
    grid = str(grid_file(tmp_path, "[grid]\nrsi_entry = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]\n"
                                   f"max_positions = {list(range(1, 31))}\nema_exit = {list(range(5, 45))}\n"))
    out = tmp_path / "big"
    _, err = refused(capsys, "--grid", grid, *TINY, "--out", str(out))
    assert err.splitlines()[0] == "grid of 12,000 points (10 x 30 x 40)"
    assert "12,000 points (more than 10,000): pass --yes" in err and not out.exists()
    # with --yes it goes on past the size check (to the next problem: a window longer than the range)
    _, err = refused(capsys, "--grid", grid, *TINY, "--out", str(out), "--yes", "--walk-forward", "12m:12m")
    assert err.splitlines()[0] == "grid of 12,000 points (10 x 30 x 40)" and "too short" in err


def test_secret_settings_are_refused_in_a_grid_and_never_echoed(tmp_path, capsys):
    for table in ("grid", "settings"):
        path = tmp_path / f"{table}.toml"
        path.write_text(f'[{table}]\nkotak_mpin = ["482913"]\n' + ("[grid]\nrsi_entry = [30]\n" if table != "grid"
                                                                     else ""))
        out, err = refused(capsys, "--grid", str(path), *TINY, "--out", str(tmp_path / table))
        assert "'kotak_mpin' is a secret setting" in err
        assert "482913" not in out + err and not (tmp_path / table).exists()
    path = tmp_path / "notify.toml"
    path.write_text('[grid]\nnotify_urls = ["tgram://bottoken123/chat"]\n')
    out, err = refused(capsys, "--grid", str(path), *TINY, "--out", str(tmp_path / "n"))
    assert "'notify_urls' is a secret setting" in err and "bottoken123" not in out + err


def test_progress_from_the_first_point_and_resume_reuses_finished_runs(tmp_path, capsys):
    grid = str(grid_file(tmp_path, "[grid]\nrsi_entry = [30, 35]\n"))
    out = tmp_path / "out"
    assert main(["sweep", "--grid", grid, *TINY, "--out", str(out)]) == 0
    first, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[:2] == ["grid of 2 points (2)", "sweep: 0/2 simulations done, 0 s"]  # before any point ends
    assert lines[-1].startswith("sweep: 2/2 simulations done")
    runs = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert len(runs) == 2
    results = (out / "results.json").read_text()
    assert main(["sweep", "--grid", grid, *TINY, "--out", str(out), "--resume"]) == 0
    assert capsys.readouterr().out == first
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()} == runs  # nothing ran again
    assert (out / "results.json").read_text() == results
    # another sweep is not resumed into it
    other = str(grid_file(tmp_path, "[grid]\nrsi_entry = [25]\n"))
    _, err = refused(capsys, "--grid", other, *TINY, "--out", str(out), "--resume")
    assert "another sweep" in err
    assert json.loads((out / "sweep.json").read_text())["points"] == 2


def test_stdout_is_a_table_ranked_by_the_objective(tmp_path, capsys):
    grid = str(grid_file(tmp_path, "[grid]\nrsi_entry = [30, 35]\n"))
    assert main(["sweep", "--grid", grid, *TINY, "--out", str(tmp_path / "o"), "--objective", "sharpe"]) == 0
    out = capsys.readouterr().out
    assert "ranked by sharpe" in out and "{" not in out  # no dict reprs
    header = out.splitlines()[1].split()
    assert header[:4] == ["#", "objective", "return", "benchmark"] and "final" in header
    _, err = refused(capsys, "--grid", grid, *TINY, "--out", str(tmp_path / "p"), "--objective", "profit")
    assert "--objective 'profit'" in err
