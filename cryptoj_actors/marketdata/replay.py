"""Replay of recorded bars as market batches: one batch per bar time.

A batch holds the bars of every product that closed at that time and is
stamped with the close (``start + interval``): that is when a live system
would have known them (DESIGN.md section 9).

Real data has gaps (minutes without a trade, hours of an outage). A product
whose latest bar is more than ``stale_bars`` intervals old is named
``unreliable`` in the batch, as stale live data is: its value rests on an old
mark, and risk lets nothing add exposure to it until its next bar.
"""

from __future__ import annotations

from cryptoj_actors.marketdata.bars.align import AlignedBars
from cryptoj_actors.marketdata.source import RecordedSource
from cryptoj_actors.messages import MarketBatch


def stale_products(aligned: AlignedBars, stale_bars: int | None) -> list[tuple[str, ...]]:
    """For each slice of ``aligned``, the products whose latest bar (at or
    before it) is more than ``stale_bars`` intervals old, or that have had
    none yet; all empty with None."""
    if stale_bars is None:
        return [()] * len(aligned.slices)
    limit = stale_bars * aligned.interval_ns
    latest: dict[str, int] = {}
    out = []
    for start_ns, bars in aligned.slices:
        for bar in bars:
            latest[bar.product_id] = bar.start_ns
        out.append(tuple(p for p in aligned.products
                         if p not in latest or start_ns - latest[p] > limit))
    return out


class BarReplaySource(RecordedSource):
    """Serves an :class:`AlignedBars` slice by slice, in time order.

    Args:
        aligned: the bars.
        stale_bars: a product without a bar for more than this many intervals
            is unreliable in the batches meanwhile (None: never).
        stale: ``stale_products(aligned, stale_bars)`` if already known (the
            sources of one replay's restarts share it).
    """

    def __init__(self, aligned: AlignedBars, stale_bars: int | None = None, *,
                 stale: list[tuple[str, ...]] | None = None) -> None:
        super().__init__()
        self.aligned = aligned
        self.products = aligned.products
        self.total_batches = len(aligned.slices)
        self.period_ns = aligned.interval_ns
        self._stale = stale_products(aligned, stale_bars) if stale is None else stale
        self._next = 0

    @property
    def exhausted(self) -> bool:
        return self._next >= self.total_batches

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        if self.exhausted:
            return None
        start_ns, bars = self.aligned.slices[self._next]
        unreliable = self._stale[self._next]
        self._next += 1
        self._telemetry.feed_messages["bars"] += len(bars)
        return MarketBatch(sender="feed", ts_ns=start_ns + self.aligned.interval_ns, seq=seq,
                           events=bars, received_ns=now_ns, unreliable=unreliable)
