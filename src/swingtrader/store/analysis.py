"""`AnalysisLog`: the 16:00 analysis as stored (`analysis_runs` and its ranked `recommendations`), written by
the analysis task and read by the buy tasks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from swingtrader.store import tables as t
from swingtrader.store.db import Store


@dataclass(frozen=True)
class Recommendation:
    """One ranked row of a day's analysis: an entry candidate (`level="entry"`) or an averaging add
    (`"add20"`...). `ema_exit` is the EMA of the exit period at the close (column `ema9`)."""

    as_of: date
    symbol: str
    rank: int
    level: str
    close: Decimal
    rsi: Decimal
    ema_exit: Decimal
    ema_trend: Decimal
    avg_volume_50: Decimal | None
    volume_ratio: Decimal | None
    score: Decimal
    detail: dict[str, Any] | None


@dataclass(frozen=True)
class AnalysisRun:
    as_of: date
    symbols_analysed: int
    rejected: dict[str, list[str]]
    warnings: list[str]
    created_at: datetime


class AnalysisLog:
    """Reads and replaces one day's analysis; a re-run of a day replaces that day's rows in one transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def replace_day(self, run: AnalysisRun, recommendations: list[Recommendation]) -> None:
        with self._store.begin() as conn:
            conn.execute(delete(t.recommendations).where(t.recommendations.c.as_of == run.as_of))
            conn.execute(delete(t.analysis_runs).where(t.analysis_runs.c.as_of == run.as_of))
            conn.execute(
                t.analysis_runs.insert().values(
                    as_of=run.as_of, symbols_analysed=run.symbols_analysed, rejected=run.rejected,
                    warnings=run.warnings, created_at=run.created_at,
                )
            )
            if recommendations:
                conn.execute(t.recommendations.insert(), [_row(r) for r in recommendations])

    def recommendations(self, as_of: date) -> list[Recommendation]:
        """The recommendations stored for exactly `as_of` (never an older day's), best first."""
        rec = t.recommendations
        with self._store.connect() as conn:
            rows = conn.execute(select(rec).where(rec.c.as_of == as_of).order_by(rec.c.rank)).all()
        return [
            Recommendation(
                as_of=r.as_of, symbol=r.symbol, rank=r.rank, level=r.level, close=r.close, rsi=r.rsi10,
                ema_exit=r.ema9, ema_trend=r.ema200, avg_volume_50=r.avg_volume_50, volume_ratio=r.volume_ratio,
                score=r.score, detail=r.detail,
            )
            for r in rows
        ]


def _row(r: Recommendation) -> dict[str, Any]:
    return {
        "as_of": r.as_of, "symbol": r.symbol, "rank": r.rank, "level": r.level, "close": r.close, "rsi10": r.rsi,
        "ema9": r.ema_exit, "ema200": r.ema_trend, "avg_volume_50": r.avg_volume_50,
        "volume_ratio": r.volume_ratio, "score": r.score, "detail": r.detail,
    }
