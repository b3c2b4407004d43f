"""`swingtrader service install|uninstall [--user] [--print] [--config FILE]`.

Linux: writes (or, with `--print`, prints) a systemd unit and says how to enable it. Windows: runs (or
prints) PowerShell that registers a Task Scheduler task starting at boot, without a time limit, restarting
three times five minutes apart.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from swingtrader.commands._common import fail, settings_or_exit


def main(args: Any) -> int:
    return windows_main(args) if sys.platform == "win32" else systemd_main(args)


def systemd_main(args: Any) -> int:
    from swingtrader.deploy import systemd

    if args.action == "uninstall":
        return _systemd_uninstall(args)
    config, data_dir, work = _install_paths(args)
    unit = systemd.render_unit(
        _executable(), config, data_dir, args.user, working_dir=work,
        run_as=None if args.user else os.environ.get("SUDO_USER") or getpass.getuser(),
    )
    if args.print_only:
        print(unit, end="")
        return 0
    try:
        path = systemd.install(unit, user_mode=args.user)
    except PermissionError:
        fail(f"cannot write {systemd.unit_path(user_mode=args.user)}: run with sudo, pass --user for a per-user "
             "unit, or --print", 1)
    print(f"wrote {path} (data directory {data_dir}). Enable and start it with:")
    print(systemd.systemctl_hint("enable", user_mode=args.user))
    return 0


def _systemd_uninstall(args: Any) -> int:
    from swingtrader.deploy import systemd

    path = systemd.unit_path(user_mode=args.user)
    stop_hint = systemd.systemctl_hint("disable", user_mode=args.user)
    if args.print_only:
        print(f"would remove {path}; stop the service first with:\n{stop_hint}")
        return 0
    try:
        removed = systemd.uninstall(user_mode=args.user)
    except PermissionError:
        fail(f"cannot remove {path}: run with sudo, or pass --user for a per-user unit", 1)
    if removed is None:
        print(f"no unit at {path}")
        return 0
    print(f"removed {removed}; if the service was running, also run:\n{stop_hint}")
    return 0


def windows_main(args: Any) -> int:
    from swingtrader.deploy import windows

    if args.action == "install":
        config, data_dir, _ = _install_paths(args)
        script = windows.render_install_script(str(_executable()), str(config), str(data_dir))
    else:
        script = windows.render_uninstall_script()
    if args.print_only:
        print(script, end="")
        return 0
    done = subprocess.run(
        ["powershell.exe", "-NoProfile", "-ExecutionPolicy", "Bypass", "-Command", "-"], input=script, text=True,
        check=False,
    )
    return 0 if done.returncode == 0 else 1


def _install_paths(args: Any) -> tuple[Path, Path, Path]:
    """(config file, data directory, working directory), all absolute; the settings are validated first."""
    if not args.config:
        fail("service install needs --config FILE: the env file the service will read (see example.env)")
    config = Path(args.config).expanduser().resolve()
    if not config.is_file():
        fail(f"--config {args.config}: no such file")
    settings = settings_or_exit(args)
    data_dir = Path(settings.data_dir).expanduser()
    if data_dir.is_absolute():
        return config, data_dir, data_dir
    return config, Path.cwd() / data_dir, Path.cwd()  # relative paths in the config keep meaning what they mean now


def _executable() -> Path:
    """The `swingtrader` launcher of this installation."""
    name = "swingtrader.exe" if sys.platform == "win32" else "swingtrader"
    beside = Path(sys.executable).parent / name
    found = beside if beside.exists() else shutil.which(name)
    if not found:
        fail(f"cannot find the {name} launcher beside {sys.executable} or on PATH", 1)
    return Path(found).absolute()
