"""Every bad input of issue 10 through the real command line: an `error:` line naming the problem, exit code 2, no
traceback, and the store left as it was. Real store files (made by a real simulation), real tmpfs mounts for a
read-only data directory and a full disk (root only; skipped elsewhere)."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

GOOD_ROWS = "".join(f"2024-07-0{i + 1},{100 + i},{101 + i},{99 + i},{100.5 + i},200000\n" for i in range(5))
HEADER = "date,open,high,low,close,volume\n"
SIM = ("simulate", "--start", "2024-07-01", "--end", "2024-07-05")


def run(args: tuple[str, ...], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWINGTRADER_")}
    return subprocess.run([sys.executable, "-m", "swingtrader", *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **env}, cwd=cwd)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def finished_store(tmp_path_factory) -> Path:
    """A store holding a finished simulation, made once by the real CLI."""
    work = tmp_path_factory.mktemp("made")
    (work / "data").mkdir()
    (work / "data" / "AAA.csv").write_text(HEADER + GOOD_ROWS)
    proc = run((*SIM, "--data", "data", "--db", "store.sqlite"), {"SWINGTRADER_DATA_DIR": str(work / "var")}, work)
    assert proc.returncode == 0, proc.stderr
    return work / "store.sqlite"


@dataclass
class Case:
    """A prepared bad input: run `args` with `env` in `cwd`; `expect` must be in the error; `store` unchanged."""

    args: tuple[str, ...]
    expect: str
    env: dict[str, str] = field(default_factory=dict)
    store: Path | None = None


def mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


def store_copy(tmp: Path, finished_store: Path) -> Path:
    db = tmp / "copy.sqlite"
    shutil.copy(finished_store, db)
    return db


def newer(tmp: Path, finished_store: Path) -> Path:
    db = store_copy(tmp, finished_store)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'f9e8d7c6b5a4'")
    conn.close()
    return db


def corrupt(tmp: Path, finished_store: Path) -> Path:
    db = store_copy(tmp, finished_store)
    with open(db, "r+b") as fh:  # the header page stays intact: only a table page is damaged
        fh.seek(4096 * 40 + 8)
        fh.write(b"\xff" * 200)
    return db


def bad_bars(row: str) -> Callable[[Path, Path], Case]:
    def make(tmp: Path, finished_store: Path) -> Case:
        db = store_copy(tmp, finished_store)
        (tmp / "data" / "BAD.csv").write_text(HEADER + GOOD_ROWS.replace(GOOD_ROWS.splitlines()[2], row))
        return Case((*SIM, "--data", "data", "--db", str(db)), "BAD.csv", store=db)
    return make


def with_store(args: tuple[str, ...], make: Callable[[Path, Path], Path], expect: str, *,
               via: str = "env") -> Callable[[Path, Path], Case]:
    def build(tmp: Path, finished_store: Path) -> Case:
        db = make(tmp, finished_store)
        if via == "env":
            return Case(args, expect, {"SWINGTRADER_DATABASE_URL": f"sqlite:///{db}",
                                       "SWINGTRADER_WEB_ENABLED": "false"}, db)
        return Case((*args, via, str(db)), expect, store=db)
    return build


def read_only_data_dir(args: tuple[str, ...]) -> Callable[[Path, Path], Case]:
    def build(tmp: Path, finished_store: Path) -> Case:
        mount = tmp / "ro"
        mount_tmpfs(mount, "4m")
        (mount / "var").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        return Case(args, "Read-only file system", {"SWINGTRADER_DATA_DIR": str(mount / "var"),
                                                    "SWINGTRADER_WEB_ENABLED": "false"})
    return build


def full_disk(size: str, *, filled: bool) -> Callable[[Path, Path], Case]:
    """A disk full from the start (`filled`), or one that fills up in the middle of the run."""
    def build(tmp: Path, finished_store: Path) -> Case:
        mount = tmp / "full"
        mount_tmpfs(mount, size)
        if filled:
            with open(mount / "filler", "wb", buffering=0) as fh:
                try:
                    while True:
                        fh.write(b"\0" * 4096)
                except OSError:
                    pass
        return Case((*SIM, "--data", "data", "--db", str(mount / "sim.sqlite")), "full")
    return build


def setting(name: str, value: str) -> Callable[[Path, Path], Case]:
    def build(tmp: Path, finished_store: Path) -> Case:
        db = store_copy(tmp, finished_store)
        return Case(("status",), name, {name: value, "SWINGTRADER_DATABASE_URL": f"sqlite:///{db}"}, db)
    return build


CASES: dict[str, Callable[[Path, Path], Case]] = {
    "capital-nan": lambda tmp, fs: Case((*SIM, "--data", "data", "--capital", "NaN"), "--capital"),
    "capital-1e999": lambda tmp, fs: Case((*SIM, "--data", "data", "--capital", "1e999"), "--capital"),
    "newer-store-status": with_store(("status",), newer, "newer swingtrader (revision f9e8d7c6b5a4)"),
    "newer-store-simulate": with_store((*SIM, "--data", "data"), newer, "newer swingtrader (revision f9e8d7c6b5a4)",
                                       via="--db"),
    "corrupt-store-status": with_store(("status",), corrupt, "is corrupt"),
    "corrupt-store-dashboard": with_store(("dashboard", "--port", "0"), corrupt, "is corrupt", via="--db"),
    "corrupt-store-run": with_store(("run",), corrupt, "is corrupt"),
    "read-only-data-dir-run": read_only_data_dir(("run",)),
    "read-only-data-dir-run-task": read_only_data_dir(("run-task", "analysis", "--date", "2024-07-01")),
    "disk-full-simulate": full_disk("1m", filled=True),
    "disk-fills-during-simulate": full_disk("450k", filled=False),
    "bars-high-below-low": bad_bars("2024-07-03,102,100,103,101,200000"),
    "bars-close-above-high": bad_bars("2024-07-03,102,103,101,104,200000"),
    "bars-open-below-low": bad_bars("2024-07-03,100,103,101,102,200000"),
    "bars-volume-1e40": bad_bars("2024-07-03,102,103,101,102,1e40"),
    "orders-per-second-1e-300": setting("SWINGTRADER_KOTAK_ORDERS_PER_SECOND", "1e-300"),
    "initial-capital-1e999": setting("SWINGTRADER_INITIAL_CAPITAL", "1e999"),
    "timeout-inf": setting("SWINGTRADER_KOTAK_TIMEOUT_SECONDS", "inf"),
}


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "AAA.csv").write_text(HEADER + GOOD_ROWS)
    yield tmp_path
    for mount in (tmp_path / "ro", tmp_path / "full"):
        if mount.is_mount():
            subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_is_an_error_line_and_exit_2_and_changes_nothing(name, workdir, finished_store):
    case = CASES[name](workdir, finished_store)
    before = digest(case.store) if case.store else None
    env = {"SWINGTRADER_DATA_DIR": str(workdir / "var"), **case.env}
    proc = run(case.args, env, workdir)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert errors and case.expect in "\n".join(errors), proc.stderr
    if case.store is not None:
        assert digest(case.store) == before
