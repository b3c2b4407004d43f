"""`swingtrader check-config [--config FILE]`: validate the settings and show them with secrets masked.

Exit 0 and print the effective settings when they are usable; otherwise print every problem to stderr as
`error: ...` and exit 2. In live mode the Kotak credentials are required, as `run` requires them.
"""

from __future__ import annotations

import argparse
import sys

from swingtrader.config import ConfigError, load_settings


def main(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config, require_live_credentials=True)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
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
