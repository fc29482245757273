"""A venue that answers over the network, driven from a thread of its own.

The executor's mailbox must never wait on the network (DESIGN.md section 4):
an order decided while a poll of the venue is in flight would wait behind
it. :class:`VenueWorker` gives the executor the :class:`Venue` interface of
a blocking venue (Coinbase over REST) and runs every call on its own
thread; what the venue answers comes back through ``deliver``, which the
executor turns into a message to itself.

Only the worker's thread touches the venue once it has started (a
:meth:`recover` adopts the journal's orders on the caller's thread before
any call is queued), so the venue needs no lock. The work, in order of
precedence:

1. orders, cancels and resumes, first come first served: an order never
   waits behind a poll that was asked for after it;
2. a reconciliation, then a poll, that a doorbell (the ``user`` channel)
   rang for; rings that come while one is pending are one ring;
3. the latest market batch (the venue's polling clock); a batch that comes
   while another waits replaces it, so a slow venue is never behind by more
   than one.

An exception that escapes the venue (a defect: the venue handles its own
network errors) is delivered as a failure, which fails the executor and so
restarts the pipeline; the worker then ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cryptoj_actors.execution.venue import VenueEvent
from cryptoj_actors.messages import MarketBatch, OrderUpdate
from cryptoj_actors.model import Order, OrderStatus

if TYPE_CHECKING:
    from cryptoj_actors.execution.journal import Journal

log = logging.getLogger(__name__)

#: Seconds between the doorbell's staleness checks, busy or idle.
WATCH_INTERVAL_S = 0.5
#: Seconds :meth:`VenueWorker.stop` waits for a call in flight to end.
STOP_TIMEOUT_S = 2.0

#: What the worker hands back: the venue's events, or what failed (then no events).
Deliver = Callable[[list[VenueEvent], BaseException | None], None]


class BlockingVenue(Protocol):
    """What the worker drives: a venue whose calls wait on the network
    (:class:`~cryptoj_actors.adapters.coinbase.execution.CoinbaseExchange`)."""

    @property
    def open_orders(self) -> int: ...
    def submit(self, order: Order, ts_ns: int) -> OrderUpdate: ...
    def on_market(self, batch: MarketBatch) -> list[VenueEvent]: ...
    def cancel_all(self, ts_ns: int, detail: str, *, status: OrderStatus = ...,
                   keep_reduce_only: bool = ...) -> list[VenueEvent]: ...
    def resume(self) -> None: ...
    def adopt(self, journal: Journal) -> None: ...
    def reconcile(self, ts_ns: int) -> list[VenueEvent]: ...
    def poll(self, ts_ns: int) -> list[VenueEvent]: ...


class Doorbell(Protocol):
    """Rings when the venue has news (the ``user`` channel)."""

    def start(self, ring: Callable[..., None]) -> None: ...
    def stop(self) -> None: ...
    def watch(self) -> None: ...


class VenueWorker:
    """The :class:`~cryptoj_actors.execution.venue.Venue` interface over a
    blocking venue, whose calls run on the worker's thread.

    Args:
        venue: the venue the worker alone drives once started.
        doorbell: news of the venue's orders, which it tells :meth:`ring`;
            its ``watch`` is called every :data:`WATCH_INTERVAL_S` at most.
        clock_ns: the wall clock (ns) that stamps doorbell-driven events.
    """

    def __init__(self, venue: BlockingVenue, *, doorbell: Doorbell | None = None,
                 clock_ns: Callable[[], int]) -> None:
        self.venue = venue
        self.doorbell = doorbell
        self._clock_ns = clock_ns
        self._deliver: Deliver = lambda events, failure: None
        self._wake = threading.Condition()
        self._calls: deque[Callable[[], list[VenueEvent]]] = deque()
        self._market: MarketBatch | None = None
        self._reconcile_due = False
        self._poll_due = False
        self._stopping = False
        self._watched = float("-inf")  # monotonic: the doorbell's last watch
        self._thread: threading.Thread | None = None

    @property
    def open_orders(self) -> int:
        return self.venue.open_orders

    # --- the executor's side: the Venue interface ---------------------------------------

    def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._thread = threading.Thread(target=self._run, name="venue-io", daemon=True)
        self._thread.start()
        if self.doorbell is not None:
            self.doorbell.start(self.ring)

    def stop(self) -> None:
        """Stop after the call in flight; what is still queued is dropped (the
        journal holds every order sent, and the next start reconciles)."""
        if self.doorbell is not None:
            self.doorbell.stop()
        with self._wake:
            self._stopping = True
            self._calls.clear()
            self._wake.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_TIMEOUT_S)

    def submit(self, order: Order, ts_ns: int) -> None:
        """Queued; its ``OPEN``, ``REJECTED`` or ``UNKNOWN`` is delivered."""
        self._call(lambda: [self.venue.submit(order, ts_ns)])

    def on_market(self, batch: MarketBatch) -> list[VenueEvent]:
        with self._wake:
            self._market = batch  # replaces one not taken yet
            self._wake.notify()
        return []

    def cancel_all(self, ts_ns: int, detail: str, *, status: OrderStatus = OrderStatus.CANCELLED,
                   keep_reduce_only: bool = False) -> list[VenueEvent]:
        self._call(lambda: self.venue.cancel_all(ts_ns, detail, status=status,
                                                 keep_reduce_only=keep_reduce_only))
        return []

    def resume(self) -> None:
        self._call(lambda: (self.venue.resume(), [])[1])

    def recover(self, journal: Journal) -> list[VenueEvent]:
        """Adopt the journal's open orders now (the journal is the caller's);
        the reconciliation with the venue is queued."""
        self.venue.adopt(journal)
        self.ring(reconcile=True)
        return []

    def ring(self, *, reconcile: bool = False) -> None:
        """The doorbell: the venue has news of its orders; poll them, or
        reconcile (``reconcile``: a new subscription, which may have missed
        anything)."""
        with self._wake:
            if reconcile:
                self._reconcile_due = True
            else:
                self._poll_due = True
            self._wake.notify()

    # --- the worker's thread ------------------------------------------------------------

    def _call(self, call: Callable[[], list[VenueEvent]]) -> None:
        with self._wake:
            self._calls.append(call)
            self._wake.notify()

    def _next(self) -> Callable[[], list[VenueEvent]] | None:
        """The next piece of work by precedence, waiting for one; None: stop.
        The doorbell's ``watch`` comes every :data:`WATCH_INTERVAL_S`, busy
        or not."""
        with self._wake:
            while True:
                if self._stopping:
                    return None
                if self._calls:
                    return self._calls.popleft()
                doorbell, now = self.doorbell, time.monotonic()
                if doorbell is not None and now - self._watched >= WATCH_INTERVAL_S:
                    self._watched = now
                    return lambda: (doorbell.watch(), [])[1]
                if self._reconcile_due:
                    self._reconcile_due = self._poll_due = False
                    return lambda: self.venue.reconcile(self._clock_ns())
                if self._poll_due:
                    self._poll_due = False
                    return lambda: self.venue.poll(self._clock_ns())
                if self._market is not None:
                    batch, self._market = self._market, None
                    return lambda: self.venue.on_market(batch)
                self._wake.wait(WATCH_INTERVAL_S)

    def _run(self) -> None:
        while (call := self._next()) is not None:
            try:
                events = call()
            except Exception as exc:  # a defect in the venue: fail the executor
                log.exception("venue worker: a venue call failed")
                self._deliver([], exc)
                return
            if events:
                self._deliver(events, None)
