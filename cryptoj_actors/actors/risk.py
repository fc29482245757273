"""The risk actor: joins each batch's ledger snapshot with the strategy's
intents for it, asks the :class:`RiskPolicy`, and sends the verdict on.

Batches are decided strictly in sequence order, whichever of the two inputs
arrives first, so the decisions never depend on thread timing (DESIGN.md
section 9). Approved orders go to the portfolio to be reserved; when risk
approved nothing, it tells the executor so directly (an empty
:class:`OrderBatch`), which keeps the common case off the portfolio's mailbox.
Denials are kept here for the report; changes of the trading state go to the
supervisor.
"""

from __future__ import annotations

import logging
import time

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.clock import iso
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.messages import (
    IntentBatch,
    MarkedBatch,
    OperatorCommand,
    OrderBatch,
    OrderDenied,
    RiskDecisions,
    TradingState,
)
from cryptoj_actors.model import TradingLevel
from cryptoj_actors.risk.policy import RiskPolicy
from cryptoj_actors.risk.saved_state import RiskStateFile
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)


class RiskActor(RoleActor):
    role = "risk"

    def __init__(self, runtime: Runtime, generation: int = 0, *, policy: RiskPolicy) -> None:
        super().__init__(runtime, generation)
        self.policy = policy
        self.next_seq = 1
        self._marked: dict[int, MarkedBatch] = {}
        self._intents: dict[int, IntentBatch] = {}
        self.denials: list[OrderDenied] = []
        self.state_changes: list[TradingState] = []
        #: Live only: the state a restart takes up (a replay re-derives
        #: everything from its first batch).
        self.saved: RiskStateFile | None = None

    def started(self) -> None:
        if self.rt.run.mode != "live":
            return
        self.saved = RiskStateFile(self.rt.run.state.risk_state)
        record = self.saved.load()
        if record is not None:
            self.policy.restore_state(record)
            log.warning("risk: restored the day baseline, halt and cooldowns from %s",
                        self.saved.path.name)
        self.saved.written(self.policy.saved_state())
        # The order-rate window goes on across restarts (of the pipeline or
        # the process): the orders already sent in it still count.
        window_ns = self.rt.config.risk.order_rate_window_s * 1_000_000_000
        journal = Journal(self.rt.run.state.journal, self.rt.run.ledger_id)
        try:
            self.policy.count_orders_sent(journal.orders_created_since(time.time_ns() - window_ns))
        finally:
            journal.close()

    def _save_if_changed(self) -> None:
        if self.saved is not None:
            self.saved.save_if_changed(self.policy.saved_state())

    def handlers(self) -> dict[type, Handler]:
        return {MarkedBatch: self.on_marked, IntentBatch: self.on_intents,
                TradingState: self.on_imposed, OperatorCommand: self.on_command}

    def on_marked(self, marked: MarkedBatch) -> None:
        self._marked[marked.batch.seq] = marked
        self._decide_ready()

    def on_intents(self, intents: IntentBatch) -> None:
        self._intents[intents.seq] = intents
        self._decide_ready()

    def on_imposed(self, state: TradingState) -> None:
        self.policy.impose(state)
        log.info("risk: trading state %s imposed (%s)", state.level.value, state.reason)
        self._save_if_changed()  # a resume must not wait for the next batch to be on disk

    def on_command(self, command: OperatorCommand) -> None:
        if command.command == "unwind":
            self.policy.start_unwind(command.reason)
            log.warning("risk: unwinding the book: %s", command.reason)

    def _decide_ready(self) -> None:
        while self.next_seq in self._marked and self.next_seq in self._intents:
            seq = self.next_seq
            marked = self._marked.pop(seq)
            decision = self.policy.decide(marked, self._intents.pop(seq).intents)
            self.denials.extend(decision.denied)
            for denied in decision.denied:
                self.rt.telemetry.denials["risk", denied.reason_code] += 1
            ts = marked.batch.ts_ns
            if decision.approved:
                self.send("portfolio", RiskDecisions(sender=self.role, ts_ns=ts, seq=seq,
                                                     approved=decision.approved))
            else:
                self.send("executor", OrderBatch(sender=self.role, ts_ns=ts, seq=seq, orders=()))
            for change in decision.state_changes:
                self.state_changes.append(change)
                log_level = logging.INFO if change.level is TradingLevel.ACTIVE else logging.WARNING
                log.log(log_level, "risk: trading %s at %s (market time): %s",
                        change.level.value, iso(change.since_ns), change.reason)
                self.send("supervisor", change)
            self.next_seq += 1
            self._save_if_changed()

    def summary(self) -> dict[str, object]:
        """For the report: denials and trading-state changes, in order."""
        return {"denials": list(self.denials), "state_changes": list(self.state_changes)}
