"""The executor actor: journals orders and fills, and drives the venue (the
paper exchange, or Coinbase when trading real money).

Write-ahead (DESIGN.md section 7): an order is journaled before the exchange
sees it, a fill before the portfolio hears of it. The halt switch is checked
before every order: once set, only reduce-only orders (exits, unwinds) pass;
resting orders that add exposure are cancelled when the supervisor's
``HALTED`` state arrives.

Ordering for determinism (DESIGN.md section 9): market batch ``n`` is matched
only after the orders decided on batch ``n - 1`` have arrived (an
:class:`OrderBatch` comes for every batch, empty when nothing was approved).
With a credit window above 1 the feed runs ahead; batches that arrive early
wait here. After matching, the batch is relayed to the portfolio, behind the
fills it caused, so the ledger always books a bar's fills before its marks.

The executor is where every batch's decision ends, so it is the one that
returns the feed its credit: cumulative, every half window (every batch when
the window is 1), which halves the feed's wake-ups without starving it.

Coinbase answers over the network, so its calls run on a
:class:`~cryptoj_actors.execution.worker.VenueWorker` thread and what it says
comes back to this mailbox as :class:`VenueReport` messages: an order never
waits here behind a poll of the venue.

A live start hands the venue the journal's open orders (the paper exchange
rests them again; Coinbase looks them up and reconciles). The venue's
order id is journaled as soon as it is known, and the venue's balances go on
to the portfolio.

A restarted replay runs again from its first batch; the journal recognizes
the orders and fills it already holds (and stops the run if they differ), so
nothing is journaled twice while the fresh ledger books every fill once.
"""

from __future__ import annotations

import logging
import time

import pykka

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.execution.venue import Venue, VenueEvent
from cryptoj_actors.messages import (
    Credit,
    EndOfData,
    Fill,
    MarketBatch,
    OrderBatch,
    OrderUpdate,
    TradingState,
    VenueReport,
)
from cryptoj_actors.model import OrderStatus, TradingLevel
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)


