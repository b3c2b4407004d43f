"""The day's instrument master: canonical symbol <-> trading symbol and token, lot and tick size.

Downloaded at most once per IST trading date (and cached on disk when a directory is given, so a restart
the same day does not download it again)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

from swingtrader.broker.base import BrokerUnavailable
from swingtrader.broker.kotak_neo.wire.master import Instrument, parse_master_csv
from swingtrader.broker.kotak_neo.wire.outbound import SEGMENT
from swingtrader.clock import Clock, ist_date

_SERIES_RANK = ("-EQ", "-BE", "-BZ", "-SM", "-ST")


def _rank(instrument: Instrument) -> int:
    for i, suffix in enumerate(_SERIES_RANK):
        if instrument.trading_symbol.endswith(suffix):
            return i
    return len(_SERIES_RANK)


class InstrumentMaster:
    """Lookups into today's master. `fetch()` returns the segment CSV text (the client's download)."""

    def __init__(self, fetch: Callable[[], str], clock: Clock, cache_dir: Path | None = None) -> None:
        self._fetch = fetch
        self._clock = clock
        self._cache_dir = cache_dir
        self._day: date | None = None
        self._by_symbol: dict[str, Instrument] = {}
        self._by_token: dict[str, Instrument] = {}
        self._lock = threading.Lock()

    def get(self, symbol: str) -> Instrument | None:
        """The instrument for a canonical symbol (`RELIANCE`, `M&M`, `BAJAJ-AUTO`), or None if not listed."""
        self._ensure()
        return self._by_symbol.get(symbol.strip().upper())

    def by_token(self, token: str) -> Instrument | None:
        self._ensure()
        return self._by_token.get(str(token).strip())

    def _ensure(self) -> None:
        today = ist_date(self._clock.now())
        if self._day == today:
            return
        with self._lock:
            if self._day == today:
                return
            text, cached = self._load_text(today)
            instruments = parse_master_csv(text)
            if not instruments:  # a header-only master has been served (Kotak-neo-api-v2 #57): not "no instruments"
                raise BrokerUnavailable("instrument master has no rows; not cached, fetched again on the next call")
            if not cached:
                self._save(today, text)
            by_symbol: dict[str, Instrument] = {}
            for ins in sorted(instruments, key=_rank, reverse=True):
                by_symbol[ins.symbol] = ins  # the best series (EQ) is written last and wins
            self._by_symbol = by_symbol
            self._by_token = {ins.token: ins for ins in instruments}
            self._day = today

    def _path(self, today: date) -> Path | None:
        return None if self._cache_dir is None else self._cache_dir / f"kotak-master-{SEGMENT}-{today.isoformat()}.csv"

    def _load_text(self, today: date) -> tuple[str, bool]:
        """(the CSV text, whether it came from the cache)."""
        path = self._path(today)
        if path is not None and path.exists():
            return path.read_text(encoding="utf-8"), True
        return self._fetch(), False

    def _save(self, today: date, text: str) -> None:
        path = self._path(today)
        if path is None or self._cache_dir is None:
            return
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        for stale in self._cache_dir.glob(f"kotak-master-{SEGMENT}-*.csv"):
            if stale != path:
                stale.unlink(missing_ok=True)
