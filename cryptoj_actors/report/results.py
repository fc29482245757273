"""What a run leaves for its report, collected from the actors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pykka

from cryptoj_actors.messages import OrderDenied, PortfolioSnapshot, TradingState
from cryptoj_actors.portfolio.reconcile import BalanceDifference
from cryptoj_actors.report.metrics import EquityPoint, TradeRecord
from cryptoj_actors.supervision.directory import Directory

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortfolioResults:
    """Everything the report needs from the portfolio, at the end of a run."""

    snapshot: PortfolioSnapshot
    equity: tuple[EquityPoint, ...]
    trades: tuple[TradeRecord, ...]
    denials: tuple[OrderDenied, ...]  # refused at reservation (risk keeps its own)
    order_status: dict[str, int]
    starting_cash: Decimal
    transfers: tuple[BalanceDifference, ...] = ()  # differences applied to the ledger


@dataclass(frozen=True, slots=True)
class RunResults:
    """What a finished (or halted) run leaves for the report."""

    portfolio: PortfolioResults | None
    risk_denials: tuple[OrderDenied, ...]
    risk_state_changes: tuple[TradingState, ...]
    status: str
    reason: str
    dead_letters: dict[str, int]


def collect_results(directory: Directory, *, status: str, reason: str,
                    timeout: float = 10.0) -> RunResults:
    """Ask the portfolio and risk (by role, through ``directory``) for a
    run's results as they stand; ``status`` and ``reason`` say how the run
    stands or ended (``running``, ``finished``, ``halted``, ``stopped``).

    ``portfolio`` is None when the portfolio is down or does not answer within
    ``timeout`` seconds (a hung actor).
    """
    portfolio = _ask(directory, "portfolio", "results", timeout)
    risk_summary = _ask(directory, "risk", "summary", timeout) or {}
    return RunResults(portfolio=portfolio,
                      risk_denials=tuple(risk_summary.get("denials", ())),
                      risk_state_changes=tuple(risk_summary.get("state_changes", ())),
                      status=status, reason=reason, dead_letters=dict(directory.dead_letters))


def _ask(directory: Directory, role: str, method: str, timeout: float) -> Any:
    ref = directory.get(role)
    if ref is None or not ref.is_alive():
        return None
    try:
        return getattr(ref.proxy(), method)().get(timeout=timeout)
    except (pykka.ActorDeadError, pykka.Timeout):
        log.error("results: %s did not answer within %.0f s", role, timeout)
        return None
