"""Give freed heap back to the operating system between tasks (`run` only).

CPython frees objects into glibc's malloc, which keeps the pages of a fragmented heap resident; after the
analysis (numpy temporaries, SQL result rows) that is a few MB per day that the process never needs again.
`release_memory()` asks glibc to return free pages (`malloc_trim(0)`); elsewhere (musl, macOS, Windows) it does
nothing. It changes no Python object and is cheap (well under a millisecond on this heap), so the service calls
it whenever it goes idle until its next slot."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

__all__ = ["release_memory"]


def release_memory() -> None:
    """Return free heap pages to the OS where the C library can (glibc); elsewhere do nothing."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)  # the C library the interpreter is linked to
    except (OSError, TypeError):  # no such handle on this platform (Windows)
        return None
