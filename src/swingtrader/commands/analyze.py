"""`swingtrader analyze --as-of D [--data PATH] [--json]`: the 16:00 analysis on its own, holding nothing.

Settings (`--config`, environment) give the strategy's parameters and the default data; parsed data files are
cached in the data directory. Prints the report as JSON (`--json`) or as a table. Exit 0; 2 with
`error: ...` on stderr for a bad date, bad settings or bad market data.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from swingtrader.commands._common import bars_or_exit, settings_or_exit


def main(args: argparse.Namespace) -> int:
    try:
        as_of = date.fromisoformat(args.as_of)
    except ValueError:
        print(f"error: --as-of: invalid date {args.as_of!r} (expected YYYY-MM-DD)", file=sys.stderr)
        return 2
    settings = settings_or_exit(args)
    source = bars_or_exit(args.data or settings.data, settings)
    from swingtrader.strategy.dip_buy import DipBuyStrategy
    from swingtrader.strategy.params import params_from_settings

    report = DipBuyStrategy(params_from_settings(settings)).analyse(source, as_of)
    if args.json:
        print(json.dumps(report.to_json_dict(), indent=2))
    else:
        print(_table(report.to_json_dict()))
    return 0


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
