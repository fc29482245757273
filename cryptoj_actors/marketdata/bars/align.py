"""One product's files joined in time; several products' bar series lined up on one time grid."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from operator import attrgetter

from cryptoj_actors.clock import iso
from cryptoj_actors.marketdata.bars.series import BarSeries, count, duration
from cryptoj_actors.model import Bar

__all__ = ["AlignedBars", "align", "join"]

_START = attrgetter("start_ns")


@dataclass(frozen=True, slots=True)
class AlignedBars:
    """Bars of several products on one time grid.

    ``start_ns`` and ``end_ns`` are the first and last bar starts of the common
    window (ns, UTC, both included). Each slice is ``(start_ns, bars)``: the
    bars starting at that instant, at most one per product, in ``products``
    order; a product with no bar at that instant is absent from the slice.
    """

    products: tuple[str, ...]
    interval_ns: int
    start_ns: int
    end_ns: int
    slices: tuple[tuple[int, tuple[Bar, ...]], ...]
    notes: tuple[str, ...]


def join(series: Sequence[BarSeries]) -> BarSeries:
    """One product's bars from several files (Lean's one file a day), in time order.

    The files may come in any order; the time between them may be a gap
    (whole bars missing, noted), never an overlap. The joined series has the
    earliest file's path and layout.

    Raises:
        ValueError: no series, products or intervals differ, two files
            overlap in time, or one file's bars are off the other's grid.
    """
    if not series:
        raise ValueError("join needs at least one bar series")
    if len(series) == 1:
        return series[0]
    ordered = sorted(series, key=lambda s: s.bars[0].start_ns)
    first = ordered[0]
    interval = first.interval_ns
    missing = 0
    for before, after in pairwise(ordered):
        if after.product_id != first.product_id or after.interval_ns != interval:
            raise ValueError(f"cannot join {before.path} ({before.product_id}, "
                             f"{duration(before.interval_ns)} bars) with {after.path} "
                             f"({after.product_id}, {duration(after.interval_ns)} bars)")
        last, next_start = before.bars[-1].start_ns, after.bars[0].start_ns
        if next_start <= last:
            raise ValueError(f"{before.path} and {after.path} overlap: both have "
                             f"{first.product_id} bars at {iso(next_start)} to "
                             f"{iso(min(last, after.bars[-1].start_ns))}")
        bars, off = divmod(next_start - last, interval)
        if off:
            raise ValueError(f"cannot join {before.path} with {after.path}: their "
                             f"{duration(interval)} bars start at different offsets")
        missing += bars - 1
    notes = [f"{first.product_id}: {count(len(ordered), 'file')} joined, "
             f"{iso(first.bars[0].start_ns)} to {iso(ordered[-1].bars[-1].start_ns)}"
             + (f", {count(missing, 'bar')} missing between them" if missing else "")]
    return BarSeries(product_id=first.product_id, path=first.path, layout=first.layout,
                     interval_ns=interval,
                     bars=tuple(bar for s in ordered for bar in s.bars),
                     notes=tuple(notes))


def align(series: Sequence[BarSeries]) -> AlignedBars:
    """Line the series up on their common time window; the files of one
    product are joined first (:func:`join`).

    The window runs from the latest first-bar start to the earliest last-bar
    start. Each instant in it where at least one product has a bar gives a
    slice; a product without a bar there is absent from that slice, and such
    holes are counted in the notes. One series gives all of its bars.

    Raises:
        ValueError: no series, files of one product that cannot be joined,
            different bar intervals or grids that do not line up, or no
            common window.
    """
    if not series:
        raise ValueError("align needs at least one bar series")
    by_product: dict[str, list[BarSeries]] = {}
    for s in series:
        by_product.setdefault(s.product_id, []).append(s)
    series = [join(files) for files in by_product.values()]
    # A file's own notes are its loader's to tell; a join's are new here.
    notes = [note for files, s in zip(by_product.values(), series) if len(files) > 1
             for note in s.notes]
    first = series[0]
    for s in series[1:]:
        if s.interval_ns != first.interval_ns:
            raise ValueError(
                f"cannot align {first.path} ({first.product_id}, "
                f"{duration(first.interval_ns)} bars) with {s.path} ({s.product_id}, "
                f"{duration(s.interval_ns)} bars): intervals differ"
            )
        if (s.bars[0].start_ns - first.bars[0].start_ns) % first.interval_ns:
            raise ValueError(
                f"cannot align {first.path} with {s.path}: their {duration(first.interval_ns)} "
                f"bars start at different offsets ({iso(first.bars[0].start_ns)} vs "
                f"{iso(s.bars[0].start_ns)})"
            )
    interval = first.interval_ns
    start = max(s.bars[0].start_ns for s in series)
    end = min(s.bars[-1].start_ns for s in series)
    if start > end:
        ranges = "; ".join(
            f"{s.product_id} {iso(s.bars[0].start_ns)} to {iso(s.bars[-1].start_ns)}"
            for s in series
        )
        raise ValueError(f"no common time window: {ranges}")

    windows = [
        s.bars[bisect_left(s.bars, start, key=_START) : bisect_right(s.bars, end, key=_START)]
        for s in series
    ]
    starts = [list(map(_START, w)) for w in windows]
    if all(st == starts[0] for st in starts[1:]):
        # Every product has a bar at every time (the usual case): zip them.
        times = starts[0]
        slices = tuple(zip(times, zip(*windows)))
        holes: list[list[int]] = [[] for _ in series]
    else:
        by_time = [dict(zip(st, w)) for st, w in zip(starts, windows)]
        times = sorted(set().union(*starts))
        slices = tuple((t, tuple(d[t] for d in by_time if t in d)) for t in times)
        holes = [[t for t in times if t not in d] for d in by_time]

    notes.append(
        f"common window {iso(start)} to {iso(end)}: {count(len(slices), 'slice')} "
        f"of {duration(interval)} bars"
    )
    for s, w in zip(series, windows):
        left_out = len(s.bars) - len(w)
        if left_out:
            notes.append(f"{s.product_id}: {count(left_out, 'bar')} outside the window left out")
    for s, missing in zip(series, holes):
        if missing:
            notes.append(
                f"{s.product_id}: no bar at {count(len(missing), 'time')} of the window "
                f"where another product has one (first {iso(missing[0])})"
            )
    empty = (end - start) // interval + 1 - len(times)
    if empty:
        notes.append(f"{count(empty, 'bar time')} in the window with no bar for any product")
    return AlignedBars(
        products=tuple(s.product_id for s in series),
        interval_ns=interval,
        start_ns=start,
        end_ns=end,
        slices=slices,
        notes=tuple(notes),
    )
