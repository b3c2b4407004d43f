"""NSE tick sizes by date and exact rounding onto them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from swingtrader.market.ticks import is_on_tick, round_to_tick, tick_size

D = Decimal
BEFORE_2024 = date(2024, 6, 9)
FROM_2024 = date(2024, 6, 10)
FROM_2025 = date(2025, 4, 15)


@pytest.mark.parametrize(
    ("price", "on", "tick"),
    [
        ("100", BEFORE_2024, "0.05"),
        ("100", FROM_2024, "0.01"),
        ("249.99", FROM_2024, "0.01"),
        ("250", FROM_2024, "0.05"),
        ("25000", FROM_2024, "0.05"),
        ("1500", date(2025, 4, 14), "0.05"),
        ("1500", FROM_2025, "0.10"),
        ("249.99", FROM_2025, "0.01"),
        ("250", FROM_2025, "0.05"),
        ("1000", FROM_2025, "0.05"),
        ("1000.05", FROM_2025, "0.10"),
        ("5000", FROM_2025, "0.10"),
        ("5000.10", FROM_2025, "0.50"),
        ("10000", FROM_2025, "0.50"),
        ("10000.50", FROM_2025, "1.00"),
        ("20000", FROM_2025, "1.00"),
        ("20001", FROM_2025, "5.00"),
    ],
)
def test_tick_size_by_date_and_band(price, on, tick):
    assert tick_size(D(price), on) == D(tick)


def test_the_band_comes_from_the_reference_price():
    assert tick_size(D("251"), FROM_2025, reference_price=D("249.50")) == D("0.01")
    assert tick_size(D("249"), FROM_2025, reference_price=D("250")) == D("0.05")
    assert round_to_tick(D("251.03"), FROM_2025, "up", reference_price=D("249.50")) == D("251.03")
    assert round_to_tick(D("251.03"), FROM_2025, "up") == D("251.05")


@pytest.mark.parametrize(
    ("price", "on", "direction", "rounded"),
    [
        ("101.17", BEFORE_2024, "down", "101.15"),
        ("101.17", BEFORE_2024, "up", "101.20"),
        ("101.17", BEFORE_2024, "nearest", "101.15"),
        ("101.18", BEFORE_2024, "nearest", "101.20"),
        ("101.125", BEFORE_2024, "nearest", "101.10"),  # a tie goes to the even multiple (2022 ticks)
        ("101.175", BEFORE_2024, "nearest", "101.20"),  # (2024 ticks)
        ("101.15", BEFORE_2024, "up", "101.15"),  # already on the grid
        ("101.17", FROM_2024, "up", "101.17"),
        ("1234.56", FROM_2025, "down", "1234.50"),
        ("1234.56", FROM_2025, "up", "1234.60"),
        ("7777.77", FROM_2025, "down", "7777.50"),
        ("15000.01", FROM_2025, "up", "15001.00"),
        ("20001", FROM_2025, "down", "20000.00"),
        ("20001", FROM_2025, "up", "20005.00"),
    ],
)
def test_round_to_tick(price, on, direction, rounded):
    result = round_to_tick(D(price), on, direction)
    assert result == D(rounded)
    assert str(result) == rounded  # carries the tick's exponent


def test_rounding_is_exact_where_float_or_limited_precision_division_is_not():
    assert round(101.15 / 0.05) * 0.05 == 101.15000000000001  # the bug being avoided
    assert str(round_to_tick(101.15, BEFORE_2024, "nearest")) == "101.15"
    # 2001.000...0002 ticks: division at 28 digits would lose the remainder and round "up" to 100.05
    assert round_to_tick(D("100.0500000000000000000000000001"), BEFORE_2024, "up") == D("100.10")
    assert str(round_to_tick(D("101.1"), BEFORE_2024, "down")) == "101.10"
    assert str(round_to_tick(7, FROM_2025, "up")) == "7.00"
    assert str(round_to_tick("99.999", FROM_2024, "down")) == "99.99"


def test_is_on_tick():
    assert is_on_tick(D("249.99"), FROM_2025)
    assert not is_on_tick(D("250.01"), FROM_2025)
    assert is_on_tick(D("1000.10"), FROM_2025)
    assert not is_on_tick(D("1000.05"), FROM_2025)  # above 1,000 the step is 0.10
    assert is_on_tick(D("1000.05"), FROM_2025, reference_price=D("990"))
    assert not is_on_tick(D("100.01"), BEFORE_2024) and is_on_tick(D("100.01"), FROM_2024)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="direction"):
        round_to_tick(D("100"), FROM_2025, "ceil")
    with pytest.raises(ValueError, match="non-negative"):
        tick_size(D("-1"), FROM_2025)
    with pytest.raises(ValueError, match="finite"):
        round_to_tick(D("NaN"), FROM_2025, "up")
    with pytest.raises(TypeError):
        tick_size(True, FROM_2025)
