"""The systemd unit (checked by `systemd-analyze verify` where it exists), `sd_notify` over a fake
NOTIFY_SOCKET, the watchdog that stops pinging when the loop is stuck, and the Windows task script."""

from __future__ import annotations

import argparse
import configparser
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swingtrader.commands import service as service_command
from swingtrader.deploy import systemd, windows

EXE = Path(sys.executable).parent / "swingtrader"


def parse(unit: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True)
    cp.optionxform = str  # keep the keys' case
    cp.read_string(unit)
    return cp


def test_the_system_unit_restarts_three_times_five_minutes_apart(tmp_path: Path) -> None:
    unit = parse(systemd.render_unit(EXE, tmp_path / "my env.env", "/var/lib/swingtrader", False, run_as="trader"))
    svc, head = unit["Service"], unit["Unit"]
    assert svc["Type"] == "notify" and int(svc["WatchdogSec"]) > 0
    assert svc["Restart"] == "on-failure" and svc["RestartSec"] == "300"
    assert head["StartLimitBurst"] == "3" and int(head["StartLimitIntervalSec"]) > 3 * 300
    assert svc["ExecStart"] == f'{EXE} run --config "{tmp_path}/my env.env"'
    assert svc["EnvironmentFile"] == f"{tmp_path}/my env.env"
    assert svc["StateDirectory"] == "swingtrader" and svc["WorkingDirectory"] == "/var/lib/swingtrader"
    assert svc["User"] == "trader" and unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_user_unit_has_no_user_or_sandboxing(tmp_path: Path) -> None:
    unit = parse(systemd.render_unit(EXE, tmp_path / "a.env", tmp_path / "data", True, working_dir=tmp_path))
    assert "User" not in unit["Service"] and "StateDirectory" not in unit["Service"]
    assert unit["Service"]["WorkingDirectory"] == str(tmp_path)
    assert unit["Install"]["WantedBy"] == "default.target"
    with pytest.raises(ValueError, match="absolute"):
        systemd.render_unit("swingtrader", tmp_path / "a.env", tmp_path, True)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("user_mode", [False, True])
def test_the_written_unit_passes_systemd_analyze_verify(tmp_path: Path, user_mode: bool) -> None:
    config = tmp_path / "swingtrader.env"
    config.write_text("SWINGTRADER_MODE=paper\n")
    unit_dir = tmp_path / "units"
    path = systemd.install(systemd.render_unit(EXE, config, tmp_path, user_mode), user_mode=user_mode,
                           unit_dir=unit_dir)
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert systemd.UNIT_NAME not in done.stderr, done.stderr  # no "unknown key" or "ignoring" warnings
    assert systemd.uninstall(user_mode=user_mode, unit_dir=unit_dir) == path and not path.exists()
    assert systemd.uninstall(user_mode=user_mode, unit_dir=unit_dir) is None


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swingtrader", "service", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=60)


def test_service_install_and_uninstall_commands(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")} | {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    config = tmp_path / "swingtrader.env"
    config.write_text("SWINGTRADER_MODE=paper\nSWINGTRADER_DATA_DIR=var\n")
    printed = _cli("install", "--user", "--print", "--config", str(config), cwd=tmp_path, env=env)
    assert printed.returncode == 0, printed.stderr
    assert parse(printed.stdout)["Service"]["WorkingDirectory"] == str(tmp_path)  # "var" keeps its meaning
    installed = _cli("install", "--user", "--config", str(config), cwd=tmp_path, env=env)
    unit = tmp_path / "xdg" / "systemd" / "user" / systemd.UNIT_NAME
    assert installed.returncode == 0 and unit.read_text() == printed.stdout
    assert "systemctl --user enable --now swingtrader.service" in installed.stdout
    removed = _cli("uninstall", "--user", cwd=tmp_path, env=env)
    assert removed.returncode == 0 and not unit.exists() and "disable --now" in removed.stdout
    no_config = _cli("install", "--user", cwd=tmp_path, env=env)
    assert no_config.returncode == 2 and "needs --config FILE" in no_config.stderr


def test_the_windows_command_prints_the_task_scheduler_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "swingtrader.env"
    config.write_text("SWINGTRADER_MODE=paper\n")
    args = argparse.Namespace(action="install", user=False, print_only=True, config=str(config))
    assert service_command.windows_main(args) == 0  # what `main` runs when sys.platform == "win32"
    script = capsys.readouterr().out
    for needle in ("New-ScheduledTaskTrigger -AtStartup", "-ExecutionTimeLimit ([TimeSpan]::Zero)", "-RestartCount 3",
                   "-RestartInterval (New-TimeSpan -Minutes 5)", "Register-ScheduledTask -TaskName 'swingtrader'",
                   "-Argument 'run --config \"", "-Execute '"):
        assert needle in script
    assert "Unregister-ScheduledTask -TaskName 'swingtrader'" in windows.render_uninstall_script()
    quoted = windows.render_install_script("a.exe", "b.env", r"C:\O'Brien\data")
    assert "-WorkingDirectory 'C:\\O''Brien\\data'" in quoted


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(2)
    yield path, sock
    sock.close()


def drain(sock: socket.socket, wait: float) -> list[str]:
    sock.settimeout(wait)
    got = []
    try:
        while True:
            got.append(sock.recv(4096).decode())
    except TimeoutError:
        return got


def test_notifier_sends_ready_status_and_stopping(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = systemd.SystemdNotifier(path)
    assert notifier.ready("next: analysis at 16:00")
    assert notifier.status("next: place_buy_orders at 16:05") and notifier.stopping()
    assert drain(sock, 0.5) == ["READY=1\nSTATUS=next: analysis at 16:00", "STATUS=next: place_buy_orders at 16:05",
                                "STOPPING=1"]


def test_notifier_uses_the_abstract_namespace_and_is_a_no_op_without_a_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    name = f"swingtrader-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.SystemdNotifier().watchdog()
        assert drain(sock, 0.5) == ["WATCHDOG=1"]
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not systemd.SystemdNotifier().enabled and systemd.SystemdNotifier().ready() is False
    assert systemd.SystemdNotifier(str(tmp_path / "gone.sock")).ready() is False  # logged, not raised


def test_the_watchdog_pings_only_while_the_loop_heartbeat_is_fresh(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    last_tick = [time.monotonic()]
    dog = systemd.Watchdog(systemd.SystemdNotifier(path), lambda: last_tick[0], interval_s=0.05, max_age_s=0.3)
    dog.start()
    try:
        fresh = drain(sock, 0.25)
        assert fresh and set(fresh) == {"WATCHDOG=1"}
        time.sleep(0.4)  # the loop is stuck: no tick for longer than max_age_s
        drain(sock, 0.05)
        assert drain(sock, 0.4) == []
        last_tick[0] = time.monotonic()  # it ticks again
        assert drain(sock, 0.2)
    finally:
        dog.stop()


def test_watchdog_interval_follows_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "120000000")
    assert systemd.watchdog_interval() == 60
    monkeypatch.delenv("WATCHDOG_USEC")
    assert systemd.watchdog_interval(7.5) == 7.5
