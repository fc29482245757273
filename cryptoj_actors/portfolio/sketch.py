"""A bounded sketch of the equity curve, for the dashboard: at most
``2 * size`` points, evenly spaced in points, however long the run.

Each point carries the drawdown computed from every point seen, not only the
kept ones, so that the sketch's drawdown is exact where it has a point.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SketchPoint:
    time_ns: int
    equity: Decimal    # quote currency
    drawdown: Decimal  # fraction of the peak equity so far, 0 at a new peak


class CurveSketch:
    """Keeps every ``stride``-th point; when ``2 * size`` points are held,
    every other one is dropped and the stride doubles. The latest point is
    always the last one, kept or not.

    Raises:
        ValueError: ``size`` below 2.
    """

    def __init__(self, size: int = 250) -> None:
        if size < 2:
            raise ValueError(f"a sketch keeps at least 2 points, not {size}")
        self.size = size
        self.stride = 1
        self._kept: list[SketchPoint] = []
        self._latest: SketchPoint | None = None
        self._seen = 0
        self._peak = ZERO

    def add(self, time_ns: int, equity: Decimal) -> None:
        self._peak = max(self._peak, equity)
        drawdown = (self._peak - equity) / self._peak if self._peak > 0 else ZERO
        point = SketchPoint(time_ns, equity, drawdown)
        self._latest = point
        if self._seen % self.stride == 0:
            self._kept.append(point)
            if len(self._kept) >= 2 * self.size:
                self._kept = self._kept[::2]
                self.stride *= 2
        self._seen += 1

    def points(self) -> tuple[SketchPoint, ...]:
        """The kept points, oldest first, and the latest one."""
        kept = self._kept
        if self._latest is not None and (not kept or kept[-1] is not self._latest):
            return (*kept, self._latest)
        return tuple(kept)
