"""Delivery (CNC) trade charges, checked against amounts worked out by hand."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date
from decimal import Decimal

import pytest

from swingtrader.market.costs import Charges, CostRates, delivery_charges

D = Decimal


def test_a_buy_of_one_lakh_after_october_2024():
    # STT 0.1% = 100.00; stamp 0.015% = 15.00; exchange 0.00297% = 2.97; SEBI 0.0001% = 0.10;
    # GST 18% of (0 + 2.97 + 0.10) = 0.5526 -> 0.55; total 118.62
    charges = delivery_charges("BUY", D("100000"), date(2025, 1, 10))
    assert charges == Charges(brokerage=D("0.00"), stt=D("100.00"), exchange_txn=D("2.97"), sebi=D("0.10"),
                              stamp_duty=D("15.00"), dp=D("0.00"), gst=D("0.55"))
    assert charges.total == D("118.62")


def test_a_sell_before_october_2024_pays_the_old_exchange_rate_and_the_depository_charge():
    # STT 100.00; exchange 0.00322% = 3.22; SEBI 0.10; DP 20.00; no stamp duty;
    # GST 18% of (3.22 + 0.10 + 20.00) = 4.1976 -> 4.20; total 127.52
    charges = delivery_charges("SELL", D("100000"), date(2024, 9, 30))
    assert (charges.exchange_txn, charges.stamp_duty, charges.dp) == (D("3.22"), D("0"), D("20"))
    assert charges.gst == D("4.20")
    assert charges.total == D("127.52")
    assert delivery_charges("SELL", D("100000"), date(2024, 10, 1)).exchange_txn == D("2.97")


def test_brokerage_and_rounding_each_component_half_up():
    # brokerage 20.00; STT 50.00; exchange 50,000 x 0.0000297 = 1.485 -> 1.49 (half up); SEBI 0.05; DP 20.00;
    # GST 18% of (20.00 + 1.49 + 0.05 + 20.00) = 7.4772 -> 7.48; total 99.02
    charges = delivery_charges("SELL", D("50000"), date(2025, 3, 3), CostRates(brokerage_per_order=D("20")))
    assert charges.exchange_txn == D("1.49")
    assert charges.gst == D("7.48")
    assert charges.total == D("99.02")
    assert str(delivery_charges("BUY", D("5"), date(2025, 3, 3)).stt) == "0.01"  # 0.005 rounds up


def test_later_sells_of_a_scrip_on_the_same_day_skip_the_depository_charge():
    charges = delivery_charges("SELL", D("100000"), date(2025, 1, 10), include_dp=False)
    # STT 100.00 + exchange 2.97 + SEBI 0.10 + GST 18% of 3.07 = 0.5526 -> 0.55
    assert (charges.dp, charges.total) == (D("0"), D("103.62"))


def test_a_single_exchange_rate_applies_on_every_date():
    rates = CostRates(exchange_txn=D("0.00003"))
    assert delivery_charges("BUY", D("100000"), date(2024, 1, 10), rates).exchange_txn == D("3.00")
    assert delivery_charges("BUY", D("100000"), date(2025, 1, 10), rates).exchange_txn == D("3.00")
    with pytest.raises(FrozenInstanceError):
        rates.stt = D("0")  # type: ignore[misc]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="side"):
        delivery_charges("buy", D("100"), date(2025, 1, 10))
    with pytest.raises(TypeError):
        delivery_charges("BUY", 100.0, date(2025, 1, 10))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        delivery_charges("SELL", D("-1"), date(2025, 1, 10))