class ExecutorActor(RoleActor):
    role = "executor"

    def __init__(self, runtime: Runtime, generation: int = 0, *,
                 exchange: Venue) -> None:
        super().__init__(runtime, generation)
        self.exchange = exchange
        self.journal: Journal | None = None
        self.orders_through = 0
        self._waiting: dict[int, MarketBatch] = {}
        self._end: EndOfData | None = None
        self._credit_every = max(1, runtime.config.feed.credit_window // 2)
        self.reexecuted = 0  # orders and fills found already journaled (a re-execution)
        self._received_ns: dict[int, int] = {}  # batch seq -> when the feed cut it (wall, ns)
        self._sent_ns: dict[str, int] = {}  # client order id -> when it was sent (wall, ns)
        self._venue_ids: set[str] = set()  # client order ids whose venue id is journaled
        self.trading_level = TradingLevel.ACTIVE  # the supervisor's, as last told

    def handlers(self) -> dict[type, Handler]:
        return {MarketBatch: self.on_batch, OrderBatch: self.on_orders, EndOfData: self.on_end,
                TradingState: self.on_state, VenueReport: self.on_report}

    def started(self) -> None:
        run = self.rt.run
        # Live, the WAL's checkpoints (an fsync) are the health actor's, not
        # this actor's: they would stall the order after them.
        self.journal = Journal(run.state.journal, run.ledger_id, mode=run.mode,
                               description=str(run.run_dir), started_ns=time.time_ns(),
                               autocheckpoint=run.mode != "live")
        self.exchange.start(self._deliver)
        if run.mode == "live":
            self._venue_ids.update(self.journal.exchange_order_ids())
            for event in self.exchange.recover(self.journal):
                self._emit(event)

    def stopping(self) -> None:
        self.exchange.stop()
        if self.journal is not None:
            self.journal.close()
        if self.reexecuted:
            log.info("executor: %d orders and fills re-executed as journaled", self.reexecuted)

    def on_batch(self, batch: MarketBatch) -> None:
        self._waiting[batch.seq] = batch
        self._received_ns[batch.seq] = batch.received_ns
        self._drain()

    def on_orders(self, batch: OrderBatch) -> None:
        assert self.journal is not None
        if batch.seq != self.orders_through + 1:
            raise RuntimeError(f"orders of batch {batch.seq} arrived after those of "
                               f"{self.orders_through}: the decision order is broken")
        cut_ns = self._received_ns.pop(batch.seq, 0)
        for order in batch.orders:
            if not self.journal.record_order(order):
                self.reexecuted += 1  # a restarted replay deciding it again: same order
            if self.rt.halt.is_set() and not order.reduce_only:
                update = OrderUpdate(sender=self.role, ts_ns=batch.ts_ns,
                                     client_order_id=order.client_order_id,
                                     product_id=order.product_id, status=OrderStatus.REJECTED,
                                     detail=f"system halted: {self.rt.halt.reason}")
            else:
                now = time.time_ns()  # the order leaves: tick-to-order ends here
                self._sent_ns[order.client_order_id] = now
                if cut_ns:
                    self.rt.telemetry.tick_to_order.record((now - cut_ns) / 1e9)
                update = self.exchange.submit(order, batch.ts_ns)
            if update is not None:  # else the venue's worker delivers it
                self._emit(update)
        self.orders_through = batch.seq
        self.rt.progress.settled = batch.seq
        if batch.seq % self._credit_every == 0:
            self.send("feed", Credit(sender=self.role, ts_ns=batch.ts_ns, seq=batch.seq))
        self._drain()

    def on_end(self, end: EndOfData) -> None:
        self._end = end
        self._drain()

    def on_state(self, state: TradingState) -> None:
        """Entering ``HALTED`` cancels what adds exposure; leaving it (only an
        operator's resume does) withdraws the halt's cancels not yet accepted."""
        previous, self.trading_level = self.trading_level, state.level
        if state.level is TradingLevel.HALTED:
            for update in self.exchange.cancel_all(state.ts_ns, f"halted: {state.reason}",
                                                   keep_reduce_only=True):
                self._emit(update)
        elif previous is TradingLevel.HALTED:
            self.exchange.resume()

    def on_report(self, report: VenueReport) -> None:
        """The venue's worker: journal and relay what the venue said."""
        if report.failure:
            raise RuntimeError(f"the venue's worker failed: {report.failure}")
        for event in report.events:
            self._emit(event)

    def _deliver(self, events: list[VenueEvent], failure: BaseException | None) -> None:
        """From the venue's worker thread: to this generation's own mailbox,
        never to a successor (which reconciles with the venue itself)."""
        report = VenueReport(sender=self.role, ts_ns=time.time_ns(), events=tuple(events),
                             failure="" if failure is None
                             else f"{type(failure).__name__}: {failure}")
        try:
            self.actor_ref.tell(report)
        except pykka.ActorDeadError:
            log.info("executor: %d venue events after the executor stopped; the next start "
                     "reconciles them", len(events))

    def _drain(self) -> None:
        # Batch n is matchable once the orders decided on n - 1 are in; the
        # next one then waits for the orders decided on n.
        batch = self._waiting.pop(self.orders_through + 1, None)
        if batch is not None:
            for event in self.exchange.on_market(batch):
                self._emit(event)
            self.send("portfolio", batch)
        end = self._end
        if end is not None and not self._waiting and self.orders_through >= end.last_seq:
            for update in self.exchange.cancel_all(end.ts_ns, "no more market data",
                                                   status=OrderStatus.EXPIRED):
                self._emit(update)
            self.send("portfolio", end)
            self._end = None

    def _emit(self, event: VenueEvent) -> None:
        assert self.journal is not None
        if isinstance(event, Fill):
            if not self.journal.record_fill(event):
                self.reexecuted += 1
        elif isinstance(event, OrderUpdate):
            coid = event.client_order_id
            if event.exchange_order_id and coid not in self._venue_ids:
                self.journal.set_exchange_order_id(coid, event.exchange_order_id)
                self._venue_ids.add(coid)
            self.journal.update_order(coid, event.status, event.filled_base, event.ts_ns,
                                      event.detail)
            if event.status.is_terminal:
                sent = self._sent_ns.pop(event.client_order_id, None)
                if sent is not None:
                    self.rt.telemetry.order_round_trip.record((time.time_ns() - sent) / 1e9)
        self.send("portfolio", event)

