"""Settings: typed and frozen, read once from an env file plus the environment, then passed down.

Every setting `x` is read from `SWINGTRADER_X` (any case). Precedence, highest first: keyword overrides,
environment variables, the env file (`--config FILE`), defaults. In the env file and the environment an empty
value means "unset" for optional settings and "empty" for lists; lists are comma or space separated.
`example.env` documents every setting.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import io
import ipaddress
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from dotenv.parser import Binding, parse_stream
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from swingtrader.task_names import TASK_NAMES

__all__ = ["ENV_PREFIX", "MAX_MONEY", "ConfigError", "Settings", "env_name", "load_settings"]

ENV_PREFIX = "SWINGTRADER_"
MASK = "**********"

MAX_MONEY = Decimal("1e12")
"""The largest amount of rupees any money setting (or `simulate --capital`) accepts: one lakh crore."""

_Money = Annotated[Decimal, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False)]
_Rate = Annotated[Decimal, Field(ge=0)]
_RsiLevel = Annotated[float, Field(gt=0, lt=100)]
_PerSecond = Annotated[float, Field(ge=0.01, le=1000, allow_inf_nan=False)]
_Seconds = Annotated[float, Field(ge=0.5, le=300, allow_inf_nan=False)]  # a total deadline per broker call
_LIVE_CREDENTIALS = ("kotak_consumer_key", "kotak_mobile_number", "kotak_ucc", "kotak_totp_secret", "kotak_mpin")
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9&._-]*")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LIST_SEPARATORS = re.compile(r"[,\s]+")


class ConfigError(Exception):
    """The settings are unusable. `problems` lists every problem found, each naming the setting or file.

    No problem text contains the value of a secret. Commands print each as `error: <problem>` and exit 2.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def env_name(field: str) -> str:
    """The environment variable that sets `field`: `max_positions` -> `SWINGTRADER_MAX_POSITIONS`."""
    return ENV_PREFIX + field.upper()


