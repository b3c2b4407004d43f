"""An on-disk cache of parsed bar files as a directory of `.npy` arrays, memory-mapped on load (no copy, no
decompression: pages are read when touched and shared between processes), so that a process can load market
data without pandas (the long-running service must stay small; see ARCHITECTURE.md "Budgets").

The cache key is the source's absolute path with the size and modification time of the file (or of every
`*.csv` in a directory): a changed file is parsed again. An entry is named `bars-<source>-<content>`, so that
`prune` can keep the newest entries of one source and remove the rest (and entries of older layouts). A cache miss
can be filled in a short-lived child process (`python -m swingtrader.market.bars SPEC OUT`: `PARSE_MODULE`), which
keeps pandas out of the caller entirely. The cache imports the bar types (`panel`), never the loaders (`bars`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from swingtrader.market.panel import BarSource, DataFileError, Panel

PARSE_MODULE = "swingtrader.market.bars"
"""The module a child process runs (`python -m PARSE_MODULE SPEC OUT`) to parse SPEC into the entry OUT."""

_FORMAT = "v2"
_ARRAYS = ("dates", "open", "high", "low", "close", "volume")


def _source_prefix(path: Path) -> str:
    return f"bars-{hashlib.sha1(f'{_FORMAT}|{path.resolve()}'.encode()).hexdigest()[:12]}-"


def cache_file(path: Path, cache_dir: Path) -> Path:
    """Where the parsed form of `path` is kept in `cache_dir` (`OSError` if a file vanishes while looked at)."""
    path = path.resolve()
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    h = hashlib.sha1(f"{_FORMAT}|{path}".encode())
    for f in files:
        st = f.stat()
        h.update(f"|{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir / f"{_source_prefix(path)}{h.hexdigest()[:20]}"


def prune(path: Path, cache_dir: Path, current: Path, keep: int = 2) -> list[Path]:
    """Remove the cache entries of source `path` but `current` and the newest `keep - 1` others, and every entry
    of an older layout (a `bars-<hash>` file or directory: its source is unknown); the removed paths.
    Entries of other sources are left alone; a removed entry still mapped by a process stays readable to it."""
    if not cache_dir.is_dir():
        return []
    prefix, removed = _source_prefix(path), []
    mine: list[Path] = []
    for entry in cache_dir.iterdir():
        name = entry.name
        if not name.startswith("bars-") or entry == current:
            continue
        if name.startswith(prefix):
            mine.append(entry)
        elif name.count("-") == 1:  # bars-<hash>[.npz]: the layout before per-source names
            removed.append(entry)
    mine.sort(key=_mtime, reverse=True)
    removed += mine[max(keep - 1, 0):]
    for entry in removed:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return removed


def remove(entry: Path) -> None:
    """Remove one cache entry (absent is fine)."""
    shutil.rmtree(entry, ignore_errors=True)


def _mtime(entry: Path) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return 0.0


def load(entry: Path, name: str) -> BarSource:
    """The cached source, its arrays memory-mapped read-only."""
    meta = json.loads((entry / "meta.json").read_text())
    arrays = {k: np.asarray(np.load(entry / f"{k}.npy", mmap_mode="r"))  # a plain ndarray view of the map
              for k in _ARRAYS if (entry / f"{k}.npy").exists()}
    panel = Panel(dates=arrays["dates"], symbols=tuple(meta["symbols"]), open=arrays["open"], high=arrays["high"],
                  low=arrays["low"], close=arrays["close"], volume=arrays.get("volume"))
    return BarSource(panel, name=name, warnings=meta["warnings"])


def save(source: BarSource, entry: Path) -> None:
    """Write atomically: the arrays go to a temporary directory renamed into place (a reader never sees half an
    entry; when two processes race, the first rename wins and the other's copy is dropped)."""
    p = source.panel()
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
    tmp.mkdir(exist_ok=True)
    for k in _ARRAYS:
        a = getattr(p, k)
        if a is not None:
            np.save(tmp / f"{k}.npy", np.ascontiguousarray(a), allow_pickle=False)
    (tmp / "meta.json").write_text(json.dumps({"symbols": list(p.symbols), "warnings": source.warnings}))
    try:
        os.rename(tmp, entry)
    except OSError:
        if not (entry / "meta.json").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def cached(path: Path, cache_dir: Path, parse: Callable[[], BarSource], *, in_child: bool) -> BarSource:
    """The source at `path` from the cache, parsing it (here, or in a child process) on a miss."""
    entry = cache_file(path, cache_dir)
    if not (entry / "meta.json").exists():
        if in_child:
            proc = subprocess.run([sys.executable, "-m", PARSE_MODULE, str(path), str(entry)],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines()
                raise DataFileError(lines[-1] if lines else f"{path}: could not be read")
        else:
            save(parse(), entry)
    return load(entry, name=str(path))
