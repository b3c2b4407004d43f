"""Settings: loading from an env file and the environment, precedence, validation and secrecy of problems."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from swingtrader.config import ConfigError, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
CONSUMER_KEY = "c7f3a9e2-51d4-4b8e-9f06-2d8e7a1b3c45"
MOBILE = "+919812345678"
UCC = "ZQ7K3"
TOTP_SECRET = "JBSWY3DPEHPK3PXPK5XGC3TFMFZGK4TF"
MPIN = "482913"
SECRETS = (CONSUMER_KEY, MOBILE, UCC, TOTP_SECRET, MPIN)
CREDENTIALS = {
    "kotak_consumer_key": CONSUMER_KEY,
    "kotak_mobile_number": MOBILE,
    "kotak_ucc": UCC,
    "kotak_totp_secret": TOTP_SECRET,
    "kotak_mpin": MPIN,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.upper().startswith("SWINGTRADER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "swingtrader.env"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(config_file: Path | None = None, **overrides: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file, **overrides)
    return caught.value.problems


def test_defaults_and_derived_locations() -> None:
    settings = load_settings()
    assert settings.mode == "paper"
    assert settings.capital_per_trade == Decimal("100000")
    assert settings.rsi_add_levels == [20.0, 10.0]
    assert settings.ema_exit == 9
    assert settings.effective_database_url == "sqlite:///var/swingtrader.sqlite"
    assert settings.effective_log_dir == Path("var/logs")
    custom = load_settings(data_dir=Path("/srv/st"), database_url="postgresql+psycopg://u@db/st", log_dir="/var/log/st")
    assert custom.effective_database_url == "postgresql+psycopg://u@db/st"
    assert custom.effective_log_dir == Path("/var/log/st")
    assert load_settings(data_dir="/srv/st").effective_database_url == "sqlite:////srv/st/swingtrader.sqlite"


def test_env_file_values_are_typed_and_keys_case_insensitive(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        "# comment\n\n"
        "swingtrader_max_positions=4\n"
        "export SWINGTRADER_CAPITAL_PER_TRADE=50000.50\n"
        "SWINGTRADER_UNIVERSE=reliance, TCS  M&M\n"
        "SWINGTRADER_STOP_LOSS_PCT=8  # inline comment\n"
        "SWINGTRADER_EMA_EXIT=5\n"
        "SWINGTRADER_KOTAK_MPIN='482913'\n"
        "OTHER_TOOL_SETTING=ignored\n",
    )
    settings = load_settings(path)
    assert settings.max_positions == 4
    assert settings.capital_per_trade == Decimal("50000.50")
    assert settings.universe == ["RELIANCE", "TCS", "M&M"]
    assert settings.stop_loss_pct == Decimal("8")
    assert settings.ema_exit == 5
    assert settings.kotak_mpin is not None and settings.kotak_mpin.get_secret_value() == MPIN


def test_blank_values_mean_unset_or_empty(tmp_path: Path) -> None:
    path = write_env(tmp_path, "SWINGTRADER_STOP_LOSS_PCT=\nSWINGTRADER_RSI_ADD_LEVELS=\nSWINGTRADER_KOTAK_MPIN=\n")
    settings = load_settings(path)
    assert settings.stop_loss_pct is None
    assert settings.rsi_add_levels == []
    assert settings.kotak_mpin is None
    assert any(
        "SWINGTRADER_MAX_POSITIONS" in p for p in problems_of(write_env(tmp_path, "SWINGTRADER_MAX_POSITIONS=\n"))
    )


def test_overrides_beat_environment_which_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_env(tmp_path, "SWINGTRADER_MAX_POSITIONS=2\nSWINGTRADER_RSI_ENTRY=25\nSWINGTRADER_DATA=synthetic\n")
    monkeypatch.setenv("SWINGTRADER_MAX_POSITIONS", "3")
    monkeypatch.setenv("swingtrader_rsi_entry", "28")
    settings = load_settings(path, rsi_entry=27.0, initial_capital=None)
    assert (settings.max_positions, settings.rsi_entry, settings.data) == (3, 27.0, "synthetic")
    assert settings.initial_capital == Decimal("1000000")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.max_positions = 10  # type: ignore[misc]


def test_wrong_type_names_the_setting_value_and_line(tmp_path: Path) -> None:
    path = write_env(tmp_path, "SWINGTRADER_MODE=paper\nSWINGTRADER_MAX_POSITIONS=six\n")
    [problem] = problems_of(path)
    assert problem.startswith("SWINGTRADER_MAX_POSITIONS: Input should be a valid integer")
    assert "'six'" in problem and f"{path} line 2" in problem


def test_invalid_secret_is_named_without_its_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_mpin, bad_totp, bad_mobile = "4829137", "JBSWY3DPEHPK3PX1", "9812345678"
    path = write_env(tmp_path, f"SWINGTRADER_KOTAK_MPIN={bad_mpin}\nSWINGTRADER_KOTAK_TOTP_SECRET={bad_totp}\n")
    monkeypatch.setenv("SWINGTRADER_KOTAK_MOBILE_NUMBER", bad_mobile)
    problems = problems_of(path)
    assert sorted(p.split(":")[0] for p in problems) == [
        "SWINGTRADER_KOTAK_MOBILE_NUMBER",
        "SWINGTRADER_KOTAK_MPIN",
        "SWINGTRADER_KOTAK_TOTP_SECRET",
    ]
    text = "\n".join(problems)
    assert bad_mpin not in text and bad_totp not in text and bad_mobile not in text
    assert "from the environment" in text and f"{path} line 1" in text


def test_malformed_line_names_file_and_line_but_not_its_text(tmp_path: Path) -> None:
    path = write_env(
        tmp_path, f"SWINGTRADER_MODE=paper\n\n\nSWINGTRADER_KOTAK_MPIN='{MPIN}\nSWINGTRADER_DATA=synthetic\n"
    )
    problems = problems_of(path)
    assert problems == [f"{path} line 4: not a KEY=VALUE line (check the quoting)"]


def test_line_without_equals_sign_is_malformed(tmp_path: Path) -> None:
    path = write_env(tmp_path, f"SWINGTRADER_MODE=paper\n{TOTP_SECRET}\n")
    [problem] = problems_of(path)
    assert f"{path} line 2" in problem and TOTP_SECRET not in problem


def test_missing_and_unreadable_files_are_named(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.env") == [f"{tmp_path / 'nope.env'}: config file not found"]
    assert problems_of(tmp_path) == [f"{tmp_path}: cannot read config file (Is a directory)"]


def test_unknown_and_duplicate_keys(tmp_path: Path) -> None:
    path = write_env(tmp_path, "SWINGTRADER_MAX_POSITON=3\nSWINGTRADER_MODE=paper\nswingtrader_mode=live\n")
    assert problems_of(path) == [
        f"SWINGTRADER_MAX_POSITON ({path} line 1): unknown setting; did you mean SWINGTRADER_MAX_POSITIONS?",
        f"SWINGTRADER_MODE: set twice in {path} (lines 2 and 3)",
    ]
    assert problems_of(max_postions=3) == ["SWINGTRADER_MAX_POSTIONS: unknown setting"]
    assert problems_of(amo_window_end="08:59") == ["SWINGTRADER_AMO_WINDOW_END: unknown setting"]  # removed: never read


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        "SWINGTRADER_MODE=demo\n"
        "SWINGTRADER_RSI_ADD_LEVELS=20,x\n"
        "SWINGTRADER_SPECIAL_SESSION_TASKS=monitor_sell_orders,sell_all\n"
        "SWINGTRADER_LOG_LEVEL=verbose\n"
        "SWINGTRADER_TYPO=1\n"
        "broken line\n",
    )
    problems = problems_of(path)
    assert len(problems) == 6
    for name in ("MODE", "RSI_ADD_LEVELS[1]", "SPECIAL_SESSION_TASKS", "LOG_LEVEL", "TYPO"):
        assert any(p.startswith(f"SWINGTRADER_{name}") for p in problems), name
    assert any("line 6" in p for p in problems)
    assert any("sell_all" in p and "place_buy_orders" in p for p in problems)


@pytest.mark.parametrize(
    ("levels", "ok"), [("20,10", True), ("25", True), ("10,20", False), ("20,20", False), ("30", False)]
)
def test_rsi_add_levels_descend_below_entry(levels: str, ok: bool) -> None:
    if ok:
        assert load_settings(rsi_add_levels=levels).rsi_add_levels == [float(x) for x in levels.split(",")]
    else:
        assert problems_of(rsi_add_levels=levels)[0].startswith("SWINGTRADER_RSI_ADD_LEVELS: levels must be")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.1", "::1", "localhost"])
def test_loopback_web_host_needs_no_password(host: str) -> None:
    assert load_settings(web_host=host).web_host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "trader.example.com"])
def test_exposed_web_host_needs_a_password(host: str) -> None:
    assert problems_of(web_host=host) == [
        f"SWINGTRADER_WEB_PASSWORD: required when SWINGTRADER_WEB_HOST ({host}) is not a loopback address"
    ]
    assert load_settings(web_host=host, web_password="correct horse battery").web_host == host
    assert load_settings(web_host=host, web_enabled=False).web_host == host


def test_live_credentials_are_required_only_when_asked() -> None:
    assert load_settings(mode="live").mode == "live"
    assert load_settings(mode="paper", require_live_credentials=True).mode == "paper"
    problems = problems_of(mode="live", require_live_credentials=True, kotak_ucc=UCC, kotak_mpin=MPIN)
    assert problems == [
        "SWINGTRADER_KOTAK_CONSUMER_KEY: required when SWINGTRADER_MODE=live",
        "SWINGTRADER_KOTAK_MOBILE_NUMBER: required when SWINGTRADER_MODE=live",
        "SWINGTRADER_KOTAK_TOTP_SECRET: required when SWINGTRADER_MODE=live",
    ]
    assert load_settings(mode="live", require_live_credentials=True, **CREDENTIALS).missing_live_credentials() == []


def test_secret_values_cover_every_secret() -> None:
    settings = load_settings(
        **CREDENTIALS,
        web_password="correct horse battery",
        notify_urls="tgram://123456:AAEkq9Zb/98765, mailto://ops:pw1234@example.com",
        database_url="postgresql+psycopg://trader:s3cr3t-pw@db.internal/st",
    )
    assert set(settings.secret_values()) == {
        *SECRETS,
        "correct horse battery",
        "tgram://123456:AAEkq9Zb/98765, mailto://ops:pw1234@example.com",
        "tgram://123456:AAEkq9Zb/98765",
        "mailto://ops:pw1234@example.com",
        "s3cr3t-pw",
    }
    assert load_settings().secret_values() == []


def test_masked_shows_every_setting_and_no_secret() -> None:
    settings = load_settings(**CREDENTIALS, database_url="postgresql+psycopg://trader:s3cr3t-pw@db/st")
    shown = settings.masked()
    assert set(shown) == {f"SWINGTRADER_{name.upper()}" for name in Settings.model_fields}
    assert shown["SWINGTRADER_KOTAK_MPIN"] == "**********"
    assert shown["SWINGTRADER_WEB_PASSWORD"] == "(unset)"
    assert shown["SWINGTRADER_DATABASE_URL"] == "postgresql+psycopg://trader:**********@db/st"
    assert shown["SWINGTRADER_RSI_ADD_LEVELS"] == "20,10"
    text = "\n".join(shown.values())
    assert not [s for s in (*SECRETS, "s3cr3t-pw") if s in text]


def test_example_env_documents_every_setting_with_its_default() -> None:
    example = REPO / "example.env"
    keys = re.findall(r"^(SWINGTRADER_[A-Z_]+)=", example.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert sorted(keys) == sorted(f"SWINGTRADER_{name.upper()}" for name in Settings.model_fields)
    assert load_settings(example) == Settings()


def test_import_stays_light() -> None:
    code = "import sys, swingtrader.config; print(sorted({'pandas', 'numpy', 'sqlalchemy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("value", ["0", "1e-300", "0.1", "inf", "nan", "301"])
def test_the_broker_deadline_is_bounded(value: str) -> None:
    assert any("KOTAK_TIMEOUT_SECONDS" in p for p in problems_of(kotak_timeout_seconds=value))
