"""What a sweep or a search maximises (`--objective`), valued on a results row's figures
(`swingtrader.sweep.Figures`, fractions):
- `return` (the default): total return; `sharpe`; `calmar`;
- `return:CAP` (e.g. `return:0.15`): total return, but a point whose max drawdown exceeds CAP has none.
A point without a value (an undefined ratio, a breached cap) ranks last.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["OBJECTIVES", "ObjectiveError", "objective_value", "parse_objective"]

OBJECTIVES = ("return", "sharpe", "calmar", "return:CAP")


class ObjectiveError(ValueError):
    """An `--objective` that is not one of `OBJECTIVES`."""


def parse_objective(text: str) -> str:
    """`text` checked and normalised; `ObjectiveError` names the choices."""
    name = text.strip().lower()
    if name in ("return", "sharpe", "calmar"):
        return name
    if name.startswith("return:"):
        try:
            cap = float(name.split(":", 1)[1])
        except ValueError:
            cap = -1.0
        if 0 < cap < 1:
            return f"return:{cap:g}"
    raise ObjectiveError(f"--objective {text!r}: expected one of return, sharpe, calmar or return:CAP with CAP a "
                         "drawdown fraction between 0 and 1 (e.g. return:0.15)")


def objective_value(objective: str, figures: Mapping[str, Any]) -> float | None:
    """The value of `objective` (see `parse_objective`) on a row's figures; None when undefined."""
    if objective == "return":
        return float(figures["total_return"])
    if objective in ("sharpe", "calmar"):
        value = figures[objective]
        return None if value is None else float(value)
    cap = float(objective.split(":", 1)[1])
    return float(figures["total_return"]) if figures["max_drawdown"] <= cap else None
