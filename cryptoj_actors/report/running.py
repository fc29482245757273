"""Performance metrics kept up to date as a run goes, one point at a time.

:class:`RunningPerformance` takes equity points and fills as they happen and
answers :class:`~cryptoj_actors.report.metrics.Performance` at any moment in
O(1) per update: the live status view shows it during a run, and the report
is the same object fed the whole run at once, so the figures a run shows at
its end and the figures of its report are the same numbers, not just close.

Float sums are kept exactly (Shewchuk's algorithm, the one behind
:func:`math.fsum`), so the order of accumulation never changes a result.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cryptoj_actors.clock import YEAR_NS
from cryptoj_actors.money import LEDGER_CONTEXT, ZERO


class ExactSum:
    """A running float sum without rounding error: ``value`` is the exact sum
    rounded once (Shewchuk 1997, "Adaptive precision floating-point
    arithmetic", as in the ``msum`` recipe of Python's ``math.fsum``)."""

    __slots__ = ("_partials",)

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, x: float) -> None:
        i = 0
        partials = self._partials
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    @property
    def value(self) -> float:
        return math.fsum(self._partials)


class RunningPerformance:
    """The metrics of :func:`~cryptoj_actors.report.metrics.performance`,
    updated incrementally; see there for every formula.

    Args:
        risk_free_rate: annual, as a fraction.
        periods_per_year: of the equity points (hourly bars: 8766).

    Raises:
        ValueError: ``periods_per_year`` is not positive, or (in :meth:`add_point`)
            the first equity is not positive or time goes backwards.
    """

    def __init__(self, *, risk_free_rate: float, periods_per_year: float) -> None:
        if not periods_per_year > 0:
            raise ValueError(f"periods_per_year must be positive, got {periods_per_year}")
        self.risk_free_rate = float(risk_free_rate)
        self.periods_per_year = float(periods_per_year)
        self.rf_p = (1.0 + self.risk_free_rate) ** (1.0 / self.periods_per_year) - 1.0
        self.points = 0
        self.first_ns = self.last_ns = 0
        self.first_equity = self.last_equity = ZERO
        self._last_float = 0.0
        self._returns_defined = True
        self._n = 0
        self._sum_r, self._sum_r2 = ExactSum(), ExactSum()
        self._sum_x, self._sum_x2, self._sum_down2 = ExactSum(), ExactSum(), ExactSum()
        self._max_abs_x = 0.0
        self._peak = 0.0
        self._peak_ns = 0
        self.max_drawdown = 0.0
        self.max_drawdown_peak_ns: int | None = None
        self.max_drawdown_trough_ns: int | None = None
        self._exposure_sum = ExactSum()
        self.max_gross_exposure = 0.0
        self.trades = 0
        self.closing_trades = 0
        self.winning_trades = 0
        self.gross_profit = ZERO
        self.gross_loss = ZERO
        self.total_fees = ZERO

    def add_point(self, time_ns: int, equity: Decimal, gross_exposure: Decimal) -> None:
        """One equity point (quote currency) and its gross exposure (fraction)."""
        e = float(equity)
        if self.points == 0:
            if equity <= 0:
                raise ValueError(f"the first equity must be positive, got {equity}")
            self.first_ns, self.first_equity = time_ns, equity
            self._peak, self._peak_ns = e, time_ns
        else:
            if time_ns < self.last_ns:
                raise ValueError("equity points are not in time order")
            if self._last_float > 0 and self._returns_defined:
                r = e / self._last_float - 1.0
                x = r - self.rf_p
                self._n += 1
                self._sum_r.add(r)
                self._sum_r2.add(r * r)
                self._sum_x.add(x)
                self._sum_x2.add(x * x)
                if x < 0:
                    self._sum_down2.add(x * x)
                self._max_abs_x = max(self._max_abs_x, abs(x))
            else:
                self._returns_defined = False
            if e >= self._peak:
                self._peak, self._peak_ns = e, time_ns  # the last time at the peak
            drawdown = 1.0 - e / self._peak
            if drawdown > self.max_drawdown:
                self.max_drawdown = drawdown
                self.max_drawdown_peak_ns, self.max_drawdown_trough_ns = self._peak_ns, time_ns
        self.points += 1
        self.last_ns, self.last_equity, self._last_float = time_ns, equity, e
        g = float(gross_exposure)
        self._exposure_sum.add(g)
        self.max_gross_exposure = g if self.points == 1 else max(self.max_gross_exposure, g)

    def add_trade(self, side: str, realized_pnl: Decimal, fee: Decimal) -> None:
        """One fill: its side (``BUY``/``SELL``), realized PnL before fee, fee (quote)."""
        self.trades += 1
        self.total_fees = LEDGER_CONTEXT.add(self.total_fees, fee)
        if side != "SELL":
            return
        self.closing_trades += 1
        if realized_pnl > 0:
            self.winning_trades += 1
            self.gross_profit = LEDGER_CONTEXT.add(self.gross_profit, realized_pnl)
        elif realized_pnl < 0:
            self.gross_loss = LEDGER_CONTEXT.subtract(self.gross_loss, realized_pnl)

    # --- the figures ---------------------------------------------------------------

    @property
    def total_return(self) -> float:
        ratio = LEDGER_CONTEXT.divide(self.last_equity, self.first_equity)
        return float(LEDGER_CONTEXT.subtract(ratio, 1))

    @property
    def years(self) -> float:
        return (self.last_ns - self.first_ns) / YEAR_NS

    def _stdev(self, total: ExactSum, squares: ExactSum) -> float:
        n = self._n
        mean = total.value / n
        return math.sqrt(max(0.0, squares.value / n - mean * mean) * n / (n - 1))

    @property
    def annualized_volatility(self) -> float | None:
        if not self._returns_defined or self._n < 2:
            return None
        return self._stdev(self._sum_r, self._sum_r2) * math.sqrt(self.periods_per_year)

    def _noise(self) -> float:
        return 1e-12 * max(1.0, self._max_abs_x)

    @property
    def sharpe(self) -> float | None:
        if not self._returns_defined or self._n < 2:
            return None
        sd = self._stdev(self._sum_x, self._sum_x2)
        if sd <= self._noise():
            return None
        return self._sum_x.value / self._n / sd * math.sqrt(self.periods_per_year)

    @property
    def sortino(self) -> float | None:
        if not self._returns_defined or self._n < 1:
            return None
        downside = math.sqrt(self._sum_down2.value / self._n)
        if downside <= self._noise():
            return None
        return self._sum_x.value / self._n / downside * math.sqrt(self.periods_per_year)

    @property
    def win_rate(self) -> float | None:
        return self.winning_trades / self.closing_trades if self.closing_trades else None

    @property
    def profit_factor(self) -> float | None:
        return float(self.gross_profit / self.gross_loss) if self.gross_loss > 0 else None

    @property
    def avg_gross_exposure(self) -> float:
        return self._exposure_sum.value / self.points if self.points else 0.0
