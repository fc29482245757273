"""Where the feed actor gets its market batches from.

A source is pulled by the feed actor, on its own thread, whenever it has
credit: :meth:`MarketSource.next_batch` returns the next batch, or ``None``
when nothing is ready yet (live) or the data is over (replay; then
``exhausted`` is true). Both kinds go through the same feed actor and the
same path downstream (DESIGN.md section 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.messages import MarketBatch


class MarketSource(Protocol):
    products: tuple[str, ...]
    total_batches: int  # 0 when unknown (live)
    exhausted: bool
    period_ns: int  # the time one batch covers: the bar interval, or the live batch interval

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        """Begin (a live source connects; ``notify`` tells the feed actor, and
        it counts messages, lag and bad input into ``telemetry``)."""

    def stop(self) -> None:
        """Release connections and threads; idempotent."""

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        """The next batch, numbered ``seq``, or None if there is none now."""

    def absorb(self, message: object) -> None:
        """Take in what a live connection delivered (via ``notify``)."""

    def watch(self, now_ns: int) -> None:
        """Look after the connection on every clock tick, whether or not
        batches are being taken (a live source reconnects on stale data or a
        connection that does not open); nothing for a replay."""


class RecordedSource:
    """What every replay source shares: no connection to start, stop or
    watch, and no live input; it only counts into the run's telemetry."""

    def __init__(self) -> None:
        self._telemetry = Telemetry()  # until start() gives the run's

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        self._telemetry = telemetry

    def stop(self) -> None:
        pass

    def absorb(self, message: object) -> None:
        raise TypeError(f"a replay source takes no live input ({type(message).__name__})")

    def watch(self, now_ns: int) -> None:
        pass
