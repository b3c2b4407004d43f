"""A universe without survivorship bias: which symbols a rule admits as of one session, from a full-exchange bar
file (delisted and later-listed symbols included), so symbols enter and leave when they did. Set by
`SWINGTRADER_UNIVERSE_RULE`; the analysis task (`tasks/analysis.py`) and `swingtrader analyze` screen the
strategy's report through `screen`, so `run`, `simulate` and `sweep` share it.

Two rules, each reading only bars up to and including the session:
- `TradedValueRule` (`top=N[,min_price=P][,window=W]`): over the last W dates of the panel, each symbol's traded
  value is close × volume on the dates it has a bar; a symbol is eligible when it has a bar on the session with a
  close of at least P; the universe is the N eligible symbols with the highest median traded value (ties by
  symbol). Needs a volume column (`RuleNeedsVolume` otherwise).
- `ListedRule` (`listed[,min_price=P][,min_history=D]`), for files without volume: every symbol with a bar on the
  session, a close of at least P and at least D bars up to and including it. No ranking: without volume there
  is no liquidity to rank by.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from swingtrader.market.bars import Panel

if TYPE_CHECKING:
    from swingtrader.market.bars import BarSource
    from swingtrader.strategy.dip_buy import AnalysisReport

__all__ = [
    "NOT_IN_UNIVERSE", "ListedRule", "RuleNeedsVolume", "TradedValueRule", "UniverseRule", "admitted_counts",
    "describe_universe", "members", "parse_rule", "rule_of",
    "screen",
]

NOT_IN_UNIVERSE = "not_in_universe"
"""The rejection reason of a symbol the rule did not admit on the day (listed in `AnalysisReport.rejected`)."""


class RuleNeedsVolume(ValueError):
    """The bar file has no volume, so traded value cannot be computed."""


@dataclass(frozen=True)
class TradedValueRule:
    top: int
    min_price: float = 0.0
    window: int = 50
    needs_volume: bool = True

    def describe(self) -> str:
        return (f"top {self.top} by {self.window}-day median traded value, close at least {self.min_price:g}, "
                "as of each session")

    def admitted(self, panel: Panel, end: int) -> list[int]:
        if panel.volume is None:
            raise RuleNeedsVolume("the universe rule ranks by traded value: the bar file needs a volume column")
        rows = slice(max(0, end - self.window), end)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no bar in the window
            median = np.nanmedian(panel.close[rows] * panel.volume[rows], axis=0)
        today = panel.close[end - 1]
        ok = ~np.isnan(today) & (np.nan_to_num(today, nan=-1.0) >= self.min_price) & ~np.isnan(median)
        ranked = sorted((-median[j], panel.symbols[j], j) for j in np.flatnonzero(ok).tolist())
        return [j for _, _, j in ranked[:self.top]]


@dataclass(frozen=True)
class ListedRule:
    min_price: float = 0.0
    min_history: int = 1
    needs_volume: bool = False

    def describe(self) -> str:
        return (f"every symbol listed on the session (a bar that day), close at least {self.min_price:g}, "
                f"at least {self.min_history} sessions of history")

    def admitted(self, panel: Panel, end: int) -> list[int]:
        today = panel.close[end - 1]
        history = np.count_nonzero(~np.isnan(panel.close[:end]), axis=0)
        ok = ~np.isnan(today) & (np.nan_to_num(today, nan=-1.0) >= self.min_price) & (history >= self.min_history)
        return [int(j) for j in np.flatnonzero(ok)]


UniverseRule = TradedValueRule | ListedRule
"""A rule; `admitted(panel, end)` gives the columns admitted as of row `end - 1` (a session), best first."""


_NUMBER = r"(\d+(?:\.\d+)?)"
_TOP = re.compile(rf"^top=(\d+)(?:,min_price={_NUMBER})?(?:,window=(\d+))?$")
_LISTED = re.compile(rf"^listed(?:,min_price={_NUMBER})?(?:,min_history=(\d+))?$")
_FORMS = "top=N[,min_price=P][,window=W] (needs volume) or listed[,min_price=P][,min_history=D]"


def parse_rule(text: str) -> UniverseRule:
    """`top=N[,min_price=P][,window=W]` or `listed[,min_price=P][,min_history=D]` (N, W, D at least 1);
    ValueError otherwise."""
    spec = text.replace(" ", "").lower()
    if (m := _TOP.match(spec)) is not None and int(m.group(1)) >= 1 and int(m.group(3) or 50) >= 1:
        return TradedValueRule(int(m.group(1)), float(m.group(2) or 0), int(m.group(3) or 50))
    if (m := _LISTED.match(spec)) is not None and int(m.group(2) or 1) >= 1:
        return ListedRule(float(m.group(1) or 0), int(m.group(2) or 1))
    raise ValueError(f"{text!r}: expected {_FORMS}, with N, W and D at least 1")


def rule_of(rule_text: str, source: BarSource) -> UniverseRule | None:
    """The rule `rule_text` (`SWINGTRADER_UNIVERSE_RULE`) sets (None when empty), checked against `source` at start:
    `RuleNeedsVolume` naming the setting and the data when it ranks by traded value and `source` has no volume."""
    if not rule_text:
        return None
    rule = parse_rule(rule_text)
    if rule.needs_volume and source.panel().volume is None:
        raise RuleNeedsVolume(f"SWINGTRADER_UNIVERSE_RULE: {rule.describe()!r} needs volume, and the data "
                              f"{source.name} has no volume column; use listed[,min_price=P][,min_history=D]")
    return rule


def _end(panel: Panel, day: date) -> int | None:
    end = int(np.searchsorted(panel.dates, np.datetime64(day, "D"), side="right"))
    return end if end and panel.dates[end - 1] == np.datetime64(day, "D") else None


def members(panel: Panel, day: date, rule: UniverseRule) -> list[str]:
    """The symbols `rule` admits as of session `day` (none when the panel has no date `day`), best first."""
    end = _end(panel, day)
    return [] if end is None else [panel.symbols[j] for j in rule.admitted(panel, end)]


def admitted_counts(panel: Panel, days: list[date], rule: UniverseRule) -> list[int]:
    """How many symbols `rule` admitted on each of `days` that the panel has (days without bars are left out)."""
    ends = [e for d in days if (e := _end(panel, d)) is not None]
    return [len(rule.admitted(panel, e)) for e in ends]


def screen(report: AnalysisReport, source: BarSource, rule: UniverseRule | None) -> AnalysisReport:
    """`report` limited to the symbols `rule` admits on its day: the others leave the candidates and every
    other reason and are listed under `not_in_universe`; `symbols_analysed` counts the admitted. No rule: `report`."""
    if rule is None:
        return report
    admitted = set(members(source.panel(), report.as_of, rule))
    out = sorted(set(source.symbols()) - admitted)
    rejected = {k: kept for k, v in report.rejected.items() if (kept := [s for s in v if s in admitted])}
    if out:
        rejected[NOT_IN_UNIVERSE] = out
    return replace(report, symbols_analysed=len(admitted), rejected=rejected,
                   candidates=[c for c in report.candidates if c.symbol in admitted])


def describe_universe(rule_text: str, universe: list[str], source: BarSource, sessions: list[date]) -> str:
    """Which symbols a run over `sessions` could trade, in words: the rule `rule_text` and how many symbols it
    admitted (fewest, median, most over the sessions), or every symbol of the data when there is no rule;
    `universe` is SWINGTRADER_UNIVERSE's list (empty: the whole data)."""
    listed = f" of the {len(universe)} listed in SWINGTRADER_UNIVERSE" if universe else ""
    rule = rule_of(rule_text, source)
    if rule is None:
        return (f"all {len(source.symbols())} symbols{listed} of the data ({source.name}) on every session "
                "(no SWINGTRADER_UNIVERSE_RULE)")
    counts = admitted_counts(source.panel(), sessions, rule) or [0]
    return (f"SWINGTRADER_UNIVERSE_RULE {rule_text}: {rule.describe()}; admitted "
            f"{min(counts)} to {max(counts)} symbols a session (median {float(np.median(counts)):g}) of "
            f"{len(source.symbols())}{listed} in the data ({source.name})")
