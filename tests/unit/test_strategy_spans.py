"""Strategy spans given as durations: one config serves hourly and minute data."""

from __future__ import annotations

import pytest

from cryptoj_actors.config import ConfigError, StrategyConfig
from cryptoj_actors.strategy.base import ParamError, load_strategy, spans_in_bars


def test_durations_become_whole_numbers_of_bars():
    params = {"fast_span": "7d", "vol_span": 336, "gross_target": 0.24}
    assert spans_in_bars(params, 3600) == {"fast_span": 168, "vol_span": 336,
                                           "gross_target": 0.24}
    assert spans_in_bars({"fast_span": "90m"}, 60) == {"fast_span": 90}
    assert spans_in_bars({"fast_span": "1.5h", "slow_span": "2w"}, 1800) == {
        "fast_span": 3, "slow_span": 672}


@pytest.mark.parametrize("value,interval,said", [
    ("7x", 3600, "a span is a number of bars or a duration"),
    ("90m", 3600, "90m is 1.5 bars of 3600 s: not a whole number of bars"),
    ("30s", 60, "30s is 0.5 bars of 60 s"),
    ("7d", None, "7d needs the bar interval"),
])
def test_a_duration_that_is_no_whole_number_of_bars_is_refused(value, interval, said):
    with pytest.raises(ParamError, match=said):
        spans_in_bars({"fast_span": value}, interval)


def test_the_strategy_counts_its_warm_up_in_bars_of_the_data():
    config = StrategyConfig(params={"fast_span": "7d", "slow_span": "28d", "vol_span": "14d"})
    hourly = load_strategy(config, ("BTC-USD",), "x.toml", bar_interval_s=3600)
    minute = load_strategy(config, ("BTC-USD",), "x.toml", bar_interval_s=60)
    assert hourly.warmup_bars == 672 and minute.warmup_bars == 40_320
    with pytest.raises(ConfigError, match=r"config x.toml: strategy.params.fast_span: 7d is "):
        load_strategy(StrategyConfig(params={"fast_span": "7d"}), ("BTC-USD",), "x.toml",
                      bar_interval_s=7 * 86_400 * 2)
