"""Counters and latencies the actors record as they work, for health, the
status view and ``/metrics``.

Each statistic has one writer (the actor that measures it) and cheap O(1)
updates; readers (the health actor, the view, a scrape) only read. Times are
seconds (floats: these are statistics, not money).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, deque
from dataclasses import dataclass, field

from cryptoj_actors.health.availability import Availability

#: Samples each :class:`Latency` keeps for percentiles.
RECENT = 4096
#: Upper bounds (seconds, inclusive) of the histogram buckets of every
#: latency: from the sub-millisecond pipeline to a feed many seconds late.
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
             5.0, 10.0, 30.0)


class Latency:
    """Count, sum, maximum and last of a duration, in seconds, the most
    recent :data:`RECENT` samples (for percentiles), and ``buckets``: the
    samples at or below each bound of :data:`BUCKETS_S`, each counted once
    (the last one: above every bound), for a Prometheus histogram."""

    __slots__ = ("buckets", "count", "last", "max", "recent", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.last: float | None = None
        self.recent: deque[float] = deque(maxlen=RECENT)
        self.buckets = [0] * (len(BUCKETS_S) + 1)

    def record(self, seconds: float) -> None:
        self.recent.append(seconds)
        self.buckets[bisect_left(BUCKETS_S, seconds)] += 1
        self.count += 1
        self.total += seconds
        self.last = seconds
        self.max = max(self.max, seconds)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass(slots=True)
class Telemetry:
    """What the actors measure.

    * ``feed_messages``: channel -> messages received (the feed: for a replay
      the channel is ``bars``; live, the websocket channel names).
    * ``feed_lag``: local receive time minus the exchange's timestamp (live).
    * ``tick_to_order``: from the arrival of a market batch's data (live: its
      oldest frame; replay: the batch's cut) to the executor sending an order
      decided on it.
    * ``order_round_trip``: from sending an order to its end at the venue
      (filled, expired, cancelled or rejected).
    * ``errors``: role -> failures, unexpected messages and bad input.
    * ``feed_state``: the live connection: ``connecting``, ``up``, ``stale``
      (no data: reconnecting) or ``down`` (the circuit breaker: too many
      failures in a row); ``n/a`` in a replay.
    * ``admin_disconnects``: clients of the admin interface that left before
      their answer (the admin HTTP threads).
    * ``feed_events``: kind -> count, the feed's troubles: input defects by
      kind (``not_json``, ``bad_value``, ``unknown_channel``...), ``gap``,
      ``sequence_repeat``, ``crossed_book`` (the feed actor).
    * ``feed_reconnects``: cause -> reconnects the feed made itself:
      ``resubscribe`` (a gap or a book gone bad), ``stale`` (no data),
      ``open_timeout`` (the feed actor).
    * ``feed_connections``: connections the live feed opened (its socket thread).
    * ``feed_silent``: configured products that have had no data at all on the
      current connection (the feed actor; empty in a replay).
    * ``user_channel_state``: Coinbase's ``user`` channel: ``n/a`` (not
      used), ``connecting``, ``up``, ``stale`` or ``down`` (its socket thread).
    * ``user_channel_events``: kind -> count: ``frames``, ``orders`` (order
      changes heard of), ``gaps``, ``malformed``, ``errors``, ``reconnects``.
    * ``alerts``: outcome -> count: ``sent`` and ``failed`` (per channel),
      ``retried``, ``dropped`` (the alerts' delivery thread), ``held_back``
      (by the burst limit: the notifier).
    * ``orders``: final status (``FILLED``, ``CANCELLED``, ``EXPIRED``,
      ``REJECTED``...) -> orders that ended so (the portfolio).
    * ``fills``: liquidity (``MAKER``, ``TAKER``) -> fills (the portfolio).
    * ``denials``: (stage, reason code) -> orders refused before they were
      sent; stage ``risk`` (its limits: the risk actor) or ``reserve`` (the
      ledger's reservation: the portfolio). One writer per stage, so no two
      threads count the same key.
    * ``feed_availability``: the live connection's state changes, kept by
      :meth:`set_feed_state`.

    Counters live here, not in the actors, so that they go on across a restart.
    """

    feed_messages: Counter[str] = field(default_factory=Counter)
    feed_lag: Latency = field(default_factory=Latency)
    tick_to_order: Latency = field(default_factory=Latency)
    order_round_trip: Latency = field(default_factory=Latency)
    errors: Counter[str] = field(default_factory=Counter)
    feed_state: str = "n/a"
    admin_disconnects: int = 0  # clients of the admin interface gone before their answer
    feed_events: Counter[str] = field(default_factory=Counter)
    feed_reconnects: Counter[str] = field(default_factory=Counter)
    feed_connections: int = 0
    feed_silent: tuple[str, ...] = ()
    user_channel_state: str = "n/a"
    user_channel_events: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    orders: Counter[str] = field(default_factory=Counter)
    fills: Counter[str] = field(default_factory=Counter)
    denials: Counter[tuple[str, str]] = field(default_factory=Counter)
    feed_availability: Availability = field(default_factory=Availability)

    def set_feed_state(self, state: str, now_s: float) -> None:
        """The live connection is now ``state`` (see ``feed_state``);
        ``now_s``: wall clock, seconds."""
        self.feed_state = state
        self.feed_availability.mark(state, now_s)
