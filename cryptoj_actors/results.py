"""What a run leaves for its report, collected from the actors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pykka

from cryptoj_actors.actors.portfolio import PortfolioResults
from cryptoj_actors.messages import OrderDenied, TradingState
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResults:
    """What a finished (or halted) run leaves for the report."""

    portfolio: PortfolioResults
    risk_denials: tuple[OrderDenied, ...]
    risk_state_changes: tuple[TradingState, ...]
    status: str
    reason: str
    dead_letters: dict[str, int]


def collect_results(rt: Runtime, timeout: float = 10.0, status: str | None = None
                    ) -> RunResults:
    """Ask the portfolio and risk for a run's results, as they stand.

    ``portfolio`` is None when the portfolio is down or does not answer within
    ``timeout`` seconds (a hung actor). ``status`` defaults to the run's
    outcome, or ``running``.
    """
    portfolio = _ask(rt, "portfolio", "results", timeout)
    risk_summary = _ask(rt, "risk", "summary", timeout) or {}
    outcome = rt.outcome
    return RunResults(portfolio=portfolio,
                      risk_denials=tuple(risk_summary.get("denials", ())),
                      risk_state_changes=tuple(risk_summary.get("state_changes", ())),
                      status=status or (outcome.status if outcome.done.is_set() else "running"),
                      reason=outcome.reason, dead_letters=dict(rt.directory.dead_letters))


def _ask(rt: Runtime, role: str, method: str, timeout: float) -> Any:
    ref = rt.directory.get(role)
    if ref is None or not ref.is_alive():
        return None
    try:
        return getattr(ref.proxy(), method)().get(timeout=timeout)
    except (pykka.ActorDeadError, pykka.Timeout):
        log.error("results: %s did not answer within %.0f s", role, timeout)
        return None
