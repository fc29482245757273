"""The feed actor: pulls market batches from a source and publishes them.

Flow control (DESIGN.md section 9): at most ``credit_window`` batches are in
flight beyond the last settled one (its orders at the executor); the
executor's :class:`Credit` is cumulative. A window of 1 is lockstep. Live, a
batch is cut every ``batch_interval_s``, or with 0 as soon as a frame
arrives and the window allows: frames that come while the pipeline is busy
conflate into the batch the next credit lets out, so tick-to-order is the
pipeline's own latency, not a batch interval. Once the source is
exhausted, :class:`EndOfData` follows the last batch down the same path. The
halt switch is checked before every batch: a halt stops the data, unless the
book is being unwound, which needs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import pykka

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.marketdata.source import MarketSource
from cryptoj_actors.messages import Credit, EndOfData, Tick, TradingState
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

#: Event-driven batches (``batch_interval_s = 0``): how often the connection
#: is still looked after (staleness, a connection that does not open), seconds.
WATCH_INTERVAL_S = 0.1


class FeedActor(RoleActor):
    role = "feed"

    def __init__(self, runtime: Runtime, generation: int = 0, *, source: MarketSource,
                 subscribers: Sequence[str]) -> None:
        super().__init__(runtime, generation)
        self.source = source
        self.subscribers = tuple(subscribers)
        self.window = runtime.config.feed.credit_window
        self.last_seq = 0
        self.last_ts_ns = 0
        self.settled_seq = 0
        self.ended = False
        self.event_driven = runtime.config.feed.batch_interval_s == 0

    def handlers(self) -> dict[type, Handler]:
        return {Credit: self.on_credit, Tick: self.on_tick,
                TradingState: lambda _: self.pump()}  # a resume: the data flows again

    def registered(self) -> None:
        # Only now: the credits that answer the first batches are addressed
        # to the role "feed", which must already lead here.
        self.rt.progress.total = self.source.total_batches
        self.source.start(self._notify, self.rt.telemetry)
        if self.source.total_batches == 0:  # live: batches are cut on a clock, or on arrival
            self.every(self.rt.config.feed.batch_interval_s or WATCH_INTERVAL_S, "batch")
        self.pump()

    def stopping(self) -> None:
        self.source.stop()

    def _notify(self, message: object) -> None:
        # Called from the source's own thread: hand over through the mailbox.
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass  # the feed is stopping: the source follows

    def on_receive(self, message: object) -> object:
        if type(message) in self._handlers:
            return super().on_receive(message)
        self.source.absorb(message)
        if self.event_driven:
            self.pump()
        return None

    def on_credit(self, credit: Credit) -> None:
        self.settled_seq = max(self.settled_seq, credit.seq)
        self.pump()

    def on_tick(self, tick: Tick) -> None:
        self.source.watch(time.time_ns())
        self.pump()

    def pump(self) -> None:
        """Send batches while the window allows; end the stream when the data is over."""
        halt = self.rt.halt
        while self.last_seq - self.settled_seq < self.window and not (
                halt.is_set() and not halt.unwinding):
            batch = self.source.next_batch(self.last_seq + 1, time.time_ns())
            if batch is None:
                break
            self.last_seq, self.last_ts_ns = batch.seq, batch.ts_ns
            for role in self.subscribers:
                self.send(role, batch)
        if self.source.exhausted and not self.ended:
            self.ended = True
            end = EndOfData(sender=self.role, ts_ns=self.last_ts_ns, last_seq=self.last_seq)
            for role in self.subscribers:
                self.send(role, end)
            log.info("feed: end of data after %d batches", self.last_seq)
