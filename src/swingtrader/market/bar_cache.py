"""An on-disk cache of parsed bar files as numpy `.npz`, so that a process can load market data without
pandas (the long-running service must stay small; see ARCHITECTURE.md "Budgets").

The cache key is the source's absolute path with the size and modification time of the file (or of every
`*.csv` in a directory): a changed file is parsed again. A cache miss can be filled in a short-lived child
process (`python -m swingtrader.market.bar_cache SPEC OUT`), which keeps pandas out of the caller entirely.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from swingtrader.market.bars import BarSource, DataFileError, Panel

_FORMAT = "v1"


def cache_file(path: Path, cache_dir: Path) -> Path:
    """Where the parsed form of `path` is kept in `cache_dir`."""
    path = path.resolve()
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    h = hashlib.sha1(f"{_FORMAT}|{path}".encode())
    for f in files:
        st = f.stat()
        h.update(f"|{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return cache_dir / f"bars-{h.hexdigest()[:20]}.npz"


def load(npz: Path, name: str) -> BarSource:
    with np.load(npz, allow_pickle=False) as data:
        volume = data["volume"] if data["has_volume"] else None
        panel = Panel(
            dates=data["dates"], symbols=tuple(data["symbols"].tolist()), open=data["open"], high=data["high"],
            low=data["low"], close=data["close"], volume=volume,
        )
        warnings = data["warnings"].tolist()
    return BarSource(panel, name=name, warnings=warnings)


def save(source: BarSource, npz: Path) -> None:
    """Write atomically (a reader never sees half a file)."""
    p = source.panel()
    npz.parent.mkdir(parents=True, exist_ok=True)
    tmp = npz.with_name(f".{npz.name}.{os.getpid()}.tmp.npz")
    np.savez(
        tmp, dates=p.dates, symbols=np.array(p.symbols, dtype=str), open=p.open, high=p.high, low=p.low,
        close=p.close, volume=p.volume if p.volume is not None else np.zeros(0),
        has_volume=np.array(p.volume is not None), warnings=np.array(source.warnings, dtype=str),
    )
    os.replace(tmp, npz)


def cached(path: Path, cache_dir: Path, parse: Callable[[], BarSource], *, in_child: bool) -> BarSource:
    """The source at `path` from the cache, parsing it (here, or in a child process) on a miss."""
    npz = cache_file(path, cache_dir)
    if not npz.exists():
        if in_child:
            proc = subprocess.run([sys.executable, "-m", "swingtrader.market.bar_cache", str(path), str(npz)],
                                  capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                lines = proc.stderr.strip().splitlines()
                raise DataFileError(lines[-1] if lines else f"{path}: could not be read")
        else:
            save(parse(), npz)
    return load(npz, name=str(path))


def _main(argv: list[str]) -> int:
    from swingtrader.market.bars import open_bar_source

    spec, out = argv
    try:
        save(open_bar_source(spec), Path(out))
    except DataFileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
