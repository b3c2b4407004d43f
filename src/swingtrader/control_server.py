"""The owner's control endpoint: while `run` holds the store's lease, other writers (`run-task`) send their
requests here instead of writing themselves, and the owner runs them under its lease and ledger.

HTTP on 127.0.0.1 only, a random port (its URL is recorded in the lease row), stdlib only (nothing heavy on
the service's start-up path). Every request carries `Authorization: Bearer <token>`: the token is random per
start, written to `<data_dir>/control.token` readable by the owner's user only (0600), as the dashboard's
actions need its password. The file is written as a new file (`O_CREAT | O_EXCL | O_NOFOLLOW`) renamed into
place, and read with `O_NOFOLLOW`: a symbolic link planted there is refused (`UnsafeFile`), never followed.
`POST /run-task` with JSON `{"task", "date", "force"}` answers
`{"slot", "status"}` (200), `{"error"}` (409 refused, 400 bad request) or 401. `POST /reset-login` (no body)
resets the owner's login breaker (a person looked, as the dashboard's re-login does) and answers
`{"was_blocked": bool}` (200) or 401.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TOKEN_FILE = "control.token"
RunTask = Callable[[str, date, bool], tuple[str, str]]  # (task, day, force) -> (slot, status)
ResetLogin = Callable[[], bool]  # resets the login breaker; returns whether it was blocked


class UnsafeFile(OSError):
    """A control file is a symbolic link (or not a regular file): it is neither written through nor read."""


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600) as a new file renamed into place; `UnsafeFile` if `path` is a link."""
    _refuse_link(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        _refuse_link(path)
        os.replace(tmp, path)  # replaces a name, never writes through a link
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_private(path: Path) -> str:
    """The text of `path`, opened without following a link (`UnsafeFile` if it is one)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if path.is_symlink():
            raise UnsafeFile(f"{path} is a symbolic link; refusing to read the control token through it") from exc
        raise
    with os.fdopen(fd) as fh:
        return fh.read()


def _refuse_link(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UnsafeFile(f"{path} is a symbolic link or not a regular file; refusing to write the control token "
                         "through it (remove it)")


class Refused(Exception):
    """The owner refuses the request (a guard, an unknown task); the message goes back to the caller."""


class ControlServer:
    """Serve `run_task` and `reset_login` on 127.0.0.1; `start` returns the URL, `stop` shuts it down."""

    def __init__(self, run_task: RunTask, data_dir: Path, reset_login: ResetLogin | None = None) -> None:
        self._run_task = run_task
        self._reset_login = reset_login
        self._token = secrets.token_urlsafe(32)
        self._token_file = Path(data_dir) / TOKEN_FILE
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        """Write the token file and serve; returns the URL. Raises `UnsafeFile` for a planted link."""
        write_private(self._token_file, self._token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._run_task, self._reset_login, self._token))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="control", daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if not self._token_file.is_symlink():
            self._token_file.unlink(missing_ok=True)


def _handler(run_task: RunTask, reset_login: ResetLogin | None, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            given = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return self._reply(401, {"error": "not authorised"})
            if self.path == "/reset-login" and reset_login is not None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                log.warning("login breaker reset requested through the control endpoint")
                return self._reply(200, {"was_blocked": bool(reset_login())})
            if self.path != "/run-task":
                return self._reply(404, {"error": f"no such endpoint {self.path}"})
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                task, day, force = str(body["task"]), date.fromisoformat(body["date"]), bool(body.get("force"))
            except (ValueError, KeyError, TypeError) as exc:
                return self._reply(400, {"error": f"bad request: {exc}"})
            try:
                slot, status = run_task(task, day, force)
            except Refused as exc:
                return self._reply(409, {"error": str(exc)})
            self._reply(200, {"slot": slot, "status": status})

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:
            log.info("control: " + fmt, *args)

    return Handler


def request_run_task(url: str, data_dir: Path, task: str, day: date, force: bool, timeout: float = 900
                     ) -> tuple[int, dict[str, Any]]:
    """Ask the owner at `url` to run a task; (HTTP status, JSON body). Raises `OSError` if it cannot be
    reached or the token file is missing."""
    return _post(url, "/run-task", data_dir, {"task": task, "date": day.isoformat(), "force": force}, timeout)


def request_reset_login(url: str, data_dir: Path, timeout: float = 30) -> tuple[int, dict[str, Any]]:
    """Ask the owner at `url` to reset its login breaker; (HTTP status, JSON body). Raises `OSError` as
    `request_run_task`."""
    return _post(url, "/reset-login", data_dir, {}, timeout)


def _post(url: str, path: str, data_dir: Path, body: dict[str, Any], timeout: float) -> tuple[int, dict[str, Any]]:
    import urllib.error
    import urllib.request

    token = read_private(Path(data_dir) / TOKEN_FILE).strip()
    req = urllib.request.Request(f"{url}{path}", method="POST", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
