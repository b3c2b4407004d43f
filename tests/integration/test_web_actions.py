"""Dashboard actions need a password and CSRF proof; the bind rule; the read-only `dashboard` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from swingtrader.clock import IST, SimClock
from swingtrader.store import Store
from swingtrader.store.db import sqlite_url
from swingtrader.web import BindRefused, check_bind, create_app, start_web_in_thread
from tests.integration.test_web_pages import NOW, fill_store

PASSWORD = "correct-horse-battery-staple"


class RecordingControl:
    """A small real `ServiceControl` that remembers what it was asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_new_orders(self) -> None:
        self.calls.append("pause")

    def resume_new_orders(self) -> None:
        self.calls.append("resume")

    def run_task_now(self, task: str) -> None:
        self.calls.append(f"run:{task}")

    def force_relogin(self) -> None:
        self.calls.append("relogin")

    def session_state(self) -> dict[str, Any]:
        return {"logged_in": True, "expires_at": datetime(2024, 3, 7, tzinfo=IST), "logins_today": 1}

    def unknown_statuses(self) -> dict[str, int]:
        return {}

    def mode(self) -> str:
        return "paper"


class Settings:
    """The settings the app reads (the real `Settings` needs a full environment)."""

    def __init__(self, password: str | None, log_dir: Path, kill_switch: bool = False) -> None:
        self.web_password = SecretStr(password) if password else None
        self.effective_log_dir = log_dir
        self.kill_switch = kill_switch


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(sqlite_url(tmp_path / "actions.sqlite"))
    fill_store(s)
    yield s
    s.dispose()


def serve(store: Store, tmp_path: Path, *, password: str | None, control: RecordingControl | None,
          read_only: bool = False) -> Any:
    app = create_app(store, settings=Settings(password, tmp_path), control=control, read_only=read_only,
                     clock=SimClock(NOW))
    return start_web_in_thread(app, "127.0.0.1", 0)


@pytest.fixture
def live(store: Store, tmp_path: Path) -> Iterator[tuple[httpx.Client, RecordingControl]]:
    control = RecordingControl()
    handle = serve(store, tmp_path, password=PASSWORD, control=control)
    with httpx.Client(base_url=handle.url, timeout=10) as client:
        yield client, control
    handle.stop()


def csrf(client: httpx.Client, auth: Any) -> str:
    return client.get("/api/csrf", auth=auth).json()["token"]


def test_actions_need_credentials_then_csrf(live: tuple[httpx.Client, RecordingControl]) -> None:
    client, control = live
    assert client.post("/api/actions/pause").status_code == 401
    assert client.post("/api/actions/pause", auth=("admin", "wrong")).status_code == 401
    assert client.post("/api/actions/pause", auth=("admin", PASSWORD)).status_code == 403
    token = csrf(client, ("admin", PASSWORD))
    assert client.post("/api/actions/pause", auth=("admin", PASSWORD), headers={"X-CSRF-Token": "forged"}
                       ).status_code == 403
    ok = client.post("/api/actions/pause", auth=("admin", PASSWORD), headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json() == {"ok": True, "action": "pause"}
    bearer = {"Authorization": f"Bearer {PASSWORD}", "X-CSRF-Token": token}
    assert client.post("/api/actions/run-task/analysis", headers=bearer).status_code == 200
    assert client.post("/api/actions/run-task/rm-rf", headers=bearer).status_code == 404
    assert client.post("/api/actions/relogin", headers=bearer).status_code == 200
    assert client.post("/api/actions/resume", headers={**bearer, "Origin": "http://evil.example"}).status_code == 403
    assert client.post("/api/actions/resume", headers={**bearer, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert control.calls == ["pause", "run:analysis", "relogin"]


def test_with_a_password_every_page_needs_it(live: tuple[httpx.Client, RecordingControl]) -> None:
    client, _ = live
    refused = client.get("/")
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/api/trades").status_code == 401
    page = client.get("/", auth=("me", PASSWORD))
    assert page.status_code == 200
    assert 'data-action="/api/actions/pause"' in page.text and "logged in" in page.text
    assert client.cookies.get("swingtrader_csrf") in page.text  # the token the page's script sends back
    overview = client.get("/api/overview", auth=("me", PASSWORD)).json()
    assert overview["mode"] == "paper" and overview["kill_switch"] is False and overview["paused"] is False
    assert client.get("/healthz").status_code == 200  # probes stay open


@pytest.mark.parametrize("password, control, read_only, reason", [
    (None, RecordingControl(), False, "actions need a password"),
    (PASSWORD, None, False, "read-only"),
    (PASSWORD, RecordingControl(), True, "read-only"),
])
def test_actions_are_off_without_a_password_or_when_read_only(
    store: Store, tmp_path: Path, password: str | None, control: RecordingControl | None, read_only: bool,
    reason: str,
) -> None:
    handle = serve(store, tmp_path, password=password, control=control, read_only=read_only)
    try:
        with httpx.Client(base_url=handle.url, timeout=10) as client:
            auth = ("me", password) if password else None
            token = csrf(client, auth)
            r = client.post("/api/actions/pause", auth=auth, headers={"X-CSRF-Token": token})
            assert r.status_code == 403 and reason in r.json()["detail"]
            assert reason in client.get("/", auth=auth).text
    finally:
        handle.stop()
    assert control is None or control.calls == []


def test_a_non_loopback_bind_without_a_password_is_refused() -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        check_bind(host, None)
    check_bind("0.0.0.0", SecretStr(PASSWORD))
    for host, password in (("0.0.0.0", None), ("192.168.1.20", SecretStr("")), ("::", "")):
        with pytest.raises(BindRefused, match=r"without a password.*web_password"):
            check_bind(host, password)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "swingtrader", "dashboard", *args]


def test_the_dashboard_command_refuses_an_open_bind(store: Store, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")}
    db = store.engine.url.database
    done = subprocess.run(_command("--db", db, "--host", "0.0.0.0"), capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "refusing to serve the dashboard on 0.0.0.0" in done.stderr and "web_password" in done.stderr
    missing = subprocess.run(_command("--db", str(tmp_path / "nope.sqlite")), capture_output=True,
                             text=True, env=env, cwd=tmp_path, timeout=60)
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_the_dashboard_command_serves_a_store_read_only(store: Store, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")}
    port = _free_port()
    proc = subprocess.Popen(_command("--db", store.engine.url.database, "--port", str(port)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert "read-only" in proc.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 10
            overview = client.get("/api/overview")
            while overview.status_code != 200 and time.monotonic() < deadline:
                overview = client.get("/api/overview")
            assert overview.json()["mode"] == "read-only"
            assert client.get("/trades").status_code == 200
            assert client.post("/api/actions/pause").status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