class Settings(BaseSettings):
    """Every setting of the service. Frozen: build one with `load_settings` and pass it down."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, case_sensitive=False, frozen=True, extra="forbid")

    # mode
    mode: Literal["paper", "live"] = "paper"
    read_only: bool = False
    # storage and logs
    data_dir: Path = Path("var")
    database_url: str | None = None
    log_dir: Path | None = None
    lease_expiry_seconds: float = Field(60.0, gt=0)  # the instance lease (store/lease.py)
    log_level: str = "INFO"
    log_retention_days: int = Field(30, ge=1)
    # market data
    data: str = "bundled"
    universe: Annotated[list[str], NoDecode] = []
    universe_rule: str = ""  # as of each session (market/universe.py); empty: every symbol of the data
    calendar_override_file: Path | None = None
    # capital and strategy
    strategy: str = "dip_buy"  # dip_buy, atr_breakout, an entry point name or package.module:Class
    initial_capital: _Money = Decimal("1000000")
    capital_per_trade: _Money = Decimal("100000")
    max_positions: int = Field(6, ge=1)
    rsi_period: int = Field(10, ge=2)
    rsi_entry: _RsiLevel = 30.0
    rsi_add_levels: Annotated[list[_RsiLevel], NoDecode] = [20.0, 10.0]
    rsi_exit: _RsiLevel = 50.0
    ema_exit: int = Field(9, ge=1)
    ema_trend: int = Field(200, ge=1)
    min_history: int = Field(250, ge=1)
    min_avg_volume: float = Field(150000.0, ge=0)
    min_volume_ratio: float = Field(1.0, ge=0)
    buy_limit_premium: Decimal = Field(Decimal("0.01"), ge=0, lt=1)
    max_target_loss_pct: Decimal = Field(Decimal("5"), ge=0, le=100)
    stop_loss_pct: Annotated[Decimal, Field(gt=0, lt=100)] | None = None
    trailing_stop_pct: Annotated[Decimal, Field(gt=0, lt=100)] | None = None
    max_holding_days: Annotated[int, Field(ge=1)] | None = None
    use_market_amo: bool = False
    breakout_window: int = Field(55, ge=2)  # atr_breakout: enter on a close above the prior N-session high
    atr_period: int = Field(14, ge=1)
    atr_multiple: Decimal = Field(Decimal("3"), gt=0)  # atr_breakout: trailing stop = peak close - k * ATR
    # risk
    max_order_value: _Money = Decimal("250000")
    max_deployed_capital: _Money = Decimal("1000000")
    kill_switch: bool = False
    holdings_mismatch: Literal["flag", "adopt"] = "flag"  # broker holdings above our positions (recovery.py)
    # schedule (times are IST)
    special_session_tasks: Annotated[list[str], NoDecode] = ["monitor_sell_orders"]
    # paper broker and costs
    paper_price_band_pct: Decimal = Field(Decimal("20"), gt=0, le=100)
    paper_max_price_age_days: int = Field(1, ge=0, le=3650)  # trading days; older bars: no paper fill
    paper_prices: Literal["bars", "broker"] = "bars"  # broker: paper fills on Kotak quotes (broker/quote_prices.py)
    paper_max_quote_age_seconds: int = Field(120, ge=1, le=86400)  # older broker quotes: no paper fill
    data_wait_minutes: int = Field(90, ge=0, le=1000)  # the analysis waits this long for the day's bars
    sim_fast_forward: bool = True
    stt_rate: _Rate = Decimal("0.001")
    stamp_duty_rate: _Rate = Decimal("0.00015")
    exchange_txn_rate: _Rate | None = None  # unset: the dated NSE schedule
    sebi_rate: _Rate = Decimal("0.000001")
    gst_rate: _Rate = Decimal("0.18")
    brokerage_per_order: _Rate = Decimal("0")
    dp_charge: _Rate = Decimal("20")
    # Kotak Neo
    kotak_consumer_key: SecretStr | None = None
    kotak_mobile_number: SecretStr | None = None
    kotak_ucc: SecretStr | None = None
    kotak_totp_secret: SecretStr | None = None
    kotak_mpin: SecretStr | None = None
    kotak_login_url: str = "https://mis.kotaksecurities.com"
    kotak_orders_per_second: _PerSecond = 10.0
    kotak_reads_per_second: _PerSecond = 5.0
    kotak_timeout_seconds: _Seconds = 10.0
    # web dashboard
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(8765, ge=0, le=65535)
    web_password: SecretStr | None = None
    web_allowed_hosts: Annotated[list[str], NoDecode] = []
    # notifications: apprise URLs, comma or space separated (they embed tokens)
    notify_urls: SecretStr | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        blank = isinstance(value, str) and not value.strip()
        if blank and info.field_name is not None and cls.model_fields[info.field_name].default is None:
            return None
        return value

    @field_validator("universe", "rsi_add_levels", "special_session_tasks", "web_allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return [part for part in _LIST_SEPARATORS.split(value) if part] if isinstance(value, str) else value

    @field_validator("universe")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        symbols = [s.upper() for s in value]
        bad = [s for s in symbols if not _SYMBOL.fullmatch(s)]
        if bad:
            raise ValueError(f"not NSE symbols: {', '.join(bad)}")
        return symbols

    @field_validator("universe_rule")
    @classmethod
    def _check_universe_rule(cls, value: str) -> str:
        from swingtrader.market.universe import parse_rule

        if value.strip():
            parse_rule(value)
        return value.strip()

    @field_validator("strategy")
    @classmethod
    def _check_strategy(cls, value: str) -> str:
        from swingtrader.strategy.loader import BUILT_IN, strategy_class

        if value not in BUILT_IN:
            strategy_class(value)  # imports a user's module: a bad name fails here, before anything runs
        return value

    @field_validator("special_session_tasks")
    @classmethod
    def _check_tasks(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TASK_NAMES]
        if unknown:
            raise ValueError(f"unknown task(s) {', '.join(unknown)}; tasks are {', '.join(TASK_NAMES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return value.upper()

    @field_validator("kotak_mpin")
    @classmethod
    def _check_mpin(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\d{4,6}", value.get_secret_value()):
            raise ValueError("must be the 4 to 6 digit trading MPIN")
        return value

    @field_validator("kotak_mobile_number")
    @classmethod
    def _check_mobile(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"\+\d{10,15}", value.get_secret_value()):
            raise ValueError("must be the mobile number with its country code, e.g. +91 and 10 digits")
        return value

    @field_validator("kotak_totp_secret")
    @classmethod
    def _check_totp_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            secret = value.get_secret_value().upper()
            try:
                base64.b32decode(secret + "=" * (-len(secret) % 8))
            except (binascii.Error, ValueError):
                raise ValueError("must be the base32 secret of the authenticator (letters A-Z, digits 2-7)") from None
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        problems = []
        if any(level >= self.rsi_entry for level in self.rsi_add_levels) or self.rsi_add_levels != sorted(
            set(self.rsi_add_levels), reverse=True
        ):
            problems.append(
                f"{env_name('rsi_add_levels')}: levels must be distinct, descending and below "
                f"{env_name('rsi_entry')} ({self.rsi_entry:g})"
            )
        if self.web_enabled and self.web_password is None and not _is_loopback(self.web_host):
            problems.append(
                f"{env_name('web_password')}: required when {env_name('web_host')} ({self.web_host}) "
                "is not a loopback address"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        """`database_url`, or the SQLite file `<data_dir>/swingtrader.sqlite` when it is unset."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'swingtrader.sqlite').as_posix()}"

    @property
    def effective_log_dir(self) -> Path:
        """`log_dir`, or `<data_dir>/logs` when it is unset."""
        return self.log_dir if self.log_dir is not None else self.data_dir / "logs"

    def secret_values(self) -> list[str]:
        """Every non-empty secret value, for the log redactor.

        Includes each single URL of `notify_urls` and the password inside `database_url`.
        """
        values: list[str] = []
        for name in _SECRET_FIELDS:
            secret: SecretStr | None = getattr(self, name)
            if secret is not None:
                values.append(secret.get_secret_value())
        if self.notify_urls is not None:
            values.extend(_LIST_SEPARATORS.split(self.notify_urls.get_secret_value()))
        if self.database_url and urlsplit(self.database_url).password:
            values.append(str(urlsplit(self.database_url).password))
        return list(dict.fromkeys(v for v in values if v))

    def missing_live_credentials(self) -> list[str]:
        """Environment names (`SWINGTRADER_KOTAK_...`) of the Kotak credentials that are unset."""
        return [env_name(name) for name in _LIVE_CREDENTIALS if getattr(self, name) is None]

    @property
    def needs_broker(self) -> str | None:
        """Why these settings need the Kotak credentials (`SWINGTRADER_MODE=live`, or paper mode with
        `SWINGTRADER_PAPER_PRICES=broker`), or None when they do not."""
        if self.mode == "live":
            return f"{env_name('mode')}=live"
        if self.paper_prices == "broker":
            return f"{env_name('paper_prices')}=broker"
        return None

    def masked(self) -> dict[str, str]:
        """Every setting as display text keyed by its environment name, safe to print.

        A secret shows as `**********` when set and `(unset)` when not; a password in `database_url` is masked.
        """
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                text = "(unset)"
            elif name in _SECRET_FIELDS:
                text = MASK
            elif name == "database_url":
                text = _mask_url_password(value)
            elif isinstance(value, list):
                text = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
            elif isinstance(value, bool):
                text = str(value).lower()
            else:
                text = str(value)
            shown[env_name(name)] = text
        return shown


