"""Shared fixtures: where the reference data lives, and temporary data directories."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _shared_data_dir() -> Path | None:
    env = os.environ.get("SWINGTRADER_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "nse-calendar-2024-2026.csv").exists():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared reference data directory (`../shared/data`); tests that need it skip without it."""
    found = _shared_data_dir()
    if found is None:
        pytest.skip("shared reference data not found (set SWINGTRADER_SHARED_DATA)")
    return found


@pytest.fixture(scope="session")
def nifty_dir(shared_data: Path) -> Path:
    return shared_data / "nifty50-daily"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored (handlers, redaction filters, level) after a test that sets logging up."""
    from swingtrader.logs import RedactionFilter

    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        for f in [f for f in handler.filters if isinstance(f, RedactionFilter)]:
            handler.removeFilter(f)
        if handler not in saved:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
