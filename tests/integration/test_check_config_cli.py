"""`swingtrader check-config` as a user runs it: exit codes, messages, and no secret ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONSUMER_KEY = "c7f3a9e2-51d4-4b8e-9f06-2d8e7a1b3c45"
MOBILE = "+919812345678"
UCC = "ZQ7K3"
TOTP_SECRET = "JBSWY3DPEHPK3PXPK5XGC3TFMFZGK4TF"
MPIN = "482913"
WEB_PASSWORD = "correct horse battery"
SECRETS = (CONSUMER_KEY, MOBILE, UCC, TOTP_SECRET, MPIN, WEB_PASSWORD)
CREDENTIALS = (
    f"SWINGTRADER_KOTAK_CONSUMER_KEY={CONSUMER_KEY}\n"
    f"SWINGTRADER_KOTAK_MOBILE_NUMBER={MOBILE}\n"
    f"SWINGTRADER_KOTAK_UCC={UCC}\n"
    f"SWINGTRADER_KOTAK_TOTP_SECRET={TOTP_SECRET}\n"
    f"SWINGTRADER_KOTAK_MPIN={MPIN}\n"
)


def check_config(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command in a clean environment (no SWINGTRADER_* variables but `env`)."""
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("SWINGTRADER_")}
    return subprocess.run(
        [sys.executable, "-m", "swingtrader", "check-config", *args],
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_no_secret(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert [s for s in SECRETS if s in output] == []


def test_valid_config_prints_settings_with_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "live.env"
    config.write_text(f"SWINGTRADER_MODE=live\nSWINGTRADER_MAX_POSITIONS=4\n{CREDENTIALS}", encoding="utf-8")
    result = check_config(tmp_path, "--config", str(config), SWINGTRADER_WEB_PASSWORD=WEB_PASSWORD)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert "SWINGTRADER_MODE=live" in lines and "SWINGTRADER_MAX_POSITIONS=4" in lines
    assert "SWINGTRADER_KOTAK_MPIN=**********" in lines and "SWINGTRADER_WEB_PASSWORD=**********" in lines
    assert "SWINGTRADER_NOTIFY_URLS=(unset)" in lines
    assert_no_secret(result)


def test_no_config_file_uses_defaults_and_environment(tmp_path: Path) -> None:
    result = check_config(tmp_path, SWINGTRADER_DATA="synthetic")
    assert result.returncode == 0
    assert "SWINGTRADER_DATA=synthetic" in result.stdout.splitlines()
    assert "sqlite:///var/swingtrader.sqlite" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            f"{CREDENTIALS}SWINGTRADER_KOTAK_MPIN2='{MPIN}\n", ["line 6: not a KEY=VALUE line"], id="malformed"
        ),
        pytest.param(f"{CREDENTIALS}SWINGTRADER_MAX_POSITIONS=six\n", ["SWINGTRADER_MAX_POSITIONS: "], id="wrong-type"),
        pytest.param(
            f"SWINGTRADER_KOTAK_PIN={MPIN}\n", ["SWINGTRADER_KOTAK_PIN (", "unknown setting"], id="unknown-key"
        ),
        pytest.param(
            f"SWINGTRADER_KOTAK_MPIN={MPIN}7\nSWINGTRADER_KOTAK_TOTP_SECRET={TOTP_SECRET}1\n",
            ["SWINGTRADER_KOTAK_MPIN: ", "SWINGTRADER_KOTAK_TOTP_SECRET: "],
            id="bad-secrets",
        ),
        pytest.param(
            "SWINGTRADER_MODE=live\n",
            [f"SWINGTRADER_KOTAK_{name}: required when SWINGTRADER_MODE=live" for name in ("MPIN", "UCC")],
            id="live-without-credentials",
        ),
        pytest.param(
            f"SWINGTRADER_MODE=real\nSWINGTRADER_UNIVERSE=RELIANCE,TCS;INFY\n{CREDENTIALS}oops\nSWINGTRADER_WEBPORT=1\n",
            ["SWINGTRADER_MODE: ", "SWINGTRADER_UNIVERSE: ", "line 8: ", "SWINGTRADER_WEBPORT ("],
            id="several-problems",
        ),
    ],
)
def test_bad_config_exits_2_naming_every_problem(tmp_path: Path, text: str, expected: list[str]) -> None:
    config = tmp_path / "swingtrader.env"
    config.write_text(text, encoding="utf-8")
    before = config.read_bytes()
    result = check_config(tmp_path, "--config", str(config))
    assert (result.returncode, result.stdout) == (2, "")
    problems = result.stderr.splitlines()
    assert problems and all(line.startswith("error: ") for line in problems)
    for fragment in expected:
        assert any(fragment in line for line in problems), (fragment, problems)
    assert_no_secret(result)
    assert config.read_bytes() == before


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    result = check_config(tmp_path, "--config", str(tmp_path / "missing.env"))
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'missing.env'}: config file not found\n"


def test_secret_from_the_environment_is_not_echoed(tmp_path: Path) -> None:
    result = check_config(tmp_path, SWINGTRADER_KOTAK_MPIN=f"{MPIN}x", SWINGTRADER_WEB_HOST="0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.startswith("error: SWINGTRADER_KOTAK_MPIN: must be the 4 to 6 digit trading MPIN")
    assert f"{MPIN}x" not in result.stdout + result.stderr