_SECRET_FIELDS = tuple(
    name for name, field in Settings.model_fields.items() if field.annotation in (SecretStr, SecretStr | None)
)


def load_settings(
    config_file: Path | str | None = None, *, require_live_credentials: bool = False, **overrides: Any
) -> Settings:
    """Read the env file (if given) and the environment, apply `overrides`, validate; raise `ConfigError`.

    Overrides are field names (`mode="live"`); an override of None is ignored, so optional command-line
    arguments can be passed straight through. With `require_live_credentials` (the `run --live` path),
    `mode=live` (or paper mode with `paper_prices=broker`) also needs all five Kotak credentials. The env file
    must hold only `KEY=VALUE` lines, comments and blank lines; its values are literal (no `${VAR}`
    expansion); keys without the `SWINGTRADER_` prefix are ignored, unknown `SWINGTRADER_` keys are errors.
    """
    file_values: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    if config_file is not None:
        file_values, problems = _read_env_file(Path(config_file))
    overrides = {k: v for k, v in overrides.items() if v is not None}
    in_environment = {key.lower() for key in os.environ}
    from_file = {
        name: value
        for name, (value, _) in file_values.items()
        if env_name(name).lower() not in in_environment and name not in overrides
    }
    try:
        settings = Settings(**(from_file | overrides))
    except ValidationError as exc:
        problems += [_describe(error, config_file, file_values, set(overrides)) for error in exc.errors()]
        raise ConfigError(_split_lines(problems)) from None
    if problems:
        raise ConfigError(problems)
    reason = settings.needs_broker
    if require_live_credentials and reason is not None and settings.missing_live_credentials():
        raise ConfigError([f"{name}: required when {reason}" for name in settings.missing_live_credentials()])
    return settings


