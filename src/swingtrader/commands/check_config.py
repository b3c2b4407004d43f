"""`swingtrader check-config [--config FILE]`: validate the settings and show them with secrets masked.

Exit 0 and print the effective settings when they are usable; otherwise print every problem to stderr as
`error: ...` and exit 2. In live mode the Kotak credentials are required, as `run` requires them. Settings
that cannot work together are refused too: when the broker is used, its deadline times the attempts of a read
must be shorter than the instance lease's expiry.
"""

from __future__ import annotations

import argparse
import sys

from swingtrader.config import ConfigError, Settings, env_name, load_settings


def main(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, require_live_credentials=True)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    clash = broker_outlasts_lease(settings)
    if clash:
        print(f"error: {clash}", file=sys.stderr)
        return 2
    source = f"{args.config} and the environment" if args.config else "the environment"
    print(f"# settings OK ({settings.mode} mode), read from {source}")
    for name, text in settings.masked().items():
        print(f"{name}={text}")
    if settings.database_url is None:
        print(f"# database (derived from SWINGTRADER_DATA_DIR): {settings.effective_database_url}")
    if settings.log_dir is None:
        print(f"# log directory (derived from SWINGTRADER_DATA_DIR): {settings.effective_log_dir}")
    return 0


def broker_outlasts_lease(settings: Settings) -> str | None:
    """Why one broker read (its deadline times its attempts) can outlast the instance lease, or None."""
    from swingtrader.broker.kotak_neo.ratelimit import Backoff

    if settings.needs_broker is None:
        return None
    attempts = Backoff().attempts
    worst = settings.kotak_timeout_seconds * attempts
    if worst < settings.lease_expiry_seconds:
        return None
    return (f"{env_name('kotak_timeout_seconds')} ({settings.kotak_timeout_seconds:g} s) times the {attempts} "
            f"attempts of a broker read ({worst:g} s) must be shorter than {env_name('lease_expiry_seconds')} "
            f"({settings.lease_expiry_seconds:g} s)")
