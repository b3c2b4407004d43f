"""The whole-ledger check every end-to-end test makes: every row of every daily task succeeded, unless the test
names it as an expected outcome. A test that looks at a subset of the ledger can hide a failure of the service's
core job (issue 14: `eod_cleanup` failed on 4 of 5 days while the five-day test passed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path

Expected = Mapping[tuple[str, date], str]
"""(task, trading day) -> the status the test expects instead of `succeeded`."""


def ledger_rows(db: Path | str) -> list[tuple[str, date, str, str, str | None]]:
    """(task, trading day, slot, status, error) of every ledger row of the SQLite file or database URL `db`."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db if isinstance(db, str) else f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("select task, trading_date, slot, status, error from task_runs "
                                     "order by scheduled_at, task, slot")).all()
    finally:
        engine.dispose()
    return [(task, day if isinstance(day, date) else date.fromisoformat(day), slot, status, error)
            for task, day, slot, status, error in rows]


def assert_whole_ledger(db: Path | str, expected: Expected | None = None, *, days: Collection[date] | None = None
                        ) -> Counter[str]:
    """Fail, listing every offending row, unless each row succeeded or has the status `expected` names for its
    (task, day); an expected row that is absent fails too, and so does an empty ledger. `days` limits the check
    to those trading days (a test whose service also runs on the wall clock). The rows counted by status."""
    expected = dict(expected or {})
    rows = [r for r in ledger_rows(db) if days is None or r[1] in days]
    wrong = [f"{day} {task} {slot}: {status} ({error})" for task, day, slot, status, error in rows
             if status != expected.get((task, day), "succeeded")]
    seen = {(task, day) for task, day, _, _, _ in rows}
    absent = [f"{day} {task}: expected {status}, no row" for (task, day), status in expected.items()
              if (task, day) not in seen]
    assert rows, f"{db}: the ledger is empty"
    assert not wrong and not absent, "ledger rows not as expected:\n" + "\n".join(wrong + absent)
    return Counter(status for _, _, _, status, _ in rows)
