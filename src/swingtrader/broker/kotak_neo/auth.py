"""Kotak Neo credentials and the TOTP guard: one TOTP code is used at most once. (The stop after repeated
refused logins is the session manager's, the only login breaker.)"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from pydantic import SecretStr

from swingtrader.broker.base import LoginFailed
from swingtrader.clock import UTC, Clock

TOTP_STEP = 30
_SETTINGS = {
    "consumer_key": "kotak_consumer_key",
    "mobile_number": "kotak_mobile_number",
    "ucc": "kotak_ucc",
    "totp_secret": "kotak_totp_secret",
    "mpin": "kotak_mpin",
}


@dataclass(frozen=True)
class KotakCredentials:
    """The five secrets of a Kotak Neo trade-API login (all `SecretStr`: the mobile number and UCC are personal
    data). `secrets()` lists their values for a log redaction filter."""

    consumer_key: SecretStr
    mobile_number: SecretStr
    ucc: SecretStr
    totp_secret: SecretStr
    mpin: SecretStr

    @classmethod
    def from_settings(cls, settings: Any) -> KotakCredentials:
        """Read `settings.kotak_*`; raise `ValueError` naming every missing setting."""
        values = {field: getattr(settings, name, None) for field, name in _SETTINGS.items()}
        missing = [_SETTINGS[f] for f, v in values.items() if v is None or not _reveal(v).strip()]
        if missing:
            raise ValueError(f"missing Kotak Neo credentials: {', '.join(missing)}")
        return cls(**{f: SecretStr(_reveal(v).strip()) for f, v in values.items()})

    def secrets(self) -> list[str]:
        return [s.get_secret_value() for s in (self.consumer_key, self.mobile_number, self.ucc, self.totp_secret,
                                               self.mpin)]

    def __repr__(self) -> str:
        return "KotakCredentials(**********)"


def _reveal(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def totp_window(moment: datetime) -> int:
    """The index of the 30-second TOTP window containing `moment`."""
    return int(moment.timestamp()) // TOTP_STEP


class TotpGuard:
    """Hands out TOTP codes, never the same window twice: a second login inside one window waits for the next
    window on the clock (at most 30 s), or fails clearly if `wait` is False."""

    def __init__(self, secret: SecretStr, clock: Clock, *, wait: bool = True) -> None:
        try:
            self._totp = pyotp.TOTP(secret.get_secret_value().replace(" ", "").upper())
            self._totp.at(0)
        except (ValueError, TypeError) as exc:  # binascii.Error is a ValueError; messages carry no secret
            raise LoginFailed(f"the TOTP secret is not a usable base32 secret ({exc})") from None
        self._clock = clock
        self._wait = wait
        self._last_window: int | None = None
        self._lock = threading.Lock()

    def code(self) -> str:
        with self._lock:
            now = self._clock.now()
            window = totp_window(now)
            if window == self._last_window:
                if not self._wait:
                    raise LoginFailed("this TOTP code was already used; wait for the next 30-second window")
                start = datetime.fromtimestamp((window + 1) * TOTP_STEP, UTC)
                self._clock.sleep_until(start + timedelta(milliseconds=50))
                now = self._clock.now()
                window = totp_window(now)
                if window == self._last_window:
                    raise LoginFailed("the clock did not reach the next TOTP window; refusing to reuse the code")
            self._last_window = window
            return self._totp.at(now)
