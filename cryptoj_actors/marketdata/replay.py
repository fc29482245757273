"""Replay of recorded bars as market batches: one batch per bar time.

A batch holds the bars of every product that closed at that time and is
stamped with the close (``start + interval``): that is when a live system
would have known them (DESIGN.md section 9).
"""

from __future__ import annotations

from cryptoj_actors.marketdata.bars.align import AlignedBars
from cryptoj_actors.marketdata.source import RecordedSource
from cryptoj_actors.messages import MarketBatch


class BarReplaySource(RecordedSource):
    """Serves an :class:`AlignedBars` slice by slice, in time order."""

    def __init__(self, aligned: AlignedBars) -> None:
        super().__init__()
        self.aligned = aligned
        self.products = aligned.products
        self.total_batches = len(aligned.slices)
        self.period_ns = aligned.interval_ns
        self._next = 0

    @property
    def exhausted(self) -> bool:
        return self._next >= self.total_batches

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        if self.exhausted:
            return None
        start_ns, bars = self.aligned.slices[self._next]
        self._next += 1
        self._telemetry.feed_messages["bars"] += len(bars)
        return MarketBatch(sender="feed", ts_ns=start_ns + self.aligned.interval_ns, seq=seq,
                           events=bars, received_ns=now_ns)
