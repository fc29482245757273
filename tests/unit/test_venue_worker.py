"""The venue worker: a blocking venue's calls on a thread of their own, in
order of precedence, their answers delivered; the executor never waits."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from cryptoj_actors.execution.worker import VenueWorker
from cryptoj_actors.messages import MarketBatch, OrderUpdate
from cryptoj_actors.model import Order, OrderStatus, OrderType, Side
from tests.conftest import wait_until


def order(coid: str) -> Order:
    return Order(client_order_id=coid, product_id="BTC-USD", side=Side.BUY,
                 order_type=OrderType.MARKET, quote_size=Decimal("100"), decision_seq=1)


def batch(seq: int) -> MarketBatch:
    return MarketBatch(sender="feed", ts_ns=seq, seq=seq, events=(), connection=1)


class SlowVenue:
    """Records its calls; a call blocks while ``gate`` is closed."""

    open_orders = 0

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail_on: str | None = None

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_on:
            raise ValueError(f"defect in {name}")
        self.gate.wait(10)

    def submit(self, order: Order, ts_ns: int) -> OrderUpdate:
        self._call(f"submit {order.client_order_id}")
        return OrderUpdate(sender="executor", ts_ns=ts_ns, client_order_id=order.client_order_id,
                           product_id=order.product_id, status=OrderStatus.OPEN)

    def on_market(self, batch: MarketBatch) -> list:
        self._call(f"market {batch.seq}")
        return []

    def cancel_all(self, ts_ns, detail, *, status=OrderStatus.CANCELLED, keep_reduce_only=False):
        self._call("cancel_all")
        return []

    def resume(self) -> None:
        self._call("resume")

    def adopt(self, journal) -> None:
        self.calls.append("adopt")

    def reconcile(self, ts_ns: int) -> list:
        self._call("reconcile")
        return []

    def poll(self, ts_ns: int) -> list:
        self._call("poll")
        return []


class Inbox:
    def __init__(self) -> None:
        self.events: list = []
        self.failures: list[BaseException] = []

    def __call__(self, events, failure) -> None:
        self.events.extend(events)
        if failure is not None:
            self.failures.append(failure)


def started(venue: SlowVenue) -> tuple[VenueWorker, Inbox]:
    inbox = Inbox()
    worker = VenueWorker(venue, clock_ns=time.time_ns)
    worker.start(inbox)
    return worker, inbox


def test_calls_return_at_once_and_their_answers_are_delivered():
    venue = SlowVenue()
    venue.gate.clear()
    worker, inbox = started(venue)
    try:
        assert worker.submit(order("a"), 1) is None  # the venue is blocked: we are not
        assert worker.on_market(batch(1)) == []
        wait_until(lambda: venue.calls == ["submit a"])
        venue.gate.set()
        wait_until(lambda: [e.client_order_id for e in inbox.events] == ["a"])
        assert inbox.events[0].status is OrderStatus.OPEN
    finally:
        worker.stop()


def test_orders_come_before_polls_and_waiting_market_batches_are_one():
    venue = SlowVenue()
    venue.gate.clear()
    worker, _ = started(venue)
    try:
        worker.on_market(batch(1))
        wait_until(lambda: venue.calls == ["market 1"])  # in flight, blocked
        for seq in (2, 3, 4):
            worker.on_market(batch(seq))
        worker.ring()
        worker.ring()
        worker.submit(order("a"), 1)
        worker.cancel_all(2, "halted")
        venue.gate.set()
        wait_until(lambda: len(venue.calls) == 5)
        assert venue.calls == ["market 1", "submit a", "cancel_all", "poll", "market 4"]
    finally:
        worker.stop()


def test_a_reconcile_rung_for_takes_in_a_poll_rung_for():
    venue = SlowVenue()
    venue.gate.clear()
    worker, _ = started(venue)
    try:
        worker.on_market(batch(1))
        wait_until(lambda: venue.calls == ["market 1"])
        worker.ring()
        worker.ring(reconcile=True)
        venue.gate.set()
        wait_until(lambda: venue.calls[-1] == "reconcile")
        assert venue.calls == ["market 1", "reconcile"]
    finally:
        worker.stop()


def test_recover_adopts_on_the_callers_thread_then_queues_a_reconcile():
    venue = SlowVenue()
    venue.gate.clear()
    worker, _ = started(venue)
    try:
        assert worker.recover(journal=None) == []  # type: ignore[arg-type]
        assert venue.calls[0] == "adopt"  # already done, before recover returned
        wait_until(lambda: venue.calls == ["adopt", "reconcile"])
    finally:
        venue.gate.set()
        worker.stop()


def test_a_defect_in_the_venue_is_delivered_and_ends_the_worker():
    venue = SlowVenue()
    venue.fail_on = "poll"
    worker, inbox = started(venue)
    worker.ring()
    wait_until(lambda: inbox.failures)
    assert "defect in poll" in str(inbox.failures[0])
    worker.submit(order("a"), 1)
    worker.stop()
    assert "submit a" not in venue.calls


def test_stop_drops_what_is_queued_behind_the_call_in_flight():
    venue = SlowVenue()
    venue.gate.clear()
    worker, _ = started(venue)
    worker.on_market(batch(1))
    wait_until(lambda: venue.calls == ["market 1"])
    worker.submit(order("a"), 1)
    threading.Timer(0.05, venue.gate.set).start()
    worker.stop()  # the journal holds "a": the next start looks it up, never re-sends
    assert venue.calls == ["market 1"]


class Bell:
    def __init__(self) -> None:
        self.watched = 0
        self.ring = None

    def start(self, ring) -> None:
        self.ring = ring

    def stop(self) -> None:
        pass

    def watch(self) -> None:
        self.watched += 1


def test_the_doorbell_is_watched_while_the_worker_is_busy():
    venue = SlowVenue()
    bell = Bell()
    worker = VenueWorker(venue, doorbell=bell, clock_ns=time.time_ns)
    worker.start(Inbox())
    stop = threading.Event()

    def flood() -> None:  # market batches without a pause
        seq = 0
        while not stop.is_set():
            seq += 1
            worker.on_market(batch(seq))

    feeder = threading.Thread(target=flood, daemon=True)
    feeder.start()
    try:
        wait_until(lambda: bell.watched >= 3, timeout=10)
        bell.ring()
        wait_until(lambda: "poll" in venue.calls)
    finally:
        stop.set()
        feeder.join()
        worker.stop()
