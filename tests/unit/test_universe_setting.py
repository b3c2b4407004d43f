"""`SWINGTRADER_UNIVERSE_RULE` is validated when the settings load: a bad rule is a `ConfigError` naming the
setting and where it came from; a good one is kept as written; empty means no rule."""

from __future__ import annotations

import pytest

from swingtrader.config import ConfigError, load_settings
from swingtrader.market.universe import ListedRule, TradedValueRule, parse_rule


@pytest.mark.parametrize("bad", ["top=0", "top=5,window=0", "listed,min_history=0", "bottom=3", "listed,top=5"])
def test_a_bad_rule_is_refused_naming_the_setting(tmp_path, monkeypatch, bad):
    monkeypatch.delenv("SWINGTRADER_UNIVERSE_RULE", raising=False)
    env_file = tmp_path / "swingtrader.env"
    env_file.write_text(f"SWINGTRADER_UNIVERSE_RULE={bad}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file)
    assert caught.value.problems == [
        f"SWINGTRADER_UNIVERSE_RULE: {bad!r}: expected top=N[,min_price=P][,window=W] (needs volume) or "
        f"listed[,min_price=P][,min_history=D], with N, W and D at least 1 (got {bad!r}; {env_file} line 1)"
    ]


def test_good_rules_load_and_parse(monkeypatch):
    monkeypatch.delenv("SWINGTRADER_UNIVERSE_RULE", raising=False)
    assert load_settings().universe_rule == ""
    monkeypatch.setenv("SWINGTRADER_UNIVERSE_RULE", " top=100, min_price=20 ")
    assert parse_rule(load_settings().universe_rule) == TradedValueRule(100, 20.0, 50)
    assert parse_rule("listed,min_price=2.5,min_history=250") == ListedRule(2.5, 250)
    assert parse_rule("LISTED") == ListedRule(0.0, 1)
