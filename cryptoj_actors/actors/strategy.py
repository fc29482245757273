"""The strategy actor: market batches in, target weights out (to risk).

It answers every batch, with an empty :class:`IntentBatch` when it has no
opinion, because risk decides batch by batch and waits for both the ledger
snapshot and the intents of a batch (DESIGN.md section 9). What a strategy
returns is checked here: a malformed intent is the strategy's failure, not
risk's.
"""

from __future__ import annotations

from decimal import Decimal

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.messages import EndOfData, IntentBatch, MarketBatch
from cryptoj_actors.model import OrderIntent
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
        for intent in intents:
            problem = invalid_intent(intent)
            if problem:
                # The strategy is broken: fail here, so the halt names it.
                raise ValueError(f"strategy returned an invalid intent ({problem}): {intent!r}")
        self.send("risk", IntentBatch(sender=self.role, ts_ns=batch.ts_ns, seq=batch.seq,
                                      intents=intents))


def invalid_intent(intent: object) -> str:
    """Why ``intent`` is not a usable :class:`OrderIntent`, or ``""``."""
    if not isinstance(intent, OrderIntent):
        return f"not an OrderIntent but {type(intent).__name__}"
    for name in ("target_weight", "rebalance_threshold"):
        value = getattr(intent, name)
        if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
            return f"{name} must be a Decimal fraction in [0, 1]"
    return ""
