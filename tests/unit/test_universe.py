"""The liquidity universe rule as of a session equals an independent pandas computation over a small
full-exchange file with a delisted symbol, a later listing and a penny stock."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from swingtrader.market.bars import open_bar_source
from swingtrader.market.universe import RuleNeedsVolume, TradedValueRule, members, parse_rule

DAYS = [date(2023, 1, 2) + timedelta(days=i) for i in range(40) if (date(2023, 1, 2) + timedelta(days=i)).weekday() < 5]


def exchange_file(tmp_path, volume: bool = True):
    rng = np.random.default_rng(7)
    rows = []
    for k, sym in enumerate(["AAA", "BBB", "CCC", "DELISTED", "NEWCO", "PENNY", "QUIET"]):
        for i, d in enumerate(DAYS):
            if (sym == "DELISTED" and i >= 15) or (sym == "NEWCO" and i < 12) or (sym == "QUIET" and i % 3):
                continue
            close = 3.0 if sym == "PENNY" else 100 + 10 * k + rng.normal()
            rows.append({"symbol": sym, "date": d.isoformat(), "open": close, "high": close + 1, "low": close - 1,
                         "close": round(close, 2), "volume": int(rng.integers(1_000, 50_000)) * (k + 1)})
    frame = pd.DataFrame(rows)
    path = tmp_path / "universe.csv"
    frame.drop(columns=[] if volume else ["volume"]).to_csv(path, index=False)
    return path, frame


def independent(frame: pd.DataFrame, day: date, top: int, min_price: float, window: int) -> list[str]:
    frame = frame.assign(date=pd.to_datetime(frame["date"]), value=frame["close"] * frame["volume"])
    dates = sorted(frame["date"].unique())
    upto = [d for d in dates if d <= pd.Timestamp(day)][-window:]
    inwin = frame[frame["date"].isin(upto)]
    median = inwin.groupby("symbol")["value"].median()
    today = frame[frame["date"] == pd.Timestamp(day)].set_index("symbol")["close"]
    eligible = today[today >= min_price].index
    ranked = median[median.index.isin(eligible)].reset_index().sort_values(["value", "symbol"],
                                                                        ascending=[False, True])
    return ranked["symbol"].head(top).tolist()


def test_members_as_of_each_session_match_pandas(tmp_path):
    path, frame = exchange_file(tmp_path)
    panel = open_bar_source(str(path)).panel()
    rule = parse_rule("top=3, min_price=10, window=10")
    assert rule == TradedValueRule(3, 10.0, 10)
    seen = set()
    for day in DAYS[5:]:
        chosen = members(panel, day, rule)
        assert chosen == independent(frame, day, 3, 10.0, 10), day
        seen.update(chosen)
    assert "PENNY" not in seen  # under the minimum price
    early, late = members(panel, DAYS[10], TradedValueRule(10, 10.0, 10)), members(panel, DAYS[-1], TradedValueRule(10))
    assert "DELISTED" in early and "NEWCO" not in early  # as of day 10: still listed, not yet listed
    assert "DELISTED" not in late and "NEWCO" in late and "PENNY" in late  # later: gone, joined; no price floor
    assert members(panel, date(2023, 1, 1), rule) == []  # not a session


def test_the_rule_needs_volume_and_a_valid_spec(tmp_path):
    path, _ = exchange_file(tmp_path, volume=False)
    with pytest.raises(RuleNeedsVolume):
        members(open_bar_source(str(path)).panel(), DAYS[5], TradedValueRule(3))
    for bad in ("top=0", "bottom=3", "top=3,window=0"):
        with pytest.raises(ValueError):
            parse_rule(bad)
