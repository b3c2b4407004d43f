"""A universe without survivorship bias: which symbols a liquidity rule admits as of one session, from a
full-exchange bar file (delisted and later-listed symbols included), so symbols enter and leave when they did.

Rule (`UniverseRule`): over the last `window` dates of the panel up to and including the session, each symbol's
traded value is close × volume on the dates it has a bar; a symbol is eligible when it has a bar on the session
itself with a close of at least `min_price`; the universe is the `top` eligible symbols by the median of their
traded values in the window (ties by symbol). The bar file needs a volume column (`RuleNeedsVolume` otherwise).

Not yet wired into the service's analysis (it scans every symbol of its bar source)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np

from swingtrader.market.bars import Panel

__all__ = ["RuleNeedsVolume", "UniverseRule", "members", "parse_rule"]


class RuleNeedsVolume(ValueError):
    """The bar file has no volume, so traded value cannot be computed."""


@dataclass(frozen=True)
class UniverseRule:
    top: int
    min_price: float = 0.0
    window: int = 50

    def describe(self) -> str:
        return (f"top {self.top} by {self.window}-day median traded value, close at least {self.min_price:g}, "
                "as of each session")


_RULE = re.compile(r"^top=(\d+)(?:,min_price=(\d+(?:\.\d+)?))?(?:,window=(\d+))?$")


def parse_rule(text: str) -> UniverseRule:
    """`top=N[,min_price=P][,window=W]` (e.g. `top=100,min_price=20,window=50`); ValueError otherwise."""
    m = _RULE.match(text.replace(" ", "").lower())
    if m is None or int(m.group(1)) < 1 or (m.group(3) is not None and int(m.group(3)) < 1):
        raise ValueError(f"{text!r}: expected top=N[,min_price=P][,window=W] with N and W at least 1")
    return UniverseRule(int(m.group(1)), float(m.group(2) or 0), int(m.group(3) or 50))


def members(panel: Panel, day: date, rule: UniverseRule) -> list[str]:
    """The symbols `rule` admits as of session `day` (see the module contract), best first."""
    if panel.volume is None:
        raise RuleNeedsVolume("the universe rule ranks by traded value: the bar file needs a volume column")
    end = int(np.searchsorted(panel.dates, np.datetime64(day, "D"), side="right"))
    if end == 0 or panel.dates[end - 1] != np.datetime64(day, "D"):
        return []
    rows = slice(max(0, end - rule.window), end)
    value = panel.close[rows] * panel.volume[rows]
    has = ~np.isnan(value)
    median = np.array([np.median(value[has[:, j], j]) if has[:, j].any() else np.nan
                       for j in range(len(panel.symbols))])
    today = panel.close[end - 1]
    ok = ~np.isnan(today) & (np.nan_to_num(today, nan=-1.0) >= rule.min_price) & ~np.isnan(median)
    ranked = sorted((-median[j], panel.symbols[j]) for j in np.flatnonzero(ok))
    return [s for _, s in ranked[:rule.top]]
