"""Statutory and broker charges on a delivery (CNC) equity trade on NSE.

Rates are data (`CostRates`, defaults per NSE_MARKET_RULES.md) so settings can replace them when they change.
Each component is rounded to paise (ROUND_HALF_UP); GST is charged on the rounded brokerage, exchange, SEBI and
depository components, and the total is the sum of the rounded components.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["DEFAULT_RATES", "EXCHANGE_TXN_RATES", "Charges", "CostRates", "delivery_charges"]

EXCHANGE_TXN_RATES: tuple[tuple[date, Decimal], ...] = (
    (date.min, Decimal("0.0000322")),
    (date(2024, 10, 1), Decimal("0.0000297")),
)
"""NSE's exchange transaction charge as (effective date, fraction of turnover), oldest first."""

_PAISA = Decimal("0.01")
_ZERO = Decimal("0.00")


@dataclass(frozen=True)
class CostRates:
    """Charge rates: fractions of trade value unless noted.

    `exchange_txn` is one rate for every date, or dated rates like `EXCHANGE_TXN_RATES` (the default).
    """

    stt: Decimal = Decimal("0.001")  # securities transaction tax, buy and sell
    stamp_duty: Decimal = Decimal("0.00015")  # buy only
    exchange_txn: Decimal | tuple[tuple[date, Decimal], ...] = EXCHANGE_TXN_RATES
    sebi: Decimal = Decimal("0.000001")  # 10 rupees per crore
    gst: Decimal = Decimal("0.18")  # on brokerage, exchange, SEBI and depository charges
    brokerage_per_order: Decimal = Decimal("0")  # rupees
    dp_charge: Decimal = Decimal("20")  # rupees per scrip per sell day, before GST

    def exchange_txn_on(self, day: date) -> Decimal:
        """The exchange transaction charge rate in force on `day`."""
        if isinstance(self.exchange_txn, Decimal):
            return self.exchange_txn
        return [rate for effective, rate in self.exchange_txn if effective <= day][-1]


DEFAULT_RATES = CostRates()


@dataclass(frozen=True)
class Charges:
    """The charges on one order's fills in one scrip on one day, each in rupees rounded to paise."""

    brokerage: Decimal
    stt: Decimal
    exchange_txn: Decimal
    sebi: Decimal
    stamp_duty: Decimal
    dp: Decimal
    gst: Decimal

    @property
    def total(self) -> Decimal:
        return sum((getattr(self, f.name) for f in fields(self)), _ZERO)


def delivery_charges(
    side: str, value: Decimal, on: date, rates: CostRates = DEFAULT_RATES, include_dp: bool = True
) -> Charges:
    """Charges for buying or selling (`side` "BUY" | "SELL") shares worth `value` rupees on trading date `on`.

    The depository charge applies to a sale once per scrip per day: pass `include_dp=False` for further sells
    of the same scrip on the same day.
    """
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be 'BUY' or 'SELL', not {side!r}")
    if not isinstance(value, Decimal | int) or isinstance(value, bool):
        raise TypeError(f"value must be a Decimal (or int), not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite() or value < 0:
        raise ValueError(f"value must be a finite, non-negative amount, not {value}")
    buy = side == "BUY"
    brokerage = _paise(rates.brokerage_per_order)
    exchange_txn = _paise(value * rates.exchange_txn_on(on))
    sebi = _paise(value * rates.sebi)
    dp = _paise(rates.dp_charge) if not buy and include_dp else _ZERO
    return Charges(
        brokerage=brokerage,
        stt=_paise(value * rates.stt),
        exchange_txn=exchange_txn,
        sebi=sebi,
        stamp_duty=_paise(value * rates.stamp_duty) if buy else _ZERO,
        dp=dp,
        gst=_paise((brokerage + exchange_txn + sebi + dp) * rates.gst),
    )


def _paise(amount: Decimal) -> Decimal:
    return amount.quantize(_PAISA, rounding=ROUND_HALF_UP)
