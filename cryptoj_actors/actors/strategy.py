"""The strategy actor: market batches in, target weights out (to risk).

It answers every batch, with an empty :class:`IntentBatch` when it has no
opinion, because risk decides batch by batch and waits for both the ledger
snapshot and the intents of a batch (DESIGN.md section 9).
"""

from __future__ import annotations

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.messages import EndOfData, IntentBatch, MarketBatch
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.strategy.base import Strategy


class StrategyActor(RoleActor):
    role = "strategy"

    def __init__(self, runtime: Runtime, generation: int = 0, *, strategy: Strategy) -> None:
        super().__init__(runtime, generation)
        self.strategy = strategy

    def handlers(self) -> dict[type, Handler]:
        return {MarketBatch: self.on_batch, EndOfData: lambda _: None}

    def on_batch(self, batch: MarketBatch) -> None:
        intents = tuple(self.strategy.on_batch(batch))
        self.send("risk", IntentBatch(sender=self.role, ts_ns=batch.ts_ns, seq=batch.seq,
                                      intents=intents))
