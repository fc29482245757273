"""Performance metrics kept up to date as a run goes, one point at a time.

:class:`RunningPerformance` takes equity points and fills as they happen and
answers :class:`~cryptoj_actors.report.metrics.Performance` at any moment in
O(1) per update: the live status view shows it during a run, and the report
is the same object fed the whole run at once, so the figures a run shows at
its end and the figures of its report are the same numbers, not just close.

Per point it only appends a return and compares a drawdown (about a
microsecond); the sums behind the ratios are taken when asked, blockwise with
:func:`math.fsum`, so they do not depend on when or how often they are asked.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cryptoj_actors.clock import YEAR_NS
from cryptoj_actors.money import LEDGER_CONTEXT, ZERO

#: Returns per block of the running sums (see :meth:`RunningPerformance._moments`).
BLOCK = 1024


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
        # One period in ns: a step between points longer than it is a hole in
        # the data, which counts one period of covered time, not its length.
        self._period_ns = round(YEAR_NS / self.periods_per_year)
        self.covered_ns = 0
        self.points = 0
        self.first_ns = self.last_ns = 0
        self.first_equity = self.last_equity = ZERO
        self._last_float = 0.0
        self._returns_defined = True
        self._returns: list[float] = []
        self._peak = 0.0
        self._peak_ns = 0
        self.max_drawdown = 0.0
        self.max_drawdown_peak_ns: int | None = None
        self.max_drawdown_trough_ns: int | None = None
        self._exposures: list[float] = []
        self.max_gross_exposure = 0.0
        self._sums: tuple[int, tuple[float, ...]] | None = None
        self._blocks: list[tuple[float, ...]] = []
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
            self.covered_ns += min(time_ns - self.last_ns, self._period_ns)
            if self._last_float > 0 and self._returns_defined:
                self._returns.append(e / self._last_float - 1.0)
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
        self._exposures.append(g)
        if self.points == 1 or g > self.max_gross_exposure:
            self.max_gross_exposure = g

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
        """The time the data covers, in years of 365.25 days: the steps
        between points, each at most one period (holes count one)."""
        return self.covered_ns / YEAR_NS

    @property
    def calendar_years(self) -> float:
        """From the first point to the last, holes included, in years of 365.25 days."""
        return (self.last_ns - self.first_ns) / YEAR_NS

    def _moments(self) -> tuple[float, ...]:
        """Sums of r, r^2, x, x^2, min(0, x)^2 and the largest |x| (x = r - rf
        per period), cached until the next point.

        Returns are summed in blocks of :data:`BLOCK` (each block's sums
        taken once, exactly rounded, when it fills), then the block sums and
        the open block's: asking costs O(n / BLOCK + BLOCK), not O(n), and the
        result depends only on the returns, never on when it was asked.
        """
        n = len(self._returns)
        if self._sums is not None and self._sums[0] == n:
            return self._sums[1]
        while (len(self._blocks) + 1) * BLOCK <= n:
            start = len(self._blocks) * BLOCK
            self._blocks.append(self._block_moments(self._returns[start:start + BLOCK]))
        rows = [*self._blocks, self._block_moments(self._returns[len(self._blocks) * BLOCK:])]
        moments = (*(math.fsum(row[i] for row in rows) for i in range(5)),
                   max(row[5] for row in rows))
        self._sums = (n, moments)
        return moments

    def _block_moments(self, returns: list[float]) -> tuple[float, ...]:
        excess = [r - self.rf_p for r in returns]
        return (math.fsum(returns), math.fsum(r * r for r in returns), math.fsum(excess),
                math.fsum(x * x for x in excess), math.fsum(x * x for x in excess if x < 0),
                max(map(abs, excess), default=0.0))

    @staticmethod
    def _stdev(n: int, total: float, squares: float) -> float:
        mean = total / n
        return math.sqrt(max(0.0, squares / n - mean * mean) * n / (n - 1))

    @property
    def annualized_volatility(self) -> float | None:
        n = len(self._returns)
        if not self._returns_defined or n < 2:
            return None
        sum_r, sum_r2, *_ = self._moments()
        return self._stdev(n, sum_r, sum_r2) * math.sqrt(self.periods_per_year)

    @property
    def sharpe(self) -> float | None:
        n = len(self._returns)
        if not self._returns_defined or n < 2:
            return None
        _, _, sum_x, sum_x2, _, max_abs_x = self._moments()
        sd = self._stdev(n, sum_x, sum_x2)
        if sd <= _noise(max_abs_x):
            return None
        return sum_x / n / sd * math.sqrt(self.periods_per_year)

    @property
    def sortino(self) -> float | None:
        n = len(self._returns)
        if not self._returns_defined or n < 1:
            return None
        _, _, sum_x, _, sum_down2, max_abs_x = self._moments()
        downside = math.sqrt(sum_down2 / n)
        if downside <= _noise(max_abs_x):
            return None
        return sum_x / n / downside * math.sqrt(self.periods_per_year)

    @property
    def win_rate(self) -> float | None:
        return self.winning_trades / self.closing_trades if self.closing_trades else None

    @property
    def profit_factor(self) -> float | None:
        return float(self.gross_profit / self.gross_loss) if self.gross_loss > 0 else None

    @property
    def avg_gross_exposure(self) -> float:
        return math.fsum(self._exposures) / self.points if self.points else 0.0


def _noise(max_abs_x: float) -> float:
    """A dispersion this small is float rounding noise, not risk."""
    return 1e-12 * max(1.0, max_abs_x)
