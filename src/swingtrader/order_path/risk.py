"""Checks an intent passes before it is stored or sent: the task's `Gate` (positions, cash) and the pre-trade
limits (`RiskLimits`: kill switch, order value, deployed capital, price band)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal

from swingtrader.broker.base import Side
from swingtrader.order_path.intent import Gate, OrderIntent


@dataclass(frozen=True)
class RiskLimits:
    """Pre-trade checks applied before any order leaves the process."""

    max_order_value: Decimal
    max_deployed_capital: Decimal
    band_pct: Decimal
    kill_switch: Callable[[], bool]
    deployed_capital: Callable[[], Decimal]


def gate_refusal(gate: Gate, working_buys: Callable[[], Collection[str]], cash: Callable[[], Decimal]) -> str | None:
    """Why a new intent fails its task's gate (`max_positions`, `insufficient_funds`), or None. `working_buys`
    (symbols with a working buy) and `cash` (the broker's available cash) are read only when needed."""
    if gate.max_positions is not None and len(gate.held | set(working_buys())) >= gate.max_positions:
        return "max_positions"
    if gate.cash_needed > cash():
        return "insufficient_funds"
    return None


def limit_refusal(limits: RiskLimits, intent: OrderIntent) -> str | None:
    """Why `intent` breaks a pre-trade limit (`kill_switch`, `max_order_value`, `max_deployed_capital`,
    `outside_price_band`), or None."""
    if limits.kill_switch():
        return "kill_switch"
    ref = intent.price if intent.price is not None else intent.reference_price
    if intent.side is Side.BUY:
        value = ref * intent.quantity
        if value > limits.max_order_value:
            return "max_order_value"
        if limits.deployed_capital() + value > limits.max_deployed_capital:
            return "max_deployed_capital"
    if intent.price is not None:
        band = intent.reference_price * limits.band_pct / Decimal(100)
        if not intent.reference_price - band <= intent.price <= intent.reference_price + band:
            return "outside_price_band"
    return None
