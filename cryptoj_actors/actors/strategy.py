"""The strategy actor: market batches in, target weights out (to risk).

Live, it warms its strategy first (:mod:`cryptoj_actors.marketdata.history`):
the history goes through the strategy with trading off (its intents are
dropped), and the live batches then go on from the boundary, without the
bars history had. Each generation warms again, so a restarted strategy
decides as soon as the one before it did.

It answers every batch, with an empty :class:`IntentBatch` when it has no
opinion, because risk decides batch by batch and waits for both the ledger
snapshot and the intents of a batch (DESIGN.md section 9). What a strategy
returns is checked here: a malformed intent is the strategy's failure, not
risk's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.clock import iso
from cryptoj_actors.marketdata.history import Warmup, no_warmup
from cryptoj_actors.messages import EndOfData, IntentBatch, MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.money import ONE, ZERO
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.state.candles import CandleCacheError
from cryptoj_actors.strategy.base import Strategy, warmup_bars

log = logging.getLogger(__name__)


class StrategyActor(RoleActor):
    """``warmup`` loads the history to warm ``strategy`` with (live; None in
    replay, where the data itself warms it)."""

    role = "strategy"

    def __init__(self, runtime: Runtime, generation: int = 0, *, strategy: Strategy,
                 warmup: Callable[[], Warmup] | None = None) -> None:
        super().__init__(runtime, generation)
        self.strategy = strategy
        self._load_warmup = warmup
        self.warmup: Warmup | None = None
        self._joined: set[str] = set()  # products whose first live bar has come

    def handlers(self) -> dict[type, Handler]:
        return {MarketBatch: self.on_batch, EndOfData: lambda _: None}

    def started(self) -> None:
        if self._load_warmup is None:
            return
        try:
            warmup = self._load_warmup()
        except CandleCacheError as exc:
            # A restart must not fail on the cache (a failure here would
            # restart the pipeline again): the strategy warms from live bars.
            self.rt.telemetry.errors["strategy.warmup"] += 1
            log.error("strategy: no warm-up (%s): it warms from the live bars", exc)
            warmup = no_warmup(time.time_ns(), self.rt.config.feed.bar_interval_s,
                               warmup_bars(self.strategy), str(exc))
        for batch in warmup.history:
            self.strategy.on_batch(batch)  # trading off: the intents go nowhere
        self.warmup = warmup
        self.rt.board.warmup = warmup
        log.info("strategy: warmed with %d of %d bars (%s, history to %s)%s",
                 warmup.have_bars, warmup.needed_bars, warmup.source,
                 warmup.status()["history_end"],
                 "" if warmup.ready else "; decides from " + str(warmup.status()["trading_from"]))

    def on_batch(self, batch: MarketBatch) -> None:
        if self.warmup is not None:
            batch = self.warmup.live(batch)
            self._say_gaps(batch)
        intents = tuple(self.strategy.on_batch(batch))
        for intent in intents:
            problem = invalid_intent(intent)
            if problem:
                # The strategy is broken: fail here, so the halt names it.
                raise ValueError(f"strategy returned an invalid intent ({problem}): {intent!r}")
        if intents:
            self.rt.board.decisions += 1
            self.rt.board.last_decision_ns = batch.ts_ns
        self.send("risk", IntentBatch(sender=self.role, ts_ns=batch.ts_ns, seq=batch.seq,
                                      intents=intents))


    def _say_gaps(self, batch: MarketBatch) -> None:
        """Once per product: bars missing between the history and its first live bar."""
        assert self.warmup is not None
        for bar in (e for e in batch.events if isinstance(e, Bar)):
            if bar.product_id in self._joined:
                continue
            self._joined.add(bar.product_id)
            missing = self.warmup.missing_before(bar)
            if missing:
                log.warning("strategy: %s: %d bar(s) missing between the history and the "
                            "first live bar (%s): the strategy goes on without them",
                            bar.product_id, missing, iso(bar.start_ns))


def invalid_intent(intent: object) -> str:
    """Why ``intent`` is not a usable :class:`OrderIntent`, or ``""``."""
    if not isinstance(intent, OrderIntent):
        return f"not an OrderIntent but {type(intent).__name__}"
    for name in ("target_weight", "rebalance_threshold"):
        value = getattr(intent, name)
        if not isinstance(value, Decimal) or not value.is_finite() or not ZERO <= value <= ONE:
            return f"{name} must be a Decimal fraction in [0, 1]"
    return ""
