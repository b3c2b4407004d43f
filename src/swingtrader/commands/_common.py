"""Helpers shared by command handlers: settings, dates and data sources with clear errors."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from swingtrader.config import Settings
    from swingtrader.market.bars import BarSource
    from swingtrader.market.calendar import TradingCalendar


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: {text!r} is not a date (YYYY-MM-DD)")


def settings_or_exit(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Load settings from `--config` and the environment; exit 2 listing every problem."""
    from swingtrader.config import ConfigError, load_settings

    try:
        return load_settings(getattr(args, "config", None), **overrides)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def calendar_or_exit(settings: Settings) -> TradingCalendar:
    from swingtrader.market.calendar import TradingCalendar

    try:
        return TradingCalendar.load(settings.calendar_override_file, cache_dir=Path(settings.data_dir) / "cache")
    except (OSError, ValueError, RuntimeError) as exc:
        fail(f"calendar: {exc}")


def bars_or_exit(spec: str, settings: Settings, *, parse_in_child: bool = False) -> BarSource:
    """The bar source of `spec` (restricted to `settings.universe` when set), parsed files cached in the data
    directory; a bad file, or a `SWINGTRADER_UNIVERSE_RULE` the data cannot serve (volume), exits 2 naming it."""
    from swingtrader.market.universe import RuleNeedsVolume, rule_of

    source = open_bars_or_exit(spec, Path(settings.data_dir), settings.universe or None, parse_in_child=parse_in_child)
    try:
        rule_of(settings.universe_rule, source)
    except RuleNeedsVolume as exc:
        fail(str(exc))
    return source


def open_bars_or_exit(spec: str, data_dir: Path, symbols: list[str] | None, *,
                      parse_in_child: bool = False) -> BarSource:
    """`bars_or_exit` given the data directory and the symbols to keep (None: all)."""
    from swingtrader.market.bars import DataFileError, open_bar_source

    try:
        return open_bar_source(spec, cache_dir=data_dir / "cache", symbols=symbols, parse_in_child=parse_in_child)
    except DataFileError as exc:
        fail(str(exc))
