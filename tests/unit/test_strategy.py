"""Strategy statistics, the built-in trend strategy and strategy loading."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.dataclasses import dataclass

from cryptoj_actors.config import ConfigError, StrategyConfig, load_config
from cryptoj_actors.config_fields import SECTION, Dec, Fraction, Str, one_of
from cryptoj_actors.marketdata.bars.align import align
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.strategy.base import (
    ParamError,
    Strategy,
    check_params,
    load_strategy,
)
from cryptoj_actors.strategy.stats import Ema, EwmCovariance, alpha_for_span
from cryptoj_actors.strategy.trend import TrendParams, TrendRiskParity

D = Decimal
H = 3_600 * 1_000_000_000
PRODUCTS = ("BTC-USD", "ETH-USD", "LTC-USD")
SMALL = dict(fast_span=5, slow_span=20, vol_span=10)


# --- helpers ------------------------------------------------------------------------


def batches_from_prices(prices: Sequence[Sequence[float]],
                        products: Sequence[str] = PRODUCTS) -> list[MarketBatch]:
    """One batch per row of ``prices`` (one close per product)."""
    out = []
    for k, row in enumerate(prices):
        bars = []
        for product, price in zip(products, row):
            close = D(repr(round(price, 6)))
            bars.append(Bar(product_id=product, start_ns=k * H, interval_ns=H, open=close,
                            high=close, low=close, close=close, volume=D(1)))
        out.append(MarketBatch(sender="feed", ts_ns=(k + 1) * H, seq=k + 1, events=tuple(bars)))
    return out


def random_walks(n: int, drifts: Sequence[float], noise: float = 0.002,
                 seed: int = 7, common: float = 0.0) -> list[list[float]]:
    """Log-price random walks with drifts, own noise and a shared (correlating) factor."""
    rng = random.Random(seed)
    logs = [math.log(100.0)] * len(drifts)
    rows = []
    for _ in range(n):
        shared = rng.gauss(0.0, common)
        logs = [lg + d + shared + rng.gauss(0.0, noise) for lg, d in zip(logs, drifts)]
        rows.append([round(math.exp(lg), 6) for lg in logs])  # as the bars will carry them
    return rows


def run(strategy: TrendRiskParity, batches: Sequence[MarketBatch]) -> list[tuple]:
    return [tuple(strategy.on_batch(b)) for b in batches]


def ema_reference(xs: Sequence[float], alpha: float) -> float:
    """Seeded EMA written out: (1-a)^(n-1) x0 + sum_k a (1-a)^(n-1-k) x_k."""
    n = len(xs)
    return (1 - alpha) ** (n - 1) * xs[0] + sum(
        alpha * (1 - alpha) ** (n - 1 - k) * xs[k] for k in range(1, n))


def ewm_reference(rows: Sequence[Sequence[float]], alpha: float):
    """Weighted mean and covariance, written out.

    The recursion starts from mean 0 and covariance 0, i.e. from one prior
    observation at 0; after n updates that point weighs (1-a)^n and
    observation k weighs a (1-a)^(n-k). Weights sum to 1.
    """
    n = len(rows)
    m = len(rows[0])
    weights = [alpha * (1 - alpha) ** (n - 1 - k) for k in range(n)]
    prior = (1 - alpha) ** n
    mean = [sum(w * r[i] for w, r in zip(weights, rows)) for i in range(m)]
    cov = [[sum(w * (r[i] - mean[i]) * (r[j] - mean[j]) for w, r in zip(weights, rows))
            + prior * mean[i] * mean[j] for j in range(m)] for i in range(m)]
    return mean, cov


def trend_reference(prices: Sequence[Sequence[float]], *, fast_span, slow_span, vol_span,
                    signal_full_scale=0.5, gross_target=0.24, max_weight=0.08,
                    min_weight=0.02, correlation_weight=0.30, volatility_weight=0.40):
    """The module docstring of strategy.trend, computed directly from the price rows."""
    n = len(prices[0])
    logs = [[math.log(row[i]) for row in prices] for i in range(n)]
    returns = [[logs[i][t] - logs[i][t - 1] for i in range(n)] for t in range(1, len(prices))]
    _, cov = ewm_reference(returns, alpha_for_span(vol_span))
    sigma = [math.sqrt(cov[i][i]) for i in range(n)]
    signals = []
    for i in range(n):
        gap = ema_reference(logs[i], alpha_for_span(fast_span)) - ema_reference(
            logs[i], alpha_for_span(slow_span))
        z = gap / (sigma[i] * math.sqrt(slow_span))
        signals.append(min(1.0, max(0.0, z / signal_full_scale)))
    active = [i for i in range(n) if signals[i] > 0]
    weights = [0.0] * n
    inv = {i: 1 / sigma[i] for i in active}
    for i in active:
        base = (1 - volatility_weight) / len(active) + volatility_weight * inv[i] / sum(
            inv.values())
        others = [max(0.0, cov[i][j] / (sigma[i] * sigma[j])) for j in active if j != i]
        penalty = 1 - correlation_weight * sum(others) / len(others) if others else 1.0
        w = min(max_weight, gross_target * signals[i] * base * penalty)
        weights[i] = w if w >= min_weight else 0.0
    return signals, weights


# --- alpha, Ema, EwmCovariance ------------------------------------------------------------


@pytest.mark.parametrize(("span", "alpha"), [(1, 1.0), (3, 0.5), (19, 0.1), (168, 2 / 169),
                                             (1.5, 0.8)])
def test_alpha_for_span(span, alpha):
    assert alpha_for_span(span) == pytest.approx(alpha, rel=1e-15)


@pytest.mark.parametrize("span", [0, 0.5, -3])
def test_alpha_for_span_refuses_spans_below_one(span):
    with pytest.raises(ValueError) as info:
        alpha_for_span(span)
    assert str(info.value) == f"span must be at least 1 observation, got {span}"


def test_ema_is_seeded_by_the_first_observation():
    ema = Ema(3)
    assert math.isnan(ema.value) and ema.count == 0
    assert ema.update(10.0) == 10.0
    assert ema.update(20.0) == 15.0   # alpha 0.5
    assert ema.update(5.0) == 10.0
    assert ema.count == 3


def test_ema_matches_the_direct_formula():
    xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]
    for span in (1, 2, 4, 10):
        ema = Ema(span)
        for n, x in enumerate(xs, start=1):
            value = ema.update(x)
            assert value == pytest.approx(ema_reference(xs[:n], alpha_for_span(span)),
                                          rel=1e-12, abs=1e-12)


def test_ema_span_one_follows_the_last_value():
    ema = Ema(1)
    for x in (5.0, -2.0, 7.5):
        assert ema.update(x) == x


def test_ewm_covariance_matches_the_direct_formula():
    rows = [[0.01, -0.02, 0.005], [0.03, 0.01, -0.01], [-0.02, 0.0, 0.02], [0.005, 0.015, 0.0],
            [0.0, -0.01, 0.01], [0.02, 0.02, -0.005], [-0.01, 0.005, 0.003]]
    cov = EwmCovariance(3, span=4)
    assert cov.alpha == 0.4
    for n in range(1, len(rows) + 1):
        cov.update(rows[n - 1])
        mean, expected = ewm_reference(rows[:n], 0.4)
        assert cov.count == n
        assert cov.mean == pytest.approx(mean, rel=1e-12, abs=1e-15)
        for i in range(3):
            assert cov.cov[i] == pytest.approx(expected[i], rel=1e-12, abs=1e-15)
            assert cov.volatility(i) == pytest.approx(math.sqrt(expected[i][i]), rel=1e-12)
            for j in range(3):
                assert cov.cov[i][j] == cov.cov[j][i]
                assert cov.correlation(i, j) == pytest.approx(
                    expected[i][j] / math.sqrt(expected[i][i] * expected[j][j]), rel=1e-10)


def test_ewm_covariance_first_update_by_hand():
    cov = EwmCovariance(2, span=3)  # alpha 0.5
    cov.update([2.0, -4.0])
    assert cov.mean == [1.0, -2.0]
    # (1 - a) * a * d d^T with d = x
    assert cov.cov == [[1.0, -2.0], [-2.0, 4.0]]
    assert cov.volatility(1) == 2.0
    assert cov.correlation(0, 1) == -1.0


def test_correlation_with_itself_is_one_and_with_its_negation_minus_one():
    rng = random.Random(3)
    cov = EwmCovariance(3, span=10)
    for _ in range(50):
        x = rng.gauss(0, 0.01)
        cov.update([x, x, -x])
    assert cov.correlation(0, 1) == pytest.approx(1.0, abs=1e-12)
    assert cov.correlation(0, 2) == pytest.approx(-1.0, abs=1e-12)
    assert cov.correlation(1, 2) == pytest.approx(-1.0, abs=1e-12)
    assert cov.correlation(0, 0) == pytest.approx(1.0, abs=1e-12)


def test_correlation_without_variance_is_zero():
    cov = EwmCovariance(2, span=5)
    assert cov.correlation(0, 1) == 0.0
    cov.update([0.0, 0.3])
    assert cov.volatility(0) == 0.0 and cov.volatility(1) > 0
    assert cov.correlation(0, 1) == 0.0


# --- TrendRiskParity: parameters -------------------------------------------------------------


WEIGHT = "must be a fraction in [0, 1] (0.30 means 30 %)"
THRESHOLD = "must be a fraction in [0, 1) (0.015 means 1.5 %)"
GROSS = "must be a fraction in (0, 1] (0.10 means 10 %)"
TREND_PARAMS = ("correlation_weight, fast_span, gross_target, max_weight, min_weight, "
                "rebalance_threshold, signal_full_scale, slow_span, vol_span, volatility_weight")


@pytest.mark.parametrize(
    ("params", "key", "reason"),
    [
        ({"fast_span": 0}, "fast_span", "must be at least 1 bar, got 0"),
        ({"fast_span": 672}, "slow_span", "must be greater than fast_span (672), got 672"),
        ({"slow_span": 100}, "slow_span", "must be greater than fast_span (168), got 100"),
        ({"vol_span": 1}, "vol_span", "must be at least 2 bars, got 1"),
        ({"signal_full_scale": 0}, "signal_full_scale", "must be greater than 0, got 0"),
        ({"signal_full_scale": math.nan}, "signal_full_scale", "must be a finite number, got nan"),
        ({"gross_target": 0}, "gross_target", f"{GROSS}, got 0"),
        ({"gross_target": 1.01}, "gross_target", f"{GROSS}, got 1.01"),
        ({"min_weight": -0.01}, "min_weight", f"{WEIGHT}, got -0.01"),
        ({"min_weight": 0.09}, "min_weight", "must not exceed max_weight (0.08), got 0.09"),
        ({"max_weight": 1.5}, "max_weight", f"{WEIGHT}, got 1.5"),
        ({"correlation_weight": 1.1}, "correlation_weight", f"{WEIGHT}, got 1.1"),
        ({"volatility_weight": -0.1}, "volatility_weight", f"{WEIGHT}, got -0.1"),
        ({"rebalance_threshold": 1}, "rebalance_threshold", f"{THRESHOLD}, got 1"),
        ({"rebalance_threshold": -0.01}, "rebalance_threshold", f"{THRESHOLD}, got -0.01"),
        ({"slow_span": 672.0}, "slow_span", "must be an integer, got 672.0"),
        ({"fast_span": True}, "fast_span", "must be an integer, got True"),
        ({"gross_target": "0.2"}, "gross_target", "must be a finite number, got '0.2'"),
        ({"fastspan": 10}, "fastspan", f"unknown key (known: {TREND_PARAMS})"),
    ],
)
def test_parameter_validation_names_the_parameter(params, key, reason):
    with pytest.raises(ParamError) as info:
        TrendRiskParity(products=PRODUCTS, **params)
    assert isinstance(info.value, ValueError)
    assert (info.value.key, info.value.reason) == (key, reason)
    assert str(info.value) == f"{key}: {reason}"


def test_the_parameters_are_declared_once_in_params():
    s = TrendRiskParity(products=PRODUCTS, fast_span=10, slow_span=40, gross_target=1)
    assert TrendRiskParity.Params is TrendParams
    assert s.params == TrendParams(fast_span=10, slow_span=40, gross_target=1.0)
    assert type(s.params.gross_target) is float
    assert TrendRiskParity(products=PRODUCTS).params == TrendParams()


def test_a_fast_span_below_one_bar_is_refused_by_name():
    with pytest.raises(ValueError, match="fast_span"):
        TrendRiskParity(products=PRODUCTS, fast_span=0.5)


def test_defaults_and_threshold():
    s = TrendRiskParity(products=PRODUCTS)
    assert s.products == PRODUCTS
    assert (s.slow_span, s.gross_target, s.max_weight, s.min_weight) == (672, 0.24, 0.08, 0.02)
    assert s.threshold == D("0.0150")
    assert isinstance(s, Strategy)


# --- TrendRiskParity: behaviour on synthetic data ----------------------------------------------


def test_no_intents_before_slow_span_bars_then_one_per_product():
    prices = random_walks(30, [0.01, 0.0, -0.01])
    s = TrendRiskParity(products=PRODUCTS, **SMALL)
    out = run(s, batches_from_prices(prices))
    assert out[:19] == [()] * 19
    assert s.bars_seen == 30
    for intents in out[19:]:
        assert [i.product_id for i in intents] == list(PRODUCTS)
        for i in intents:
            assert i.rebalance_threshold == D("0.0150")
            assert i.reason == "rebalance"
            assert i.target_weight == i.target_weight.quantize(D("0.0001"))


def test_batches_without_bars_are_ignored():
    s = TrendRiskParity(products=PRODUCTS, **SMALL)
    empty = MarketBatch(sender="feed", ts_ns=H, seq=1, events=())
    assert s.on_batch(empty) == ()
    assert s.bars_seen == 0
    other = batches_from_prices([[1.0]], products=["DOGE-USD"])[0]
    assert s.on_batch(other) == ()
    assert s.bars_seen == 0


def test_a_bar_time_waits_until_every_product_has_its_bar():
    # live: the products' bars of one hour close in different batches
    prices = random_walks(26, [0.01, 0.01, 0.01])
    batches = batches_from_prices(prices)
    s = TrendRiskParity(products=PRODUCTS, **SMALL)
    run(s, batches[:24])
    seen = s.bars_seen
    last = batches[24]
    partial = MarketBatch(sender="feed", ts_ns=last.ts_ns, seq=last.seq,
                          events=(last.events[2], last.events[0]))
    assert s.on_batch(partial) == () and s.bars_seen == seen
    rest = MarketBatch(sender="feed", ts_ns=last.ts_ns, seq=last.seq + 1,
                       events=(last.events[1],))
    assert [i.product_id for i in s.on_batch(rest)] == list(PRODUCTS)
    assert s.bars_seen == seen + 1


def test_a_hole_is_passed_once_every_product_has_moved_on():
    prices = random_walks(27, [0.01, 0.01, 0.01])
    batches = batches_from_prices(prices)
    s = TrendRiskParity(products=PRODUCTS, **SMALL)
    run(s, batches[:24])
    seen = s.bars_seen
    hole = batches[24]  # ETH has no bar at this time, ever
    s.on_batch(MarketBatch(sender="feed", ts_ns=hole.ts_ns, seq=hole.seq,
                           events=(hole.events[0], hole.events[2])))
    assert s.bars_seen == seen
    out = s.on_batch(batches[25])  # every product has a later bar: the hole is passed
    assert s.bars_seen == seen + 2 and len(out) == 3


def test_weights_match_a_direct_computation():
    # correlated products; weights uncapped so the blend and the penalty both show
    params = dict(SMALL, gross_target=0.5, max_weight=1.0, min_weight=0.02)
    prices = random_walks(60, [0.004, 0.003, -0.002], noise=0.006, common=0.008, seed=4)
    s = TrendRiskParity(products=PRODUCTS, **params)
    out = run(s, batches_from_prices(prices))
    active_counts = []
    for n in (20, 40, 60):
        s2 = TrendRiskParity(products=PRODUCTS, **params)
        run(s2, batches_from_prices(prices[:n]))
        signals, weights = trend_reference(prices[:n], **params)
        assert [s2.signal(i) for i in range(3)] == pytest.approx(signals, rel=1e-9, abs=1e-12)
        assert s2.target_weights() == pytest.approx(weights, rel=1e-9, abs=1e-12)
        assert [i.target_weight for i in out[n - 1]] == [D(repr(w)).quantize(D("0.0001"), rounding="ROUND_DOWN") for w in weights]
        active_counts.append(sum(1 for x in signals if x > 0))
    # the scenario is not degenerate: two and three products active, correlated
    assert active_counts == [2, 3, 2]
    assert s.target_weights()[2] == 0.0
    assert 0.5 < s._cov.correlation(0, 1) < 1.0


def test_uptrend_gets_a_positive_signal_and_downtrend_weight_zero():
    prices = random_walks(80, [0.01, -0.01], noise=0.002, seed=5)
    products = ("UP-USD", "DOWN-USD")
    s = TrendRiskParity(products=products, **SMALL)
    out = run(s, batches_from_prices(prices, products))
    assert s.signal(0) == 1.0
    assert s.signal(1) == 0.0
    up, down = out[-1]
    assert (up.product_id, down.product_id) == products
    # one active product: base 1, no penalty, so gross_target capped by max_weight
    assert up.target_weight == D("0.0800")
    assert down.target_weight == D("0.0000")
    for intents in out[19:]:
        assert intents[1].target_weight == 0


def test_a_single_trending_product_gets_gross_target_times_signal():
    prices = random_walks(80, [0.01], noise=0.002, seed=5)
    s = TrendRiskParity(products=("UP-USD",), max_weight=1.0, **SMALL)
    out = run(s, batches_from_prices(prices, ("UP-USD",)))
    assert out[-1][0].target_weight == D("0.2400")


def test_a_weak_weight_under_min_weight_becomes_zero():
    prices = random_walks(80, [0.01], noise=0.002, seed=5)
    s = TrendRiskParity(products=("UP-USD",), gross_target=0.01, min_weight=0.02, **SMALL)
    out = run(s, batches_from_prices(prices, ("UP-USD",)))
    assert s.signal(0) == 1.0
    assert s.target_weights() == [0.0]
    assert out[-1][0].target_weight == 0


def test_flat_prices_give_no_weight():
    prices = [[100.0, 50.0, 10.0]] * 30
    s = TrendRiskParity(products=PRODUCTS, **SMALL)
    out = run(s, batches_from_prices(prices))
    assert [i.target_weight for i in out[-1]] == [0, 0, 0]
    assert s.signal(0) == 0.0  # no volatility: no signal


def test_rounded_targets_never_exceed_gross_target():
    prices = random_walks(60, [0.01, 0.01, 0.01], noise=0.002, seed=1)
    s = TrendRiskParity(products=PRODUCTS, gross_target=0.2, max_weight=0.2, min_weight=0.0,
                        correlation_weight=0.0, volatility_weight=0.0, **SMALL)
    out = run(s, batches_from_prices(prices))
    assert math.fsum(s.target_weights()) <= 0.2 + 1e-15
    assert sum(i.target_weight for i in out[-1]) <= D("0.2")


# --- TrendRiskParity: real data -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_batches(cdd_files) -> list[MarketBatch]:
    aligned = align([load_bars(path) for path in cdd_files])
    assert aligned.products == PRODUCTS
    source = BarReplaySource(aligned)
    batches = []
    for seq in range(1, 3001):
        batch = source.next_batch(seq, 0)
        assert batch is not None
        batches.append(batch)
    return batches


def check_intents(out: list[tuple[OrderIntent, ...]], s: TrendRiskParity) -> None:
    gross = D(repr(s.gross_target))
    for n, intents in enumerate(out, start=1):
        if n < s.slow_span:
            assert intents == ()
            continue
        assert [i.product_id for i in intents] == list(s.products)
        weights = [i.target_weight for i in intents]
        assert all(D(0) <= w <= D(repr(s.max_weight)) for w in weights)
        assert all(w == 0 or w >= D(repr(s.min_weight)) for w in weights)
        assert sum(weights) <= gross


def test_real_data_weights_are_bounded_and_deterministic(real_batches):
    first = TrendRiskParity(products=PRODUCTS)
    second = TrendRiskParity(products=PRODUCTS)
    out1 = run(first, real_batches)
    out2 = run(second, real_batches)
    assert out1 == out2
    assert first.bars_seen == 3000
    assert sum(1 for o in out1 if o) == 3000 - 672 + 1
    check_intents(out1, first)
    held = {i.product_id for o in out1 for i in o if i.target_weight > 0}
    assert held, "no product was ever given a weight"
    # the run changes its mind at least once per product it holds
    for product in held:
        series = [i.target_weight for o in out1 for i in o if i.product_id == product]
        assert D(0) in series and max(series) > 0


def test_real_data_small_spans(real_batches):
    s = TrendRiskParity(products=PRODUCTS, fast_span=24, slow_span=96, vol_span=48)
    out = run(s, real_batches[:1500])
    check_intents(out, s)
    assert sum(1 for o in out for i in o if i.target_weight > 0) > 0


# --- load_strategy -------------------------------------------------------------------------------


class TinyStrategy:
    """A strategy defined here, loaded by ``module:Class``."""

    def __init__(self, *, products: Sequence[str], weight: str = "0.05") -> None:
        if D(weight) < 0:
            raise ValueError(f"weight must not be negative, got {weight}")
        self.products = products
        self.weight = D(weight)

    def on_batch(self, batch: MarketBatch) -> Sequence[OrderIntent]:
        return tuple(OrderIntent(product_id=p, target_weight=self.weight,
                                 rebalance_threshold=D("0.01")) for p in self.products)


@dataclass(frozen=True, config=SECTION)
class WeightParams:
    weight: Annotated[Dec, Fraction] = D("0.05")
    mode: Annotated[Str, one_of("long", "flat")] = "long"


class ParamStrategy(TinyStrategy):
    """Declares its parameters; the constructor gets the given keys, validated."""

    Params = WeightParams

    def __init__(self, *, products: Sequence[str], **given) -> None:
        super().__init__(products=products)
        self.given = given


class RequiredParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int


class RequiredParamStrategy(TinyStrategy):
    Params = RequiredParams


class OpenStrategy(TinyStrategy):
    def __init__(self, *, products: Sequence[str], **params) -> None:
        super().__init__(products=products)
        self.params = params


class NotAStrategy:
    def __init__(self, *, products: Sequence[str]) -> None:
        self.products = products


def test_load_builtin_strategy():
    s = load_strategy(StrategyConfig(), ["BTC-USD", "ETH-USD"])
    assert type(s) is TrendRiskParity
    assert s.products == ("BTC-USD", "ETH-USD")
    assert s.slow_span == 672


def test_load_builtin_strategy_with_params():
    s = load_strategy(StrategyConfig(name="trend_risk_parity",
                                     params={"fast_span": 10, "slow_span": 40,
                                             "rebalance_threshold": 0.02}), PRODUCTS)
    assert type(s) is TrendRiskParity
    assert (s.slow_span, s.threshold) == (40, D("0.0200"))


def test_load_strategy_by_module_and_class():
    s = load_strategy(StrategyConfig(name=f"{__name__}:TinyStrategy",
                                     params={"weight": "0.07"}), ["BTC-USD"])
    assert type(s).__name__ == "TinyStrategy"
    assert s.products == ("BTC-USD",)
    intents = s.on_batch(MarketBatch(sender="feed", ts_ns=H, seq=1, events=()))
    assert [(i.product_id, i.target_weight) for i in intents] == [("BTC-USD", D("0.07"))]


SOURCE = "conf/x.toml"


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "strategy.name: unknown strategy 'nope' "
                     "(built-in: trend_risk_parity; or package.module:ClassName)"),
        ("no_such_module_xyz:Foo", {},
         "strategy.name: cannot import no_such_module_xyz:Foo: "
         "No module named 'no_such_module_xyz'"),
        (f"{__name__}:Missing", {},
         f"strategy.name: cannot import {__name__}:Missing: "
         f"module '{__name__}' has no attribute 'Missing'"),
        (f"{__name__}:NotAStrategy", {},
         f"strategy.name: {__name__}:NotAStrategy has no on_batch(batch) method"),
        ("trend_risk_parity", {"fast_span": 700},
         "strategy.params.slow_span: must be greater than fast_span (700), got 672"),
        ("trend_risk_parity", {"fastspan": 10},
         f"strategy.params.fastspan: unknown key (known: {TREND_PARAMS})"),
        ("trend_risk_parity", {"slow_span": "672"},
         "strategy.params.slow_span: a span is a number of bars or a duration like \"7d\", "
         "\"36h\" or \"90m\", got '672'"),
        ("trend_risk_parity", {"gross_target": "0.24"},
         "strategy.params.gross_target: must be a finite number, got '0.24'"),
        ("trend_risk_parity", {"products": ["X-Y"]},
         f"strategy.params.products: unknown key (known: {TREND_PARAMS})"),
        # no Params: the keys are checked against the constructor's signature
        (f"{__name__}:TinyStrategy", {"weight": "-1"},
         "strategy.params: weight must not be negative, got -1"),
        (f"{__name__}:TinyStrategy", {"wieght": "0.1"},
         "strategy.params.wieght: unknown key (known: weight)"),
        (f"{__name__}:TinyStrategy", {"products": ["X-Y"]},
         "strategy.params.products: unknown key (known: weight)"),
        # declared Params
        (f"{__name__}:ParamStrategy", {"weight": "2"},
         "strategy.params.weight: must be a fraction in (0, 1] (0.10 means 10 %), got 2"),
        (f"{__name__}:ParamStrategy", {"weight": True},
         'strategy.params.weight: must be a number (e.g. "0.10"), got True'),
        (f"{__name__}:ParamStrategy", {"label": "x"},
         "strategy.params.label: unknown key (known: mode, weight)"),
        (f"{__name__}:ParamStrategy", {"mode": "up"},
         "strategy.params.mode: must be one of long, flat, got 'up'"),
        (f"{__name__}:RequiredParamStrategy", {}, "strategy.params.level: is required"),
    ],
)
def test_load_strategy_errors(name, params, message):
    with pytest.raises(ConfigError) as info:
        load_strategy(StrategyConfig(name=name, params=params), PRODUCTS, SOURCE)
    assert str(info.value) == f"config {SOURCE}: {message}"
    assert "\n" not in str(info.value)


def test_load_strategy_without_a_source_says_inline():
    with pytest.raises(ConfigError) as info:
        load_strategy(StrategyConfig(name="nope"), PRODUCTS)
    assert str(info.value).startswith("config <inline>: strategy.name: unknown strategy")


def test_declared_params_reach_the_constructor_validated():
    s = load_strategy(StrategyConfig(name=f"{__name__}:ParamStrategy",
                                     params={"weight": 0.07}), PRODUCTS)
    assert s.given == {"weight": D("0.07")}  # only the keys given, as Params read them
    assert type(s.given["weight"]) is Decimal


def test_a_constructor_taking_any_keyword_gets_every_param_unchecked():
    s = load_strategy(StrategyConfig(name=f"{__name__}:OpenStrategy",
                                     params={"anything": [1, 2]}), PRODUCTS)
    assert s.params == {"anything": [1, 2]}


def test_check_params():
    assert check_params(TrendParams, {"vol_span": 3}) == TrendParams(vol_span=3)
    with pytest.raises(ParamError) as info:
        check_params(TrendParams, {"vol_span": 3, "aa": 1, "zz": 1})
    assert info.value.key == "aa"


def _strategy_config_file(tmp_path, params: str):
    path = tmp_path / "strategy.toml"
    path.write_text(f"[strategy]\nname = \"trend_risk_parity\"\n[strategy.params]\n{params}\n")
    return path, load_config(path)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("slow_span = 100", "strategy.params.slow_span: must be greater than fast_span (168), "
                            "got 100"),
        ("slow_spam = 100", f"strategy.params.slow_spam: unknown key (known: {TREND_PARAMS})"),
        ("vol_span = 1.5", "strategy.params.vol_span: must be an integer, got 1.5"),
        ("max_weight = inf", "strategy.params.max_weight: must be a finite number, got inf"),
    ],
)
def test_a_bad_strategy_param_in_a_file_names_the_file_and_the_key(tmp_path, params, message):
    path, config = _strategy_config_file(tmp_path, params)
    with pytest.raises(ConfigError) as info:
        load_strategy(config.strategy, PRODUCTS, config.source)
    assert str(info.value) == f"config {path}: {message}"


@pytest.mark.parametrize("name", [":Foo", ".relative:Foo"])
def test_malformed_module_names_give_config_errors(name):
    with pytest.raises(ConfigError):
        load_strategy(StrategyConfig(name=name), PRODUCTS)


class SelfValidating(TinyStrategy):
    """Validates its parameters itself, with pydantic, in the constructor."""

    def __init__(self, *, products: Sequence[str], **params) -> None:
        super().__init__(products=products)
        self.params = WeightParams(**params)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weight": "2"}, "strategy.params.weight: must be a fraction in (0, 1] (0.10 means 10 %), "
                          "got 2"),
        ({"wait": "0.1"}, "strategy.params.wait: unknown key"),
    ],
)
def test_a_constructor_s_own_validation_error_is_one_line(params, message):
    with pytest.raises(ConfigError) as info:
        load_strategy(StrategyConfig(name=f"{__name__}:SelfValidating", params=params), PRODUCTS,
                      SOURCE)
    assert str(info.value) == f"config {SOURCE}: {message}"
