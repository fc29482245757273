"""Exponentially weighted statistics, updated one observation at a time.

Floats on purpose: these are statistics, never money. Each update is O(1)
(O(n^2) for the covariance of n series), so a strategy can run on every bar
of a long replay without looking back over a window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def alpha_for_span(span: float) -> float:
    """Smoothing factor of an EMA with the given span (in observations):
    ``alpha = 2 / (span + 1)``, the convention of pandas' ``ewm(span=...)``."""
    if span < 1:
        raise ValueError(f"span must be at least 1 observation, got {span}")
    return 2.0 / (span + 1.0)


class Ema:
    """Exponential moving average; the first observation seeds it."""

    __slots__ = ("alpha", "value", "count")

    def __init__(self, span: float) -> None:
        self.alpha = alpha_for_span(span)
        self.value = math.nan
        self.count = 0

    def update(self, x: float) -> float:
        self.value = x if self.count == 0 else self.value + self.alpha * (x - self.value)
        self.count += 1
        return self.value


class EwmCovariance:
    """Exponentially weighted mean and covariance of ``n`` return series.

    Update rule (West 1979, in its exponentially weighted form): with
    ``d = x - mean_before``, ``mean += alpha * d`` and
    ``cov = (1 - alpha) * (cov + alpha * d d^T)``.
    """

    def __init__(self, n: int, span: float) -> None:
        self.n = n
        self.alpha = alpha_for_span(span)
        self.mean = [0.0] * n
        self.cov = [[0.0] * n for _ in range(n)]
        self.count = 0

    def update(self, x: Sequence[float]) -> None:
        a = self.alpha
        d = [x[i] - self.mean[i] for i in range(self.n)]
        for i in range(self.n):
            self.mean[i] += a * d[i]
            row = self.cov[i]
            for j in range(i, self.n):
                value = (1.0 - a) * (row[j] + a * d[i] * d[j])
                row[j] = value
                self.cov[j][i] = value
        self.count += 1

    def volatility(self, i: int) -> float:
        """Standard deviation of series ``i`` per observation."""
        return math.sqrt(max(self.cov[i][i], 0.0))

    def correlation(self, i: int, j: int) -> float:
        """Correlation of series ``i`` and ``j``; 0 when either has no variance."""
        denominator = self.volatility(i) * self.volatility(j)
        return self.cov[i][j] / denominator if denominator > 0 else 0.0
