"""The search space of a sweep, its walk-forward windows, and the sweep's
bookkeeping driven in this process."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import optuna
import pytest

from cryptoj_actors.config import Config, StrategyConfig
from cryptoj_actors.research.folds import folds
from cryptoj_actors.research.space import Choices, Range, SearchSpace, SpaceError, apply
from cryptoj_actors.research.sweep import Settings, Sweep, storage_url
from cryptoj_actors.research.trial import evaluate
from tests.conftest import window


def space_file(tmp_path, text: str):
    path = tmp_path / "space.toml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


def test_a_space_file_names_strategy_parameters_and_risk_limits(tmp_path):
    space = SearchSpace.read(space_file(tmp_path, (
        '[strategy.params]\nfast_span = { low = 96, high = 240, step = 24 }\n'
        'slow_span = { choices = [504, 672, 840] }\n'
        '[risk]\nmax_drawdown = { low = 0.10, high = 0.30, step = 0.05 }\n')))
    assert space.grid() == {"strategy.fast_span": [96, 120, 144, 168, 192, 216, 240],
                            "strategy.slow_span": [504, 672, 840],
                            "risk.max_drawdown": [0.1, 0.15, 0.2, 0.25, 0.3]}


@pytest.mark.parametrize("text,said", [
    ("[strategy.params]\nx = { low = 2, high = 1 }\n", "strategy.params.x: low (2) must be"),
    ("[strategy.params]\nx = { low = 1, high = 2, stpe = 1 }\n", "x.stpe: Extra inputs"),
    ("[strategy.params]\nx = { choices = [] }\n", "x.choices: List should have at least 1"),
    ("[strategy.params]\nx = 3\n", "strategy.params.x: must be a table"),
    ("[risk]\nmax_drawdwn = { low = 0.1, high = 0.2 }\n", "risk.max_drawdwn: not a risk limit"),
    ("[portfolio]\nstarting_cash = { low = 1, high = 2 }\n", "portfolio: not a table"),
    ("", "names no parameter"),
    ("[strategy.params\n", "not valid TOML"),
    ("\udcff", "not UTF-8 text"),
])
def test_a_bad_space_is_refused_in_one_line_naming_the_key(tmp_path, text, said):
    with pytest.raises(SpaceError, match="^space .*space.toml: ") as error:
        SearchSpace.read(space_file(tmp_path, text))
    assert said in str(error.value) and "\n" not in str(error.value)


def test_suggestions_keep_to_the_range_and_its_step():
    space = SearchSpace({"strategy.fast_span": Range(low=96, high=240, step=24),
                         "strategy.rebalance_threshold": Range(low=0.01, high=0.03, step=0.005),
                         "risk.max_drawdown": Choices(choices=[0.1, 0.2])})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(50):
        point = space.suggest(study.ask())
        assert point["strategy.fast_span"] in range(96, 241, 24)
        assert point["strategy.rebalance_threshold"] in (0.01, 0.015, 0.02, 0.025, 0.03)
        assert point["risk.max_drawdown"] in (0.1, 0.2)


def test_a_point_is_applied_to_the_config_with_exact_risk_limits():
    config = apply(Config(), {"strategy.fast_span": 120, "risk.max_drawdown": 0.15})
    assert config.strategy.params["fast_span"] == 120
    assert config.risk.max_drawdown == Decimal("0.15")  # the digits given, not a float's
    with pytest.raises(ValueError, match="max_drawdown"):
        apply(Config(), {"risk.max_drawdown": 1.5})


def test_walk_forward_folds_tune_on_one_stretch_and_judge_on_the_next():
    cut = folds(20_111, 2)
    assert [(f.in_sample.start, f.in_sample.stop, f.out_of_sample.start, f.out_of_sample.stop)
            for f in cut] == [(0, 6703, 6703, 13406), (6703, 13406, 13406, 20111)]
    (whole,) = folds(100, 0)
    assert (whole.in_sample.start, whole.in_sample.stop, whole.out_of_sample) == (0, 100, None)
    with pytest.raises(ValueError, match="fewer than the 700 a window needs"):
        folds(2_000, 3, min_batches=700)


class InProcessCluster:
    """The sweep's cluster interface, one trial at a time in this process:
    real replays, counted."""

    slots = 1

    def __init__(self, aligned, config) -> None:
        self.aligned, self.config = aligned, config
        self.replays: list[dict] = []
        self._results: dict[int, object] = {}

    def submit(self, window, params):
        self.replays.append(dict(params))
        ref = len(self.replays)
        self._results[ref] = evaluate(window.of(self.aligned), self.config, params)
        return ref

    def next_done(self, pending, timeout_s):
        return pending[0]

    def result(self, ref):
        return self._results.pop(ref)


def test_a_point_asked_again_takes_its_result_instead_of_a_second_replay(aligned_real,
                                                                          tmp_path):
    cut = window(aligned_real, "2017-10-15T00:00:00", 300)
    config = replace(Config(), strategy=StrategyConfig(params={
        "fast_span": 12, "slow_span": 48, "vol_span": 24})).with_state_dir(tmp_path)
    space = SearchSpace({"strategy.rebalance_threshold": Choices(choices=[0.015])})
    cluster = InProcessCluster(cut, config)
    sweep = Sweep(Settings("return", trials=3), space, folds(300, 0),
                  storage_url(tmp_path), "fingerprint", cluster)
    rows = sweep.run().rows
    assert len(cluster.replays) == 1  # one point, one replay
    assert [r.reused for r in rows] == [False, True, True]
    assert len({r.value for r in rows}) == 1 and rows[0].value is not None
    assert rows[0].result.trades > 0
