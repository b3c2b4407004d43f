"""No secret reaches the log file or the console, whichever path the record takes."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from swingtrader.config import load_settings
from swingtrader.logs import setup_logging

CONSUMER_KEY = "c7f3a9e2-51d4-4b8e-9f06-2d8e7a1b3c45"
MOBILE = "+919812345678"
UCC = "ZQ7K3"
TOTP_SECRET = "JBSWY3DPEHPK3PXPK5XGC3TFMFZGK4TF"
MPIN = "482913"
WEB_PASSWORD = "correct horse battery"
NOTIFY_URL = "tgram://7312345678:AAEkq9ZbXw3VfT0pLmN8sR2uY6hC4dJ1gEo/98765"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJaUTdLMyIsImV4cCI6MTc3MjQ4MjYwMH0"
    ".Xk3v9Q2mT8rW1pL6nB4cY7zD0aF5gH2jK9sE3uV8wIo"
)
SESSION_SID = "4f0c2a9e-sid-77d1"
SECRETS = (CONSUMER_KEY, MOBILE, UCC, TOTP_SECRET, MPIN, WEB_PASSWORD, NOTIFY_URL, JWT, SESSION_SID)


class _Unauthorized(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"code": "900901", "description": "Invalid JWT token"}'
        self.send_response(401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers every GET with a 401."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_logger: logging.Logger) -> Iterator[Path]:
    """Logging set up with every secret configured (through the environment); root logging restored after."""
    for key in list(os.environ):
        if key.upper().startswith("SWINGTRADER_"):
            monkeypatch.delenv(key)
    env_file = tmp_path / "swingtrader.env"
    env_file.write_text(
        f"SWINGTRADER_DATA_DIR={tmp_path}\nSWINGTRADER_KOTAK_CONSUMER_KEY={CONSUMER_KEY}\n"
        f"SWINGTRADER_KOTAK_MOBILE_NUMBER={MOBILE}\nSWINGTRADER_KOTAK_UCC={UCC}\n"
        f"SWINGTRADER_KOTAK_TOTP_SECRET={TOTP_SECRET}\nSWINGTRADER_NOTIFY_URLS={NOTIFY_URL}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SWINGTRADER_KOTAK_MPIN", MPIN)
    monkeypatch.setenv("SWINGTRADER_WEB_PASSWORD", WEB_PASSWORD)
    yield tmp_path / "logs"


def _validate_mpin(mpin: str) -> None:
    try:
        raise ValueError(f"totp secret {TOTP_SECRET} produced a stale code")
    except ValueError as cause:
        raise PermissionError(f"tradeApiValidate rejected mpin {mpin} for {MOBILE}") from cause


def test_failure_paths_leave_no_secret_in_file_or_console(
    log_dir: Path, broker_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(log_dir.parent / "swingtrader.env")
    redaction = setup_logging(settings)
    log = logging.getLogger("swingtrader.broker.kotak_neo")

    try:
        _validate_mpin(settings.kotak_mpin.get_secret_value() if settings.kotak_mpin else "")
    except PermissionError:
        log.exception("login failed for %s", UCC)

    response = httpx.get(f"{broker_url}/login/1.0/tradeApiLogin", params={"key": CONSUMER_KEY})
    assert response.status_code == 401
    logging.getLogger("httpx").warning("retrying with Authorization %s", CONSUMER_KEY)

    log.info(f"validated: token={JWT}")
    redaction.add_secret(SESSION_SID)
    log.info("session %s ready", {"sid": SESSION_SID, "ucc": UCC})
    logging.getLogger("apprise").error("could not notify %s", NOTIFY_URL, stack_info=True)
    log.warning("web login attempt with password %r", WEB_PASSWORD)

    written = (log_dir / "swingtrader.log").read_text(encoding="utf-8")
    console = capsys.readouterr().err
    for output in (written, console):
        assert "login failed for ***" in output
        assert "PermissionError: tradeApiValidate rejected mpin *** for ***" in output
        assert "ValueError: totp secret *** produced a stale code" in output
        assert "HTTP Request: GET" in output and "401 Unauthorized" in output
        assert "validated: token=***" in output
        assert "Stack (most recent call last)" in output
        assert [s for s in SECRETS if s in output] == []
