"""Running under systemd: the unit file, `sd_notify` messages, and a watchdog tied to the scheduler loop.

The unit restarts the service 300 s after a failure, at most 3 times in 1200 s; a fourth failure inside
that interval leaves it stopped (`systemctl status` shows "start-limit-hit"). `Type=notify` plus
`WatchdogSec=` means systemd also restarts a service that stops pinging: the `Watchdog` pings only while the
scheduler loop's heartbeat is fresh, so a stuck loop is restarted even though the process is alive.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

UNIT_NAME = "swingtrader.service"
WATCHDOG_SEC = 120
RESTART_SEC = 300
START_LIMIT_BURST = 3
START_LIMIT_INTERVAL_SEC = 1200  # > 3 x RestartSec: three failed tries, five minutes apart, stop it
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")


def user_unit_dir() -> Path:
    """`$XDG_CONFIG_HOME/systemd/user` (default `~/.config/systemd/user`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def render_unit(
    exec_path: str | Path,
    config_file: str | Path,
    data_dir: str | Path,
    user_mode: bool,
    *,
    working_dir: str | Path | None = None,
    run_as: str | None = None,
) -> str:
    """The unit text. Paths must be absolute.

    The service runs in `working_dir` (default: `data_dir`, its dedicated data directory; pass the directory
    that a relative `SWINGTRADER_DATA_DIR` in the config is relative to). A system unit whose data directory
    is under /var/lib has it created and owned through `StateDirectory=`; `run_as` sets its `User=`.
    """
    exec_path, config_file, data_dir = Path(exec_path), Path(config_file), Path(data_dir)
    work = Path(working_dir) if working_dir is not None else data_dir
    for name, path in (("exec_path", exec_path), ("config_file", config_file), ("data_dir", data_dir),
                       ("working_dir", work)):
        if not path.is_absolute():
            raise ValueError(f"{name} must be an absolute path, got {path}")
    service = [
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={_quote(exec_path)} run --config {_quote(config_file)}",
        f"EnvironmentFile={_plain(config_file)}",
        f"WorkingDirectory={_plain(work)}",
        f"WatchdogSec={WATCHDOG_SEC}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        "TimeoutStartSec=300",
        "TimeoutStopSec=90",
        "KillSignal=SIGTERM",
    ]
    if not user_mode:
        if run_as and run_as != "root":
            service.append(f"User={run_as}")
        if data_dir.parent == Path("/var/lib"):
            service += [f"StateDirectory={data_dir.name}", "StateDirectoryMode=0750"]
        service += ["UMask=0077", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full"]
    lines = [
        "# Written by `swingtrader service install`. Remove with `swingtrader service uninstall`.",
        "[Unit]",
        "Description=swingtrader swing-trading service",
        "Wants=network-online.target",
        "After=network-online.target",
        f"StartLimitIntervalSec={START_LIMIT_INTERVAL_SEC}",
        f"StartLimitBurst={START_LIMIT_BURST}",
        "",
        "[Service]",
        *service,
        "",
        "[Install]",
        f"WantedBy={'default.target' if user_mode else 'multi-user.target'}",
        "",
    ]
    return "\n".join(lines)


def unit_path(*, user_mode: bool, unit_dir: Path | None = None) -> Path:
    return (unit_dir or (user_unit_dir() if user_mode else SYSTEM_UNIT_DIR)) / UNIT_NAME


def install(unit_text: str, *, user_mode: bool, unit_dir: Path | None = None) -> Path:
    """Write the unit file; return its path. Enabling it is left to `systemctl` (see `systemctl_hint`)."""
    path = unit_path(user_mode=user_mode, unit_dir=unit_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text, encoding="utf-8")
    return path


def uninstall(*, user_mode: bool, unit_dir: Path | None = None) -> Path | None:
    """Remove the unit file; return its path, or None if there was none."""
    path = unit_path(user_mode=user_mode, unit_dir=unit_dir)
    if not path.exists():
        return None
    path.unlink()
    return path


def systemctl_hint(action: str, *, user_mode: bool) -> str:
    """The commands a person runs after `install` (action "enable") or before `uninstall` ("disable")."""
    ctl = "systemctl --user" if user_mode else "sudo systemctl"
    if action == "enable":
        linger = "\n  loginctl enable-linger $USER   # start at boot without logging in" if user_mode else ""
        return f"  {ctl} daemon-reload\n  {ctl} enable --now {UNIT_NAME}{linger}\n  {ctl} status {UNIT_NAME}"
    return f"  {ctl} disable --now {UNIT_NAME}\n  {ctl} daemon-reload"


def _plain(value: str | Path) -> str:
    """A path setting (the rest of the line, unquoted); `%` would start a specifier."""
    return str(value).replace("%", "%%")


def _quote(value: str | Path) -> str:
    """One word of a command line or an `Environment=` assignment, quoted when it holds spaces or quotes."""
    text = _plain(value)
    if any(c in text for c in " \t\"'\\"):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


class SystemdNotifier:
    """`sd_notify` over the `$NOTIFY_SOCKET` datagram socket (a path, or `@name` for the abstract
    namespace). Without the variable (not under systemd) every call is a no-op. Errors are logged, never raised.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET")
        self._address = ("\0" + path[1:]) if path and path.startswith("@") else path
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def send(self, *fields: str) -> bool:
        """Send `KEY=VALUE` fields as one datagram; True if it was sent."""
        if not self._address:
            return False
        payload = "\n".join(fields).encode()
        try:
            with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, self._address)
        except OSError as exc:
            log.warning("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """A one-line status shown by `systemctl status`, e.g. "next: analysis at 16:00"."""
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")


def watchdog_interval(default_s: float = WATCHDOG_SEC / 3) -> float:
    """Half of systemd's `$WATCHDOG_USEC` (the recommended ping interval), else `default_s`."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    return int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else default_s


class Watchdog:
    """Pings `WATCHDOG=1` every `interval_s` while `heartbeat()` (the `time.monotonic()` of the scheduler
    loop's last tick) is at most `max_age_s` old. A stale heartbeat means a stuck loop: pinging stops, so
    systemd kills and restarts the service after `WatchdogSec`."""

    def __init__(
        self,
        notifier: SystemdNotifier,
        heartbeat: Callable[[], float],
        interval_s: float,
        max_age_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notifier = notifier
        self._heartbeat = heartbeat
        self._interval = interval_s
        self._max_age = max_age_s
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="swingtrader-watchdog", daemon=True)
        self._stale = False
        self.pings = 0

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval + 1)

    def check(self) -> bool:
        """One round: ping if the heartbeat is fresh. Returns whether it pinged."""
        age = self._monotonic() - self._heartbeat()
        stale = age > self._max_age
        if stale != self._stale:
            self._stale = stale
            if stale:
                log.error("scheduler loop heartbeat is %.0f s old (max %.0f): no more systemd watchdog pings",
                          age, self._max_age)
            else:
                log.warning("scheduler loop heartbeat is fresh again: systemd watchdog pings resume")
        if stale:
            return False
        if self._notifier.watchdog():
            self.pings += 1
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self._interval)
