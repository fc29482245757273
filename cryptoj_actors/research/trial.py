"""One trial of a sweep: a whole replay through every actor, as ``replay``
runs it, on one window with one point of the space.

The trial's state (journal, run directory) lives in a temporary directory
that is gone when the trial ends; what it leaves is a :class:`TrialResult`.
Nothing here knows of Ray: :func:`evaluate` is a plain function that a Ray
worker, or a test, calls.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cryptoj_actors.config import Config
from cryptoj_actors.marketdata.bars.align import AlignedBars
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.report.metrics import Performance, performance, periods_per_year
from cryptoj_actors.research.space import apply
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.system import TradingSystem

#: The objectives a sweep can maximize: ``Performance`` fields.
OBJECTIVES = {"sharpe": "sharpe", "sortino": "sortino", "calmar": "calmar",
              "return": "total_return"}
#: Seconds a trial's replay may take before it counts as failed (a hung run).
TRIAL_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class TrialResult:
    """What one replay gave: the ratios (floats, ``None`` where undefined, as
    the report has them), the end equity exactly (quote currency, as text),
    and how the run ended (``finished``, or why not)."""

    status: str
    reason: str
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    total_return: float | None
    max_drawdown: float | None
    trades: int
    fees: str
    end_equity: str
    seconds: float

    def objective(self, name: str) -> float | None:
        """The value of objective ``name`` (a key of :data:`OBJECTIVES`)."""
        return getattr(self, OBJECTIVES[name])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(aligned: AlignedBars, config: Config, params: Mapping[str, Any]) -> TrialResult:
    """Replay ``aligned`` with ``params`` applied to ``config``.

    The admin interface stays off (a trial has no operator); everything else
    is the configured system.

    Raises:
        ValueError: ``params`` holds a value the config refuses.
        ConfigError: the strategy refuses its parameters.
    """
    config = apply(config, params)
    config = replace(config, admin=replace(config.admin, http=False),
                     feed=replace(config.feed, credit_window=config.feed.replay_credit_window))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cryptoj-trial-") as folder:
        state = Path(folder)
        run = RunInfo(run_id="trial", mode="replay", state_dir=state, run_dir=state / "run")
        stale = config.feed.replay_stale_bars
        system = TradingSystem(config.with_state_dir(state), run,
                               lambda: BarReplaySource(aligned, stale))
        system.start()
        try:
            finished = system.wait(TRIAL_TIMEOUT_S)
            results = system.results()
        finally:
            system.stop()
    seconds = time.perf_counter() - started
    status, reason = (results.status, results.reason) if finished else \
        ("stopped", f"not finished in {TRIAL_TIMEOUT_S:g} s")
    pf = results.portfolio
    if pf is None or not pf.equity:
        return TrialResult(status, reason or "no equity point", None, None, None, None, None,
                           0, "0", "0", seconds)
    perf: Performance = performance(pf.equity, pf.trades,
                                    risk_free_rate=config.report.risk_free_rate,
                                    periods_per_year=periods_per_year(aligned.interval_ns))
    return TrialResult(status, reason, perf.sharpe, perf.sortino, perf.calmar,
                       perf.total_return, perf.max_drawdown, perf.number_of_trades,
                       str(perf.total_fees), str(perf.end_equity), seconds)
