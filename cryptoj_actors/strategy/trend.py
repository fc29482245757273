"""Trend-following with inverse-volatility sizing and a correlation penalty.

For every product, on every bar:

1. **Trend signal** (time-series momentum, Moskowitz, Ooi & Pedersen 2012):
   the gap between a fast and a slow EMA of the log close,
   ``z = (ema_fast - ema_slow) / (sigma * sqrt(slow_span))``, where ``sigma``
   is the EWMA volatility of hourly log returns. The gap is measured in units
   of the noise expected over the slow horizon, so one threshold suits calm
   and wild markets alike. ``signal = clip(z / signal_full_scale, 0, 1)``:
   spot trading is long-only, so a downtrend means no position.
2. **Sizing**: among products with a positive signal, a blend of equal weight
   and inverse volatility (risk parity, Maillard, Roncalli & Teiletche 2010):
   ``base_i = (1 - vw) / n + vw * (1/sigma_i) / sum_j(1/sigma_j)`` with
   ``vw = volatility_weight`` (0.40 by default, the design notes' dynamic risk
   weight), then ``raw_i = signal_i * base_i``.
3. **Correlation penalty**: ``raw_i *= 1 - cw * mean_j(max(0, rho_ij))`` over
   the other products in the book, ``cw = correlation_weight`` (0.30), so a
   position that only repeats the others' bet gets less room.
4. ``w_i = min(max_weight, gross_target * raw_i)``; a weight under
   ``min_weight`` (2 % of equity) becomes 0: no position is smaller than that.

Bars are taken by bar time: a time is processed once every product's bar for
it is in (live, they close in different batches). It emits one target per
product after each processed time once ``slow_span`` times have been seen; risk rebalances a product only when its weight drifts more than
``rebalance_threshold`` from the target. Spans are in bars (hourly data:
168 bars = 7 days). Statistics are floats; targets are rounded down to 1e-4
and handed on as Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any

from pydantic import ValidationInfo, field_validator
from pydantic.dataclasses import dataclass

from cryptoj_actors.config_fields import (
    SECTION,
    Float,
    Fraction,
    Int,
    Positive,
    not_above,
    refuse,
    rule,
)
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.strategy.base import check_params
from cryptoj_actors.strategy.stats import Ema, EwmCovariance

#: Targets are rounded down to this step, so they never add up to more than
#: ``gross_target`` nor exceed ``max_weight``.
WEIGHT_STEP = Decimal("0.0001")
#: A zero target, as the rounding below makes it (one Decimal for them all).
_NO_WEIGHT = Decimal(repr(0.0)).quantize(WEIGHT_STEP, ROUND_DOWN)

Weight = rule(lambda v: 0 <= v <= 1, "must be a fraction in [0, 1] (0.30 means 30 %)")
Threshold = rule(lambda v: 0 <= v < 1, "must be a fraction in [0, 1) (0.015 means 1.5 %)")


@dataclass(frozen=True, slots=True, config=SECTION)
class TrendParams:
    """The parameters of :class:`TrendRiskParity` (``[strategy.params]``).

    ``fast_span``, ``slow_span``: EMA spans of the log close, in bars (fast
    below slow); ``vol_span``: span of the EWMA volatility and correlation, in
    bars; ``signal_full_scale``: the ``z`` at which the signal reaches full
    strength; ``gross_target``: sum of weights when every product trends at
    full signal (fraction of equity); ``max_weight``, ``min_weight``: bounds
    of one product's weight (fractions, min at most max);
    ``correlation_weight``, ``volatility_weight``: the penalty and blend
    weights; ``rebalance_threshold``: drift (fraction of equity) that
    triggers a trade.
    """

    fast_span: Annotated[Int, rule(lambda v: v >= 1, "must be at least 1 bar")] = 168
    slow_span: Int = 672
    vol_span: Annotated[Int, rule(lambda v: v >= 2, "must be at least 2 bars")] = 336
    signal_full_scale: Annotated[Float, Positive] = 0.5
    gross_target: Annotated[Float, Fraction] = 0.24
    max_weight: Annotated[Float, Weight] = 0.08
    min_weight: Annotated[Float, Weight] = 0.02
    correlation_weight: Annotated[Float, Weight] = 0.30
    volatility_weight: Annotated[Float, Weight] = 0.40
    rebalance_threshold: Annotated[Float, Threshold] = 0.015

    @field_validator("slow_span")
    @classmethod
    def _slow_above_fast(cls, value: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast_span")
        if fast is not None and value <= fast:
            raise refuse(f"must be greater than fast_span ({fast})", value)
        return value

    _min_within_max = not_above("min_weight", "max_weight")


class TrendRiskParity:
    """The built-in strategy ``trend_risk_parity``; see the module docstring.

    Args:
        products: traded product ids.
        **params: the fields of :class:`TrendParams`, which also gives the
            defaults.

    Raises:
        ParamError: a parameter is unknown, mistyped or out of range (a
            ``ValueError``; the message names it).
    """

    Params = TrendParams

    def __init__(self, *, products: Sequence[str], **params: Any) -> None:
        args = self.params = check_params(TrendParams, params)
        self.products = tuple(products)
        self._index = {p: i for i, p in enumerate(self.products)}
        self.slow_span = args.slow_span
        self.signal_full_scale = args.signal_full_scale
        self.gross_target = args.gross_target
        self.max_weight = args.max_weight
        self.min_weight = args.min_weight
        self.correlation_weight = args.correlation_weight
        self.volatility_weight = args.volatility_weight
        self.threshold = Decimal(f"{args.rebalance_threshold:.4f}")
        self._fast = [Ema(args.fast_span) for _ in self.products]
        self._slow = [Ema(args.slow_span) for _ in self.products]
        self._cov = EwmCovariance(len(self.products), args.vol_span)
        self._last_log: list[float | None] = [None] * len(self.products)
        self._pending: dict[int, dict[int, float]] = {}  # bar start -> product -> log close
        self._latest_start = [-1] * len(self.products)
        self.bars_seen = 0  # bar times processed
        #: No target before the slow EMA has seen ``slow_span`` bar times.
        self.warmup_bars = args.slow_span

    def on_batch(self, batch: MarketBatch) -> Sequence[OrderIntent]:
        for event in batch.events:
            if isinstance(event, Bar) and event.product_id in self._index:
                i = self._index[event.product_id]
                self._pending.setdefault(event.start_ns, {})[i] = math.log(event.close)
                self._latest_start[i] = max(self._latest_start[i], event.start_ns)
        if not self._process_complete_times() or self.bars_seen < self.slow_span:
            return ()
        weights = self.target_weights()
        return tuple(
            OrderIntent(product_id=self.products[i],
                        target_weight=_floor_weight(weights[i]),
                        rebalance_threshold=self.threshold, reason="rebalance")
            for i in range(len(self.products)) if self._last_log[i] is not None)

    def _process_complete_times(self) -> bool:
        """Update the statistics with every bar time that is complete, in time
        order; True if there was one.

        A bar time is complete when every product has its bar, or when every
        product has already reported a later bar (a hole: it will not come).
        Live, products' bars for one hour close in different batches; in
        replay they come together.
        """
        n = len(self.products)
        processed = False
        for start in sorted(self._pending):
            closes = self._pending[start]
            if len(closes) < n and any(latest <= start for latest in self._latest_start):
                break
            del self._pending[start]
            self._update(closes)
            processed = True
        return processed

    def _update(self, closes: dict[int, float]) -> None:
        returns = [0.0] * len(self.products)
        complete = len(closes) == len(self.products)
        for i, log_close in closes.items():
            previous = self._last_log[i]
            if previous is None:
                complete = False
            else:
                returns[i] = log_close - previous
            self._last_log[i] = log_close
            self._fast[i].update(log_close)
            self._slow[i].update(log_close)
        # Covariances need every series on the same bar; a bar with a hole
        # (or the very first bar) leaves them as they were.
        if complete:
            self._cov.update(returns)
        self.bars_seen += 1

    def signal(self, i: int) -> float:
        """Trend strength of product ``i`` in [0, 1]; 0 without volatility data."""
        sigma = self._cov.volatility(i)
        if sigma <= 0 or self._slow[i].count == 0:
            return 0.0
        z = (self._fast[i].value - self._slow[i].value) / (sigma * math.sqrt(self.slow_span))
        return min(1.0, max(0.0, z / self.signal_full_scale))

    def target_weights(self) -> list[float]:
        """Target weight per product (fractions of equity), in ``products`` order."""
        n = len(self.products)
        signals = [self.signal(i) for i in range(n)]
        active = [i for i in range(n) if signals[i] > 0]
        weights = [0.0] * n
        if not active:
            return weights
        inverse_vol = {i: 1.0 / self._cov.volatility(i) for i in active}
        total_inverse_vol = math.fsum(inverse_vol.values())
        vw, cw = self.volatility_weight, self.correlation_weight
        for i in active:
            base = (1.0 - vw) / len(active) + vw * inverse_vol[i] / total_inverse_vol
            others = [max(0.0, self._cov.correlation(i, j)) for j in active if j != i]
            penalty = 1.0 - cw * (math.fsum(others) / len(others)) if others else 1.0
            weight = min(self.max_weight, self.gross_target * signals[i] * base * penalty)
            weights[i] = weight if weight >= self.min_weight else 0.0
        return weights


def _floor_weight(weight: float) -> Decimal:
    # Through the float's shortest repr, the number the arithmetic meant
    # (0.24, not 0.2399999999999999911...), then down to the step.
    if weight == 0.0 and math.copysign(1.0, weight) > 0:
        return _NO_WEIGHT  # most targets, most of the time: the same Decimal
    return Decimal(repr(weight)).quantize(WEIGHT_STEP, ROUND_DOWN)

