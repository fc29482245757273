"""The equity curve a run keeps for its report.

A replay's batches are its bars, and every point is kept. A live run marks
the portfolio at every batch, which with event-driven batches is every few
frames: kept whole, its curve would grow with the market's traffic (the
memory of a run left going for weeks). Live, the curve keeps one point a
bar, the last mark of each, so that it grows with the run's bars, and the
report's ``equity.csv`` is at the resolution the strategy trades at.
"""

from __future__ import annotations

from cryptoj_actors.report.metrics import EquityPoint


class EquityCurve:
    """Equity points, oldest first.

    Args:
        bar_ns: keep one point per bar of this many nanoseconds (the bar's
            last; bars start at multiples of it since the epoch), or None to
            keep every point.
    """

    def __init__(self, bar_ns: int | None = None) -> None:
        self.bar_ns = bar_ns
        self.points: list[EquityPoint] = []

    @property
    def last(self) -> EquityPoint | None:
        return self.points[-1] if self.points else None

    def add(self, point: EquityPoint) -> None:
        """Append ``point``, or replace the last one when both fall in one bar."""
        points, bar = self.points, self.bar_ns
        if bar and points and points[-1].time_ns // bar == point.time_ns // bar:
            points[-1] = point
        else:
            points.append(point)
