"""Performance metrics of a run: pure computations on the equity curve and the fills.

Conventions (as in :mod:`cryptoj_actors.messages`): times are integer
nanoseconds since the Unix epoch (UTC), money is :class:`~decimal.Decimal` in
quote currency, fractions are fractions (``0.1`` is ten percent), never percent.

Money stays Decimal (equity, fees, realized PnL sums). Statistics are floats:
each Decimal equity is converted once with ``float()``, and every sum of
floats goes through :func:`math.fsum`, so the results are exactly rounded sums,
independent of the summation order and of the platform.

Crypto trades around the clock, so a year is 365.25 days of 24 hours, with no
trading-day calendar: hourly bars give 8766 periods per year.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from cryptoj_actors.clock import YEAR_NS
from cryptoj_actors.money import LEDGER_CONTEXT
from cryptoj_actors.report.running import RunningPerformance

_NOISE = 1e-12
"""A dispersion below ``_NOISE`` times the largest absolute excess return (or 1)
is float rounding noise, not risk: it counts as zero. Returns that are equal
in exact arithmetic (100 -> 110 -> 121) differ in the last bits as floats, and
dividing by such a spread would report an absurd Sharpe ratio."""


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """The portfolio after marking one market batch.

    ``gross_exposure`` is the sum of ``|position notional|`` over products,
    divided by equity (a fraction). ``weights`` holds ``(product_id, position
    notional / equity)`` for every product of the run, at every point, in one
    fixed order; ``marks`` ``(product_id, mark price)`` (quote per base; None
    before the product's first mark) in the same order.
    """

    time_ns: int
    equity: Decimal
    cash: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    gross_exposure: Decimal
    weights: tuple[tuple[str, Decimal], ...]
    marks: tuple[tuple[str, Decimal | None], ...] = ()


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill.

    ``realized_pnl`` is the PnL this fill realized against the position's cost
    basis, before its own fee (0 for buys), in quote currency. ``reason`` says
    why the order exists: ``"rebalance"``, ``"stop_loss"``, ``"limit_trim"``, ...
    ``liquidity`` is ``"maker"`` (the fill of a resting order) or ``"taker"``
    (of one that crossed), as the venue reports it.
    """

    time_ns: int
    product_id: str
    side: str
    base_size: Decimal
    price: Decimal
    fee: Decimal
    client_order_id: str
    realized_pnl: Decimal
    reason: str
    liquidity: str


@dataclass(frozen=True, slots=True)
class Performance:
    """The metrics of one run; see :func:`performance` for every formula.

    Floats for statistics, Decimal for money, ``None`` where a metric is
    undefined. Times are int ns since the epoch (UTC).
    """

    # span of the equity curve
    start_ns: int
    end_ns: int
    number_of_points: int
    years: float
    calendar_years: float
    periods_per_year: float
    risk_free_rate: float
    # returns
    start_equity: Decimal
    end_equity: Decimal
    total_return: float
    cagr: float | None
    # risk
    annualized_volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float
    max_drawdown_peak_ns: int | None
    max_drawdown_trough_ns: int | None
    calmar: float | None
    avg_gross_exposure: float
    max_gross_exposure: float
    # trading
    number_of_trades: int
    closing_trades: int
    winning_trades: int
    win_rate: float | None
    profit_factor: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    total_fees: Decimal


def periods_per_year(interval_ns: int) -> float:
    """How many bars of ``interval_ns`` fit in a year of 365.25 days (24/7 trading).

    ``periods_per_year(NS_PER_HOUR) == 8766.0``; daily bars give 365.25.

    Raises:
        ValueError: ``interval_ns`` is not positive.
    """
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be positive, got {interval_ns}")
    return YEAR_NS / interval_ns


def drawdown_series(points: Sequence[EquityPoint]) -> list[float]:
    """``E_t / max(E_0..E_t) - 1`` for every point: 0 at a new high, negative below it.

    Raises:
        ValueError: the first equity is not positive (a drawdown needs a positive peak).
    """
    return _drawdowns([float(p.equity) for p in points])


def performance(
    points: Sequence[EquityPoint],
    trades: Sequence[TradeRecord],
    *,
    risk_free_rate: float,
    periods_per_year: float,
) -> Performance:
    """All the metrics of a run from its equity curve (one point per batch) and its fills.

    With equities ``E_0..E_n`` at times ``t_0..t_n`` and ``ppy = periods_per_year``:

    Returns
        - ``total_return = E_n / E_0 - 1`` (the ratio is taken in Decimal).
        - ``years`` is the time the data covers: ``sum_t min(t_t - t_{t-1}, P) /
          365.25 days`` with one period ``P = 365.25 days / ppy``. A hole in the
          data (a step longer than ``P``: minutes without a trade, a day
          missing) counts one period, so a return across it is one period's,
          as volatility and Sharpe count it. ``calendar_years = (t_n - t_0) /
          365.25 days``, holes included; equal to ``years`` on contiguous data.
        - CAGR (compound annual growth rate) ``= (E_n / E_0) ** (1 / years) - 1``,
          over the covered years;
          ``None`` if ``years`` is 0, if ``E_n < 0``, or if the annualization
          overflows a float (a huge gain over a very short span).

    Risk
        - Period returns, simple: ``r_t = E_t / E_{t-1} - 1`` for ``t = 1..n``.
        - Per-period risk-free rate, compounded: ``rf_p = (1 + risk_free_rate) ** (1 / ppy) - 1``;
          excess returns ``x_t = r_t - rf_p``.
        - Annualized volatility ``= stdev(r) * sqrt(ppy)`` (sample stdev, ddof=1);
          ``None`` with fewer than 2 returns.
        - Sharpe ratio (Sharpe 1994, "The Sharpe Ratio", ex-post, annualized)
          ``= mean(x) / stdev(x) * sqrt(ppy)``, stdev the sample one (ddof=1);
          ``None`` with fewer than 2 returns or a zero stdev.
        - Sortino ratio (Sortino & Price 1994, "Performance measurement in a
          downside risk framework") ``= mean(x) / DD * sqrt(ppy)`` with the
          downside deviation ``DD = sqrt(mean(min(0, x_t) ** 2))`` taken over
          ALL ``n`` periods (target = the risk-free rate); ``None`` if ``DD`` is 0.
        - A stdev or ``DD`` below ``1e-12`` times ``max(1, max |x_t|)`` is float
          rounding noise and counts as 0. Sums of returns and of their squares
          are taken with :func:`math.fsum` in blocks of 1024 (see
          :mod:`cryptoj_actors.report.running`); the sample variance is
          ``(sum(x^2)/n - mean^2) * n/(n-1)``.
        - If an equity used as a denominator ``E_{t-1}`` is not positive, the
          returns are undefined: volatility, Sharpe and Sortino are ``None``.
        - Maximum drawdown ``= max_t (P_t - E_t) / P_t`` with the running peak
          ``P_t = max(E_0..E_t)``: a positive fraction, 0 if the curve never
          falls below a peak. It equals ``-min(drawdown_series(points))``.
          ``max_drawdown_trough_ns`` is the time of the first point where it is
          reached, ``max_drawdown_peak_ns`` the last time before the trough at
          which the equity stood at that peak (where the decline began); both
          ``None`` when the drawdown is 0.
        - Calmar ratio (Young 1991) ``= CAGR / max drawdown``, here over the
          whole run rather than the usual trailing 36 months; ``None`` if the
          drawdown is 0 or the CAGR is ``None``.
        - ``avg_gross_exposure`` / ``max_gross_exposure``: mean / maximum of
          ``EquityPoint.gross_exposure`` over all points.

    Trading (gross realized PnL, i.e. BEFORE fees; fees are in ``total_fees``)
        - ``number_of_trades`` = number of fills; ``closing_trades`` = fills
          with side SELL (spot is long-only: a sell closes or trims a position).
        - ``winning_trades`` = closing trades with ``realized_pnl > 0``;
          ``win_rate = winning_trades / closing_trades`` (``None`` if none).
        - ``gross_profit`` = sum of the positive ``realized_pnl`` of closing
          trades; ``gross_loss`` = ``|sum of the negative ones|`` (both >= 0).
        - Profit factor ``= gross_profit / gross_loss``; ``None`` if there is
          no loss (``gross_loss == 0``).
        - ``total_fees`` = sum of the fees of all fills.

    Raises:
        ValueError: ``points`` is empty, its first equity is not positive,
            its times are not non-decreasing, or ``periods_per_year`` is not positive.
    """
    if not points:
        raise ValueError("performance needs at least one equity point")
    running = RunningPerformance(risk_free_rate=risk_free_rate,
                                 periods_per_year=periods_per_year)
    for p in points:
        running.add_point(p.time_ns, p.equity, p.gross_exposure)
    for t in trades:
        running.add_trade(_side(t.side), t.realized_pnl, t.fee)
    return snapshot(running)


def snapshot(running: RunningPerformance) -> Performance:
    """The :class:`Performance` of a :class:`RunningPerformance` as it stands.

    Raises:
        ValueError: no equity point yet.
    """
    if running.points == 0:
        raise ValueError("performance needs at least one equity point")
    years = running.years
    ratio = LEDGER_CONTEXT.divide(running.last_equity, running.first_equity)
    cagr = _cagr(float(ratio), years) if running.covered_ns > 0 else None
    max_drawdown = running.max_drawdown
    return Performance(
        start_ns=running.first_ns,
        end_ns=running.last_ns,
        number_of_points=running.points,
        years=years,
        calendar_years=running.calendar_years,
        periods_per_year=running.periods_per_year,
        risk_free_rate=running.risk_free_rate,
        start_equity=running.first_equity,
        end_equity=running.last_equity,
        total_return=running.total_return,
        cagr=cagr,
        annualized_volatility=running.annualized_volatility,
        sharpe=running.sharpe,
        sortino=running.sortino,
        max_drawdown=max_drawdown,
        max_drawdown_peak_ns=running.max_drawdown_peak_ns,
        max_drawdown_trough_ns=running.max_drawdown_trough_ns,
        calmar=cagr / max_drawdown if cagr is not None and max_drawdown > 0 else None,
        avg_gross_exposure=running.avg_gross_exposure,
        max_gross_exposure=running.max_gross_exposure,
        number_of_trades=running.trades,
        closing_trades=running.closing_trades,
        winning_trades=running.winning_trades,
        win_rate=running.win_rate,
        profit_factor=running.profit_factor,
        gross_profit=running.gross_profit,
        gross_loss=running.gross_loss,
        total_fees=running.total_fees,
    )


# --- helpers ---------------------------------------------------------------------


def _side(side: object) -> str:
    """``"BUY"``/``"SELL"`` from a plain string or a :class:`~cryptoj_actors.messages.Side`."""
    return str(getattr(side, "value", side))


def _cagr(ratio: float, years: float) -> float | None:
    if ratio < 0:
        return None
    if ratio == 0:
        return -1.0
    try:
        return math.pow(ratio, 1.0 / years) - 1.0
    except OverflowError:
        return None


def _drawdowns(equity: list[float]) -> list[float]:
    if not equity:
        return []
    if not equity[0] > 0:
        raise ValueError(f"the first equity must be positive, got {equity[0]}")
    out = []
    peak = equity[0]
    for e in equity:
        if e > peak:
            peak = e
        out.append(e / peak - 1.0)
    return out
