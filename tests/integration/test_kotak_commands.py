"""`swingtrader broker-check` against the fake, and `swingtrader kotak-fake` as a real process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest

from swingtrader.broker.base import OrderRequest, OrderType, Side
from swingtrader.broker.kotak_neo import KotakNeoBroker
from swingtrader.broker.kotak_neo.auth import KotakCredentials
from swingtrader.broker.kotak_neo.harness import fake_credentials, start_fake
from swingtrader.cli import main as cli
from swingtrader.clock import LiveClock
from tests.integration.kotak_support import MemoryExchange

ENV = ("CONSUMER_KEY", "MOBILE_NUMBER", "UCC", "TOTP_SECRET", "MPIN")


@pytest.fixture(autouse=True)
def _restore_logging(root_logger: logging.Logger) -> None:
    """broker-check configures the root logger (redaction, files under the data dir): undone afterwards."""


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path, creds: KotakCredentials | None, url: str = "") -> None:
    for key in list(os.environ):
        if key.startswith("SWINGTRADER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SWINGTRADER_DATA_DIR", str(tmp_path / "data"))
    if creds is not None:
        for name, secret in zip(ENV, creds.secrets(), strict=True):
            monkeypatch.setenv(f"SWINGTRADER_KOTAK_{name}", secret)
        monkeypatch.setenv("SWINGTRADER_KOTAK_LOGIN_URL", url)


def test_broker_check_prints_funds_holdings_and_open_orders(monkeypatch, tmp_path, capsys) -> None:
    clock = LiveClock()
    exchange = MemoryExchange(clock, {"RELIANCE": Decimal("2950.50")}, cash=Decimal("50000"),  # type: ignore[arg-type]
                              holdings={"RELIANCE": (4, Decimal("2800.10"))})
    creds = fake_credentials(5)
    exchange.place_order(OrderRequest("RELIANCE", Side.SELL, 2, OrderType.LIMIT, Decimal("3100.00"), "sell-1"))
    with start_fake(exchange, clock, credentials=creds) as fake:
        _env(monkeypatch, tmp_path, creds, fake.url)
        code = cli(["broker-check"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "available cash 50000" in out and "RELIANCE" in out and "sellable 4" in out
    assert "SELL 2 RELIANCE LIMIT 3100.00 OPEN" in out and "tag sell-1" in out
    for secret in creds.secrets():
        assert secret not in out and secret not in err


def test_broker_check_names_missing_credentials(monkeypatch, tmp_path, capsys) -> None:
    _env(monkeypatch, tmp_path, None)
    monkeypatch.setenv("SWINGTRADER_KOTAK_MPIN", "123456")
    with pytest.raises(SystemExit) as exit_:
        cli(["broker-check"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "SWINGTRADER_KOTAK_TOTP_SECRET" in err and "SWINGTRADER_KOTAK_MPIN" not in err


def test_broker_check_reports_a_refused_login(monkeypatch, tmp_path, capsys) -> None:
    clock = LiveClock()
    creds = fake_credentials(6)
    with start_fake(MemoryExchange(clock, {}), clock, credentials=creds) as fake:  # type: ignore[arg-type]
        _env(monkeypatch, tmp_path, creds, fake.url)
        monkeypatch.setenv("SWINGTRADER_KOTAK_MPIN", "999999" if creds.mpin.get_secret_value() != "999999" else "1111")
        code = cli(["broker-check"])
    err = capsys.readouterr().err
    assert code == 1 and "LoginFailed" in err and "Invalid MPIN" in err


def test_kotak_fake_command_serves_the_paper_exchange_with_real_symbols(tmp_path) -> None:
    pytest.importorskip("swingtrader.service", reason="the paper exchange's modules are not all there yet",
                        exc_type=ImportError)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWINGTRADER_")}
    env["SWINGTRADER_DATA_DIR"] = str(tmp_path / "data")
    proc = subprocess.Popen(
        [sys.executable, "-m", "swingtrader", "kotak-fake", "--port", "0", "--record", str(tmp_path / "r.jsonl"),
         "--faults", "latency_ms=1", "--data", "bundled"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        lines: dict[str, str] = {}
        while "SWINGTRADER_KOTAK_LOGIN_URL" not in lines:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line, proc.stderr.read()  # type: ignore[union-attr]
            if "=" in line and not line.startswith("#"):
                key, _, value = line.strip().partition("=")
                lines[key] = value
        from pydantic import SecretStr

        creds = KotakCredentials(*(SecretStr(lines[f"SWINGTRADER_KOTAK_{n}"]) for n in ENV))
        with KotakNeoBroker(creds, login_url=lines["SWINGTRADER_KOTAK_LOGIN_URL"], clock=LiveClock()) as b:
            b.login()
            assert b.funds().available_cash > 0
            assert b.orders() == []
            assert b.instrument("M&M").trading_symbol == "M&M-EQ"
            assert b.instrument("BAJAJ-AUTO").trading_symbol == "BAJAJ-AUTO-EQ"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "injected faults" in out
    assert (tmp_path / "r.jsonl").read_text().count("\n") >= 4
