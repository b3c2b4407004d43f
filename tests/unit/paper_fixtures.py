"""A tiny real market for paper-broker tests: CSV bars on disk, the real calendar, a store file."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

from swingtrader.broker.paper import PaperBroker
from swingtrader.clock import IST, SimClock
from swingtrader.market.bars import open_bar_source
from swingtrader.market.calendar import TradingCalendar
from swingtrader.service import paper_path
from swingtrader.store import Store

# AAA: 2024-07-01 is an up day (open->low->high->close), 2024-07-02 a down day (open->high->low->close).
BARS = """date,open,high,low,close,volume
2024-06-24,98,99,97,98,500000
2024-06-25,98,99,97,98.5,500000
2024-06-26,98.5,100,98,99,500000
2024-06-27,99,100,98,99.5,500000
2024-06-28,99.5,101,99,100,500000
2024-07-01,101,104,99,103,500000
2024-07-02,103,106,100,101,500000
2024-07-03,100,102,95,96,500000
2024-07-04,96,97,94,95,500000
"""


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=IST)


def make_market(tmp: Path, calendar: TradingCalendar, start: datetime, cash: str = "100000"):
    data = tmp / "bars"
    data.mkdir(exist_ok=True)
    (data / "AAA.csv").write_text(BARS)
    bars = open_bar_source(str(data))
    clock = SimClock(start)
    store = Store.open(f"sqlite:///{tmp / 'paper.sqlite'}")
    broker = PaperBroker(store, clock, paper_path(bars, calendar), calendar, initial_cash=Decimal(cash))
    return broker, clock, store, bars
