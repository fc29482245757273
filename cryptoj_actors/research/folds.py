"""Walk-forward windows: tune on one stretch of history, judge on the next.

With ``K`` folds the common window's batches are cut into ``K + 1`` stretches
of equal length (the last takes the remainder); fold ``k`` (1 to ``K``) is
tuned in-sample on stretch ``k - 1`` and judged out-of-sample on stretch
``k``, which none of its trials has seen. This is the rolling walk-forward
(a fixed in-sample length), as in Pardo's *The Evaluation and Optimization
of Trading Strategies*. Each window is replayed on its own: the strategy
warms up at the window's start, as a replay of that stretch alone would.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cryptoj_actors.clock import iso
from cryptoj_actors.marketdata.bars.align import AlignedBars


@dataclass(frozen=True, slots=True)
class Window:
    """Batches ``start`` (included) to ``stop`` (excluded) of the aligned bars."""

    start: int
    stop: int

    def of(self, aligned: AlignedBars) -> AlignedBars:
        slices = aligned.slices[self.start:self.stop]
        return dataclasses.replace(aligned, slices=slices, start_ns=slices[0][0],
                                   end_ns=slices[-1][0])

    def describe(self, aligned: AlignedBars) -> str:
        """``2017-07-01T11:00:00Z to 2018-02-09T01:00:00Z (5,028 batches)``."""
        first, last = aligned.slices[self.start][0], aligned.slices[self.stop - 1][0]
        return f"{iso(first)} to {iso(last)} ({self.stop - self.start:,} batches)"


@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward step: ``number`` from 1, its two windows."""

    number: int
    in_sample: Window
    out_of_sample: Window | None  # None: a sweep without folds


def folds(batches: int, count: int, min_batches: int = 1) -> list[Fold]:
    """The folds of a window of ``batches`` batches; ``count`` 0 is one fold
    over the whole window, with nothing out-of-sample.

    Raises:
        ValueError: a stretch would be shorter than ``min_batches`` (a
            strategy's warm-up, say): fewer folds, or more data.
    """
    if count < 0:
        raise ValueError(f"--folds must be 0 or more, got {count}")
    if count == 0:
        if batches < min_batches:
            raise ValueError(f"{batches:,} batches: fewer than the {min_batches:,} needed")
        return [Fold(1, Window(0, batches), None)]
    length = batches // (count + 1)
    if length < min_batches:
        raise ValueError(f"{count} folds cut {batches:,} batches into stretches of {length:,}, "
                         f"fewer than the {min_batches:,} a window needs (the strategy's "
                         f"warm-up and more): use fewer folds")
    edges = [i * length for i in range(count + 1)] + [batches]
    return [Fold(k, Window(edges[k - 1], edges[k]), Window(edges[k], edges[k + 1]))
            for k in range(1, count + 1)]
