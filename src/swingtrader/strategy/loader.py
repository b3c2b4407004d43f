"""Which strategy the service runs: `SWINGTRADER_STRATEGY` names it.

The name is one of
- a built-in: `dip_buy` (the default, STRATEGY.md) or `atr_breakout` (strategy/breakout.py);
- an entry point of the group `swingtrader.strategies` (a package that registers its class there);
- `package.module:Class`, importable from the service's Python path.

The class is built as `Class.from_settings(settings)` when it has that classmethod (to read settings of its
own), else `Class(params)` with the common `StrategyParams`. A bad name is a `ValueError` saying what is wrong
(the settings turn it into `error: SWINGTRADER_STRATEGY: ...`, exit 2).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from swingtrader.strategy.params import params_from_settings

if TYPE_CHECKING:
    from swingtrader.strategy.base import Strategy
    from swingtrader.strategy.params import StrategySettings

__all__ = ["BUILT_IN", "ENTRY_POINT_GROUP", "build_strategy", "strategy_class"]

ENTRY_POINT_GROUP = "swingtrader.strategies"
BUILT_IN = {
    "dip_buy": "swingtrader.strategy.dip_buy:DipBuyStrategy",
    "atr_breakout": "swingtrader.strategy.breakout:AtrBreakout",
}
_METHODS = ("analyse", "indicator_snapshot", "averaging", "target", "exit_reason", "quantity")


def strategy_class(name: str) -> type:
    """The class `name` stands for (see the module docstring); `ValueError` naming the problem."""
    if name in BUILT_IN:
        return _import(BUILT_IN[name])
    if ":" in name:
        return _import(name)
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        known = sorted({*BUILT_IN, *(e.name for e in entry_points(group=ENTRY_POINT_GROUP))})
        raise ValueError(f"unknown strategy {name!r}: use one of {', '.join(known)}, an entry point of "
                         f"{ENTRY_POINT_GROUP} or package.module:Class")
    entry = next(iter(found))
    try:
        loaded = entry.load()
    except Exception as exc:  # a third party's module: any error is the setting's problem, reported as such
        raise ValueError(f"entry point {name!r} ({entry.value}) failed to load: {exc!r}") from None
    return _checked(loaded, entry.value)


def build_strategy(settings: StrategySettings) -> Strategy:
    """The strategy `settings.strategy` names, built for `settings`."""
    cls = strategy_class(settings.strategy)
    from_settings = getattr(cls, "from_settings", None)
    strategy: Strategy = from_settings(settings) if callable(from_settings) else cls(params_from_settings(settings))
    return strategy


def _import(spec: str) -> type:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{spec!r} is not package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module: ImportError or whatever its import raised
        raise ValueError(f"cannot import module {module_name!r}: {exc!r}") from None
    if not hasattr(module, attr):
        raise ValueError(f"module {module_name!r} has no {attr!r}")
    return _checked(getattr(module, attr), spec)


def _checked(obj: object, spec: str) -> type:
    if not isinstance(obj, type):
        raise ValueError(f"{spec!r} is not a class")
    missing = [m for m in _METHODS if not callable(getattr(obj, m, None))]
    if missing:
        raise ValueError(f"{spec!r} is not a Strategy: no {', '.join(missing)} (see swingtrader.strategy.base)")
    return obj
