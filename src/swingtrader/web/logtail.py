"""The Logs page: the tail of the service's log file (already redacted by the logging filter)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_BLOCK = 64 * 1024


def newest_log(directory: Path) -> Path | None:
    """The most recently written `*.log*` file in `directory` (rotated files included, archives not)."""
    try:
        files = [p for p in directory.glob("*.log*") if p.is_file() and not p.name.endswith((".gz", ".zip"))]
    except OSError:
        return None
    return max(files, key=lambda p: p.stat().st_mtime, default=None)


def log_tail(path: Path | None, lines: int = 200) -> dict[str, Any]:
    """The last `lines` lines of `path`, read backwards in blocks (cheap on a large file)."""
    if path is None:
        return {"file": None, "lines": [], "note": "no log file configured"}
    try:
        with open(path, "rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            pos, data = end, b""
            while pos > 0 and data.count(b"\n") <= lines:
                step = min(_BLOCK, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError as exc:
        return {"file": str(path), "lines": [], "note": f"cannot read the log file: {exc.strerror}"}
    text = data.decode("utf-8", errors="replace").splitlines()[-lines:]
    return {"file": str(path), "lines": text, "note": None}
