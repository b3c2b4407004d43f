"""Shared fixtures: where the reference data lives, and temporary data directories."""

from __future__ import annotations

import os
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
