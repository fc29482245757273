"""The equity curve: every point in a replay, one a bar live, so that a live
run's memory grows with its bars, not with the market's frames."""

from __future__ import annotations

from decimal import Decimal

from cryptoj_actors.portfolio.curve import EquityCurve
from cryptoj_actors.report.metrics import EquityPoint

S = 1_000_000_000


def point(t_s: float, equity: str) -> EquityPoint:
    d = Decimal(equity)
    return EquityPoint(time_ns=int(t_s * S), equity=d, cash=d, realized_pnl=Decimal(0),
                       unrealized_pnl=Decimal(0), fees=Decimal(0), gross_exposure=Decimal(0),
                       weights=())


def test_live_keeps_the_last_mark_of_each_bar():
    curve = EquityCurve(bar_ns=60 * S)
    for t, e in [(0.5, "100"), (30, "101"), (59.9, "102"), (60, "103"), (61, "104"),
                 (185, "105")]:
        curve.add(point(t, e))
    assert [(p.time_ns // S, str(p.equity)) for p in curve.points] == [
        (59, "102"), (61, "104"), (185, "105")]
    assert curve.last is not None and curve.last.equity == Decimal("105")


def test_a_day_of_event_driven_marks_is_a_day_of_bars():
    curve = EquityCurve(bar_ns=60 * S)
    for i in range(86_400 * 10):  # ten marks a second, for a day
        curve.add(point(i / 10, "100"))
    assert len(curve.points) == 1440


def test_a_replay_keeps_every_point():
    curve = EquityCurve()
    for t in (0, 0, 1, 1):
        curve.add(point(t, "1"))
    assert len(curve.points) == 4
    assert EquityCurve().last is None
