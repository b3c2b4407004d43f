"""The whole-ledger check every end-to-end test makes: every row of every daily task succeeded, unless the test
names it as an expected outcome. A test that looks at a subset of the ledger can hide a failure of the service's
core job (issue 14: `eod_cleanup` failed on 4 of 5 days while the five-day test passed)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path

Expected = Mapping[tuple[str, date], str]
"""(task, trading day) -> the status the test expects instead of `succeeded`."""


def ledger_rows(db: Path) -> list[tuple[str, date, str, str, str | None]]:
    """(task, trading day, slot, status, error) of every ledger row, in order (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        rows = conn.execute("select task, trading_date, slot, status, error from task_runs "
                            "order by scheduled_at, task, slot").fetchall()
    return [(task, date.fromisoformat(day), slot, status, error) for task, day, slot, status, error in rows]


def assert_whole_ledger(db: Path, expected: Expected | None = None) -> Counter[str]:
    """Fail, listing every offending row, unless each row succeeded or has the status `expected` names for its
    (task, day); an expected row that is absent fails too. The rows counted by status."""
    expected = dict(expected or {})
    rows = ledger_rows(db)
    wrong = [f"{day} {task} {slot}: {status} ({error})" for task, day, slot, status, error in rows
             if status != expected.get((task, day), "succeeded")]
    seen = {(task, day) for task, day, _, _, _ in rows}
    absent = [f"{day} {task}: expected {status}, no row" for (task, day), status in expected.items()
              if (task, day) not in seen]
    assert rows, f"{db}: the ledger is empty"
    assert not wrong and not absent, "ledger rows not as expected:\n" + "\n".join(wrong + absent)
    return Counter(status for _, _, _, status, _ in rows)
