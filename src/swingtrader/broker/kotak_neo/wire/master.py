"""The instrument master: the segment CSV files Kotak publishes (trading symbol, token, lot and tick size).

Part of the wire package: the only place that knows Kotak's field names (see `wire/__init__.py`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from swingtrader.broker.base import MalformedResponse
from swingtrader.broker.kotak_neo.wire.inbound import _data, _dec, _int, canonical_symbol
from swingtrader.broker.kotak_neo.wire.outbound import SEGMENT


@dataclass(frozen=True)
class Instrument:
    """One row of the instrument master: canonical symbol, broker trading symbol, token, lot and tick size."""

    symbol: str
    trading_symbol: str
    token: str
    lot_size: int
    tick_size: Decimal
    segment: str = SEGMENT



def parse_master_paths(body: Any) -> list[str]:
    data = _data(body, "instrument master")
    paths = data.get("filesPaths") if isinstance(data, dict) else None
    if not isinstance(paths, list):
        raise MalformedResponse("instrument master: reply has no filesPaths")
    return [str(p) for p in paths]


def parse_master_csv(text: str, segment: str = SEGMENT) -> list[Instrument]:
    """Equity rows of one segment's master CSV. Header names and values may carry stray spaces. `dTickSize` is in
    paise (the SDK's nse_cm.csv: RELIANCE-EQ 5 = Rs 0.05; OpenAlgo divides by 100)."""
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [name.strip().rstrip(";") for name in reader.fieldnames or []]
    out = []
    for raw in reader:
        row = {k: (v or "").strip() for k, v in raw.items() if k}
        if row.get("pExchSeg", segment).lower() != segment or not row.get("pTrdSymbol") or not row.get("pSymbol"):
            continue
        what = f"instrument {row['pTrdSymbol']!r}"
        out.append(
            Instrument(
                symbol=(row.get("pSymbolName") or canonical_symbol(row["pTrdSymbol"])).upper(),
                trading_symbol=row["pTrdSymbol"].upper(),
                token=row["pSymbol"],
                lot_size=_int(row.get("lLotSize") or 1, what),
                tick_size=_dec(row.get("dTickSize") or "5", what) / 100,  # paise: RELIANCE-EQ shows 5
                segment=segment,
            )
        )
    return out


def master_url_for(paths: Iterable[str], segment: str = SEGMENT) -> str:
    for path in paths:
        if f"{segment}".lower() in path.rsplit("/", 1)[-1].lower():
            return path
    raise MalformedResponse(f"instrument master: no file for segment {segment}")