def _read_env_file(path: Path) -> tuple[dict[str, tuple[str, int]], list[str]]:
    """The settings in `path` as {field: (value, line)}, and the problems found (malformed lines, unknown keys)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: config file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: config file is not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read config file ({exc.strerror})"]) from None
    values: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        line = _line_of(binding)
        if binding.error or (binding.key is not None and binding.value is None):
            problems.append(f"{path} line {line}: not a KEY=VALUE line (check the quoting)")
            continue
        if binding.key is None or not binding.key.upper().startswith(ENV_PREFIX):
            continue
        name = binding.key[len(ENV_PREFIX) :].lower()
        if name not in Settings.model_fields:
            guess = difflib.get_close_matches(name, Settings.model_fields, n=1)
            hint = f"; did you mean {env_name(guess[0])}?" if guess else ""
            problems.append(f"{binding.key.upper()} ({path} line {line}): unknown setting{hint}")
        elif name in values:
            problems.append(f"{env_name(name)}: set twice in {path} (lines {values[name][1]} and {line})")
        else:
            values[name] = (str(binding.value), line)
    return values, problems


def _line_of(binding: Binding) -> int:
    """The line where a binding's text starts (the parser counts from the blank lines before it)."""
    text = binding.original.string
    return binding.original.line + text[: len(text) - len(text.lstrip())].count("\n")


def _describe(error: Any, config_file: Path | str | None, file_values: dict[str, Any], overridden: set[str]) -> str:
    """One pydantic error as `SWINGTRADER_X: problem (got value; origin)`; never shows a secret's value."""
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    name = str(error["loc"][0])
    label = env_name(name) + "".join(f"[{part}]" for part in error["loc"][1:])
    if error["type"] == "extra_forbidden":
        return f"{label}: unknown setting"
    details = [] if name in _SECRET_FIELDS else [f"got {error['input']!r}"]
    if name in overridden:
        details.append("override")
    elif env_name(name).lower() in {key.lower() for key in os.environ}:
        details.append("from the environment")
    elif name in file_values:
        details.append(f"{config_file} line {file_values[name][1]}")
    return f"{label}: {message} ({'; '.join(details)})" if details else f"{label}: {message}"


def _split_lines(problems: list[str]) -> list[str]:
    return [line for problem in problems for line in problem.splitlines()]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
