"""`swingtrader analyze --as-of D [--data PATH] [--json]`: the 16:00 analysis on its own, holding nothing.

Settings (`--config`, environment) give the strategy's parameters, the universe rule and the default data;
parsed data files are cached in the data directory. Prints the report as JSON (`--json`) or as a table. Exit 0; 2 with
`error: ...` on stderr for a bad date, bad settings or bad market data.

Without `--config` and with no `SWINGTRADER_` setting in the environment but `data_dir` and `data`, the
settings are their defaults and are not loaded: pydantic's import and validation are a third of a warm run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from swingtrader.commands._common import bars_or_exit, open_bars_or_exit, settings_or_exit

_PREFIX = "SWINGTRADER_"
SETTING_NAMES = frozenset((  # `Settings`' fields; a test keeps the two the same
    "atr_multiple", "atr_period", "breakout_window", "brokerage_per_order", "buy_limit_premium",
    "calendar_override_file", "capital_per_trade", "data", "data_dir", "data_wait_minutes", "database_url", "dp_charge",
    "ema_exit", "ema_trend", "exchange_txn_rate", "gst_rate", "holdings_mismatch", "initial_capital", "kill_switch",
    "kotak_consumer_key", "kotak_login_url", "kotak_mobile_number", "kotak_mpin", "kotak_orders_per_second",
    "kotak_reads_per_second", "kotak_timeout_seconds", "kotak_totp_secret", "kotak_ucc", "lease_expiry_seconds",
    "log_dir", "log_level", "log_retention_days", "max_deployed_capital", "max_holding_days", "max_order_value",
    "max_positions", "max_target_loss_pct", "min_avg_volume", "min_history", "min_volume_ratio", "mode", "notify_urls",
    "paper_max_price_age_days", "paper_max_quote_age_seconds", "paper_price_band_pct", "paper_prices", "read_only",
    "rsi_add_levels", "rsi_entry", "rsi_exit", "rsi_period", "sebi_rate", "sim_fast_forward", "special_session_tasks",
    "stamp_duty_rate", "stop_loss_pct", "strategy", "stt_rate", "trailing_stop_pct", "universe", "universe_rule",
    "use_market_amo",
    "web_allowed_hosts", "web_enabled", "web_host", "web_password", "web_port",
))


def main(args: argparse.Namespace) -> int:
    try:
        as_of = date.fromisoformat(args.as_of)
    except ValueError:
        print(f"error: --as-of: invalid date {args.as_of!r} (expected YYYY-MM-DD)", file=sys.stderr)
        return 2
    from swingtrader.market.universe import UniverseRule, rule_of, screen
    from swingtrader.strategy.base import Strategy
    from swingtrader.strategy.dip_buy import DipBuyStrategy
    from swingtrader.strategy.loader import build_strategy

    plain = None if args.config else default_settings(os.environ)
    if plain is not None:
        data_dir, data = plain
        source = open_bars_or_exit(args.data or data, data_dir, None)
        strategy: Strategy = DipBuyStrategy()
        rule: UniverseRule | None = None
    else:
        settings = settings_or_exit(args)
        source = bars_or_exit(args.data or settings.data, settings)
        strategy = build_strategy(settings)  # SWINGTRADER_STRATEGY
        rule = rule_of(settings.universe_rule, source)  # SWINGTRADER_UNIVERSE_RULE, as in the service's analysis
    report = screen(strategy.analyse(source, as_of), source, rule)
    if args.json:
        print(json.dumps(report.to_json_dict(), indent=2))
    else:
        print(_table(report.to_json_dict()))
    return 0


def default_settings(environ: Mapping[str, str]) -> tuple[Path, str] | None:
    """(data_dir, data) when every `SWINGTRADER_` variable in `environ` that names a setting is a non-empty
    `SWINGTRADER_DATA_DIR` or `SWINGTRADER_DATA` (so all others are defaults); else None: load the settings."""
    values = {"data_dir": "var", "data": "bundled"}
    for key, value in environ.items():
        name = key.upper().removeprefix(_PREFIX).lower()
        if not key.upper().startswith(_PREFIX) or name not in SETTING_NAMES:
            continue
        if name not in values or not value:
            return None
        values[name] = value
    return Path(values["data_dir"]), values["data"]


def _table(report: dict[str, Any]) -> str:
    candidates = report["candidates"]
    lines = [f"as of {report['as_of']}: {report['symbols_analysed']} symbols analysed, "
             f"{len(candidates)} candidate{'' if len(candidates) == 1 else 's'}"]
    if candidates:
        lines.append(f"{'symbol':<14}{'close':>11}{'rsi10':>8}{'ema9':>11}{'ema200':>11}"
                     f"{'avg_vol_50':>13}{'vol_ratio':>10}{'score':>8}  backtest")
        for c in candidates:
            d = c["score_detail"]
            win = "-" if d["backtest_win_rate"] is None else f"{100 * d['backtest_win_rate']:.0f}%"
            lines.append(
                f"{c['symbol']:<14}{c['close']:>11.2f}{c['rsi10']:>8.2f}{c['ema9']:>11.2f}{c['ema200']:>11.2f}"
                f"{_opt(c['avg_volume_50'], '.0f'):>13}{_opt(c['volume_ratio'], '.2f'):>10}{c['score']:>8.3f}  "
                f"{d['backtest_trades']} trades, {win} won, {d['backtest_mean_return_pct']:+.2f}%/trade"
            )
    if report["rejected"]:
        lines.append("rejected: " + ", ".join(f"{k} {len(v)}" for k, v in report["rejected"].items()))
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


def _opt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
