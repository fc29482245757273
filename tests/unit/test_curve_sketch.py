"""The equity curve's sketch for the dashboard: bounded however long the
run, evenly spaced, the latest point always last, the drawdown exact."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from cryptoj_actors.portfolio.sketch import CurveSketch


def test_a_long_run_stays_within_twice_the_size_evenly_spaced():
    sketch = CurveSketch(size=10)
    for i in range(10_001):
        sketch.add(i, Decimal(100 + i % 7))
    points = sketch.points()
    assert len(points) <= 21
    times = [p.time_ns for p in points[:-1]]
    assert times[0] == 0 and len({b - a for a, b in pairwise(times)}) == 1
    assert points[-1].time_ns == 10_000


def test_the_drawdown_counts_the_peak_of_every_point_not_only_the_kept_ones():
    sketch = CurveSketch(size=2)
    for i, equity in enumerate(("100", "200", "150", "120", "180", "90")):
        sketch.add(i, Decimal(equity))
    points = sketch.points()
    assert points[-1].drawdown == Decimal("0.55")  # from the peak of 200, kept or not
    assert all(p.drawdown >= 0 for p in points)


def test_an_empty_sketch_and_a_bad_size():
    assert CurveSketch().points() == ()
    with pytest.raises(ValueError, match="at least 2"):
        CurveSketch(size=1)
