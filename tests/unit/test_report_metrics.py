"""Report metrics: hand-computed cases for every metric, and properties."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoj_actors.clock import NS_PER_DAY, NS_PER_HOUR, from_datetime
from cryptoj_actors.model import Side
from cryptoj_actors.report.metrics import (
    YEAR_NS,
    EquityPoint,
    TradeRecord,
    drawdown_series,
    performance,
    periods_per_year,
)

T0 = from_datetime(datetime(2020, 1, 1, tzinfo=timezone.utc))
SQRT3 = math.sqrt(3)


def curve(equities, *, step=NS_PER_HOUR, times=None, exposures=None):
    """Equity points at ``T0 + i * step`` (or at ``T0 + times[i]``)."""
    points = []
    for i, e in enumerate(equities):
        equity = Decimal(str(e))
        exposure = Decimal(str(exposures[i])) if exposures is not None else Decimal(0)
        points.append(
            EquityPoint(
                time_ns=T0 + (times[i] if times is not None else i * step),
                equity=equity,
                cash=equity,
                realized_pnl=Decimal(0),
                unrealized_pnl=Decimal(0),
                fees=Decimal(0),
                gross_exposure=exposure,
                weights=(("BTC-USD", exposure),),
            )
        )
    return points


def trade(side, pnl, fee="0", n=0):
    return TradeRecord(
        time_ns=T0 + n * NS_PER_HOUR,
        product_id="BTC-USD",
        side=side,
        base_size=Decimal("0.1"),
        price=Decimal("10000"),
        fee=Decimal(fee),
        client_order_id=f"c{n}",
        realized_pnl=Decimal(pnl),
        reason="rebalance",
        liquidity="taker",
    )


def perf(points, trades=(), *, rf=0.0, ppy=1.0):
    return performance(points, list(trades), risk_free_rate=rf, periods_per_year=ppy)


# Case A: 100 -> 110 -> 99 -> 108.9 over exactly one year; returns +10 %, -10 %, +10 %.
YEAR_THIRDS = [0, YEAR_NS // 3, 2 * YEAR_NS // 3, YEAR_NS]
CASE_A = curve([100, 110, 99, "108.9"], times=YEAR_THIRDS)


# --- periods per year ------------------------------------------------------------


def test_periods_per_year_uses_365_25_days_of_24_hours():
    assert periods_per_year(NS_PER_HOUR) == 8766.0
    assert periods_per_year(NS_PER_DAY) == 365.25
    assert periods_per_year(60 * 1_000_000_000) == 525960.0
    assert periods_per_year(YEAR_NS) == 1.0


@pytest.mark.parametrize("interval", [0, -NS_PER_HOUR])
def test_periods_per_year_refuses_non_positive_interval(interval):
    with pytest.raises(ValueError):
        periods_per_year(interval)


# --- returns -------------------------------------------------------------------------


def test_case_a_returns():
    p = perf(CASE_A)
    assert p.start_equity == Decimal("100") and p.end_equity == Decimal("108.9")
    assert p.start_ns == T0 and p.end_ns == T0 + YEAR_NS
    assert p.number_of_points == 4
    assert p.years == 1.0
    assert p.total_return == pytest.approx(0.089, rel=1e-12)
    assert p.cagr == pytest.approx(0.089, rel=1e-12)


def test_cagr_over_two_years():
    p = perf(curve([100, 121], times=[0, 2 * YEAR_NS]), ppy=0.5)  # one two-year bar
    assert p.years == p.calendar_years == 2.0
    assert p.total_return == pytest.approx(0.21, rel=1e-12)
    assert p.cagr == pytest.approx(0.10, rel=1e-12)


def test_a_hole_in_the_data_counts_one_period_not_its_length():
    # Minute bars: 3 contiguous minutes, a hole of one day, 2 more minutes.
    minute = 60 * 1_000_000_000
    times = [0, minute, 2 * minute, 2 * minute + NS_PER_DAY, 3 * minute + NS_PER_DAY]
    equities = [100, "100.0001", "100.0002", "100.0003", "100.0004"]
    p = perf(curve(equities, times=times), ppy=periods_per_year(minute))
    assert p.years == 4 * minute / YEAR_NS  # four returns, one period each
    assert p.calendar_years == (3 * minute + NS_PER_DAY) / YEAR_NS
    assert p.cagr == pytest.approx(1.000004 ** (YEAR_NS / (4 * minute)) - 1, rel=1e-9)


def test_contiguous_data_covers_its_calendar_span():
    p = perf(curve([100, 101, 99, 102]), ppy=periods_per_year(NS_PER_HOUR))
    assert p.years == p.calendar_years == 3 * NS_PER_HOUR / YEAR_NS


def test_cagr_over_half_a_year_compounds():
    p = perf(curve([100, 110], times=[0, YEAR_NS // 2]))
    assert p.cagr == pytest.approx(0.21, rel=1e-12)


def test_total_return_is_exact_decimal_ratio():
    # 1/3 - 1 computed in Decimal, then one rounding to float
    p = perf(curve([3, 1], times=[0, YEAR_NS]))
    assert p.total_return == pytest.approx(-2 / 3, rel=1e-15)


def test_cagr_is_none_when_span_is_zero():
    assert perf(curve([100])).cagr is None
    assert perf(curve([100, 120], times=[0, 0])).cagr is None


def test_cagr_is_none_when_annualizing_overflows():
    # doubling in one nanosecond: (2) ** (YEAR_NS) overflows a float
    p = perf(curve([100, 200], times=[0, 1]))
    assert p.cagr is None and p.calmar is None


def test_cagr_of_total_loss_is_minus_one():
    p = perf(curve([100, 0], times=[0, YEAR_NS]))
    assert p.cagr == -1.0
    assert p.max_drawdown == 1.0


# --- Sharpe, Sortino, volatility --------------------------------------------------


def test_case_a_sharpe_sortino_volatility():
    # excess = r = (0.1, -0.1, 0.1); mean 1/30; sample stdev 0.2/sqrt(3)
    # Sharpe = (1/30) / (0.2/sqrt3) = sqrt3/6
    # DD = sqrt((0 + 0.01 + 0) / 3) = 0.1/sqrt3; Sortino = (1/30) / (0.1/sqrt3) = sqrt3/3
    p = perf(CASE_A, ppy=1.0)
    assert p.sharpe == pytest.approx(SQRT3 / 6, rel=1e-12)
    assert p.sortino == pytest.approx(SQRT3 / 3, rel=1e-12)
    assert p.annualized_volatility == pytest.approx(0.2 / SQRT3, rel=1e-12)


def test_annualization_multiplies_by_sqrt_periods_per_year():
    p = perf(CASE_A, ppy=4.0)
    assert p.sharpe == pytest.approx(2 * SQRT3 / 6, rel=1e-12)
    assert p.sortino == pytest.approx(2 * SQRT3 / 3, rel=1e-12)
    assert p.annualized_volatility == pytest.approx(2 * 0.2 / SQRT3, rel=1e-12)
    assert p.periods_per_year == 4.0


def test_positive_risk_free_rate_lowers_sharpe_and_sortino():
    # rf_p = 0.05 (ppy 1): excess = (0.05, -0.15, 0.05), mean -1/60, stdev unchanged
    # Sharpe = (-1/60) / (0.2/sqrt3) = -sqrt3/12; DD = 0.15/sqrt3, Sortino = -sqrt3/9
    p = perf(CASE_A, rf=0.05, ppy=1.0)
    assert p.sharpe == pytest.approx(-SQRT3 / 12, rel=1e-12)
    assert p.sortino == pytest.approx(-SQRT3 / 9, rel=1e-12)
    assert p.annualized_volatility == pytest.approx(0.2 / SQRT3, rel=1e-12)  # not excess
    assert p.risk_free_rate == 0.05
    assert p.sharpe < perf(CASE_A, rf=0.0, ppy=1.0).sharpe


def test_risk_free_rate_is_compounded_per_period():
    # ppy 2, rf 21 % a year -> rf_p = sqrt(1.21) - 1 = 10 % (not 10.5 %)
    # r = (0.2, 0.0), excess = (0.1, -0.1): mean 0 -> Sharpe 0, Sortino 0
    p = perf(curve([100, 120, 120]), rf=0.21, ppy=2.0)
    assert p.sharpe == pytest.approx(0.0, abs=1e-12)
    assert p.sortino == pytest.approx(0.0, abs=1e-12)


def test_sortino_downside_deviation_uses_all_periods():
    # r = (0.1, -0.2, 0.1, 0.1)... built from 100 110 88 96.8 106.48
    # DD = sqrt(0.04 / 4) = 0.1 (not sqrt(0.04/1) = 0.2); mean = 0.1/4 = 0.025
    p = perf(curve([100, 110, 88, "96.8", "106.48"]), ppy=1.0)
    assert p.sortino == pytest.approx(0.25, rel=1e-12)


def test_one_return_gives_no_sharpe_but_a_sortino():
    p = perf(curve([100, 90]), ppy=1.0)
    assert p.sharpe is None
    assert p.annualized_volatility is None
    assert p.sortino == pytest.approx(-1.0, rel=1e-12)  # -0.1 / sqrt(0.01 / 1)


def test_single_point_leaves_every_statistic_undefined():
    p = perf(curve([100]))
    assert p.total_return == 0.0
    assert (p.cagr, p.sharpe, p.sortino, p.annualized_volatility, p.calmar) == (None,) * 5
    assert p.max_drawdown == 0.0
    assert p.max_drawdown_peak_ns is None and p.max_drawdown_trough_ns is None


def test_flat_equity_has_no_sharpe_and_no_sortino():
    p = perf(curve([100] * 5))
    assert p.sharpe is None  # stdev 0
    assert p.sortino is None  # DD 0
    assert p.annualized_volatility == 0.0


def test_equal_returns_in_exact_arithmetic_are_not_float_noise_sharpe():
    # 100 -> 110 -> 121 -> 133.1: r = 0.1 each in exact arithmetic; as floats
    # they differ in the last bit, which must not produce a Sharpe of 1e15
    p = perf(curve([100, 110, 121, "133.1"]), ppy=1.0)
    assert p.sharpe is None
    assert p.sortino is None


def test_returns_after_a_zero_equity_are_undefined():
    p = perf(curve([100, 0, 50, 60]), ppy=1.0)
    assert p.sharpe is None and p.sortino is None and p.annualized_volatility is None
    assert p.max_drawdown == 1.0


# --- drawdown and Calmar --------------------------------------------------------------


def test_case_a_drawdown_and_calmar():
    p = perf(CASE_A)
    assert p.max_drawdown == pytest.approx(0.1, rel=1e-12)  # (110 - 99) / 110
    assert p.max_drawdown_peak_ns == T0 + YEAR_THIRDS[1]
    assert p.max_drawdown_trough_ns == T0 + YEAR_THIRDS[2]
    assert p.calmar == pytest.approx(0.89, rel=1e-12)  # 0.089 / 0.1


def test_drawdown_peak_is_the_running_maximum_before_the_trough():
    # a first 10 % dip, a new high held for two points, then the deepest fall
    points = curve([100, 90, 120, 120, 60, 130])
    p = perf(points)
    assert p.max_drawdown == 0.5
    assert p.max_drawdown_peak_ns == T0 + 3 * NS_PER_HOUR  # last time at the peak
    assert p.max_drawdown_trough_ns == T0 + 4 * NS_PER_HOUR
    assert drawdown_series(points) == pytest.approx([0, -0.1, 0, 0, -0.5, 0], abs=1e-15)


def test_drawdown_trough_is_the_first_deepest_point():
    p = perf(curve([100, 50, 100, 50]))
    assert p.max_drawdown == 0.5
    assert p.max_drawdown_peak_ns == T0
    assert p.max_drawdown_trough_ns == T0 + NS_PER_HOUR


def test_rising_curve_has_no_drawdown():
    points = curve([100, 101, 105, 110], times=YEAR_THIRDS)
    p = perf(points)
    assert p.max_drawdown == 0.0
    assert p.max_drawdown_peak_ns is None and p.max_drawdown_trough_ns is None
    assert p.calmar is None
    assert p.sortino is None  # no period below the risk-free rate of 0
    assert p.sharpe is not None
    assert drawdown_series(points) == [0.0, 0.0, 0.0, 0.0]


def test_calmar_is_none_without_cagr():
    p = perf(curve([100, 90], times=[0, 0]))
    assert p.max_drawdown == pytest.approx(0.1)
    assert p.calmar is None


def test_drawdown_series_of_nothing_is_empty():
    assert drawdown_series([]) == []


# --- exposure ---------------------------------------------------------------------


def test_gross_exposure_average_and_maximum():
    p = perf(curve([100, 100, 100], exposures=["0.2", "0.5", "0.8"]))
    assert p.avg_gross_exposure == pytest.approx(0.5, rel=1e-15)
    assert p.max_gross_exposure == 0.8


# --- trades --------------------------------------------------------------------------


def test_trade_statistics_are_gross_of_fees():
    trades = [
        trade("BUY", "0", fee="1.25", n=0),
        trade("SELL", "30", fee="0.5", n=1),
        trade(Side.SELL, "-10", fee="0.25", n=2),
        trade("SELL", "5", fee="100", n=3),  # a fee larger than the gain: still a gross win
        trade("SELL", "0", fee="0.000000000001", n=4),
    ]
    p = perf(curve([100]), trades)
    assert p.number_of_trades == 5
    assert p.closing_trades == 4
    assert p.winning_trades == 2
    assert p.win_rate == 0.5
    assert p.gross_profit == Decimal("35") and p.gross_loss == Decimal("10")
    assert p.profit_factor == 3.5
    assert p.total_fees == Decimal("102.000000000001")


def test_profit_factor_is_none_without_a_loss():
    p = perf(curve([100]), [trade("BUY", "0"), trade("SELL", "4"), trade("SELL", "0")])
    assert p.profit_factor is None
    assert p.win_rate == 0.5
    assert p.gross_loss == 0


def test_win_rate_is_none_without_closing_trades():
    p = perf(curve([100]), [trade("BUY", "0", fee="0.1"), trade("BUY", "0", fee="0.2")])
    assert p.number_of_trades == 2 and p.closing_trades == 0
    assert p.win_rate is None and p.profit_factor is None
    assert p.total_fees == Decimal("0.3")


def test_no_trades():
    p = perf(curve([100]), [])
    assert (p.number_of_trades, p.closing_trades, p.winning_trades) == (0, 0, 0)
    assert p.total_fees == 0 and p.win_rate is None and p.profit_factor is None


# --- validation ----------------------------------------------------------------------


def test_performance_refuses_bad_input():
    with pytest.raises(ValueError):
        perf([])
    with pytest.raises(ValueError):
        perf(curve([0, 100]))
    with pytest.raises(ValueError):
        perf(curve([100, 110], times=[NS_PER_HOUR, 0]))
    with pytest.raises(ValueError):
        perf(curve([100, 110]), ppy=0.0)


# --- properties ----------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=60))
def test_max_drawdown_properties(equities):
    points = curve(equities)
    p = perf(points)
    series = drawdown_series(points)
    assert 0.0 <= p.max_drawdown < 1.0
    assert all(d <= 0.0 for d in series)
    assert p.max_drawdown == max(-d for d in series)
    # brute force, exact: the largest (E_i - E_j) / E_i over i <= j
    exact = max(
        Fraction(equities[i] - equities[j], equities[i])
        for j in range(len(equities))
        for i in range(j + 1)
    )
    assert p.max_drawdown == pytest.approx(float(exact), abs=1e-12)
    if p.max_drawdown > 0:
        peak = (p.max_drawdown_peak_ns - T0) // NS_PER_HOUR
        trough = (p.max_drawdown_trough_ns - T0) // NS_PER_HOUR
        assert peak < trough
        assert equities[peak] == max(equities[: trough + 1])
        fall = Fraction(equities[peak] - equities[trough], equities[peak])
        assert float(fall) == pytest.approx(p.max_drawdown)


_EQUITIES = st.lists(st.integers(min_value=50, max_value=1000), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    _EQUITIES,
    st.integers(min_value=-10, max_value=10),
    st.floats(min_value=0.0, max_value=0.2),
    st.sampled_from([1.0, 52.0, 365.25, 8766.0]),
)
def test_sharpe_is_exactly_invariant_to_power_of_two_scaling(equities, exponent, rf, ppy):
    scale = Decimal(2) ** exponent
    base = perf(curve(equities), rf=rf, ppy=ppy)
    scaled = perf(curve([Decimal(e) * scale for e in equities]), rf=rf, ppy=ppy)
    assert scaled.sharpe == base.sharpe
    assert scaled.sortino == base.sortino


@settings(max_examples=200, deadline=None)
@given(
    _EQUITIES,
    st.integers(min_value=1, max_value=10**6).map(lambda k: Decimal(k) / 1000),
    st.floats(min_value=0.0, max_value=0.2),
    st.sampled_from([1.0, 52.0, 365.25]),
)
def test_sharpe_is_invariant_to_scaling_equity(equities, scale, rf, ppy):
    base = perf(curve(equities), rf=rf, ppy=ppy)
    scaled = perf(curve([Decimal(e) * scale for e in equities]), rf=rf, ppy=ppy)
    if base.sharpe is None:
        assert scaled.sharpe is None
    else:
        assert scaled.sharpe == pytest.approx(base.sharpe, rel=1e-6, abs=1e-6)
    assert scaled.max_drawdown == pytest.approx(base.max_drawdown, rel=1e-9, abs=1e-12)
    assert scaled.total_return == pytest.approx(base.total_return, rel=1e-9, abs=1e-12)
