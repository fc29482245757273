"""What every actor of one running system shares.

Deliberately small: the role directory, the halt switch (a flag that must not
wait behind a mailbox, DESIGN.md section 5), progress counters for the
operator's display, and facts about the run. Everything else travels in
messages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptoj_actors.config import Config
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.history import Warmup
from cryptoj_actors.messages import HealthStatus, PortfolioSnapshot, TradingState
from cryptoj_actors.portfolio.ledger import OpenOrder
from cryptoj_actors.portfolio.sketch import SketchPoint
from cryptoj_actors.report.metrics import Performance, TradeRecord
from cryptoj_actors.report.results import RunResults, collect_results
from cryptoj_actors.state.backup import BackupSchedule
from cryptoj_actors.state.layout import RunDir, StateDir
from cryptoj_actors.supervision.directory import Directory


class HaltSwitch:
    """Set to stop trading at once; read before every order and batch.

    While set, the executor sends nothing but reduce-only orders. With
    ``unwinding`` the market data keeps flowing, so that the book can be
    unwound at real prices; without it the feed stops.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.unwinding = False

    def set(self, reason: str, unwinding: bool = False) -> None:
        self.unwinding = self.unwinding or unwinding
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def clear(self) -> None:
        """Only an operator's resume does this."""
        self.reason, self.unwinding = "", False
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(slots=True)
class Progress:
    """Counters written by one actor each and read by the display.

    ``total``: batches in a replay (0 when live), written by the feed;
    ``settled``: batches whose decisions have reached the executor.
    """

    total: int = 0
    settled: int = 0


@dataclass(slots=True)
class StatusBoard:
    """The latest published state, for operators (status, metrics).

    Each field has one writer, which replaces it with a new immutable value
    (an atomic assignment); readers never ask an actor, so looking at the
    system never slows it down.
    """

    snapshot: PortfolioSnapshot | None = None      # the portfolio, every batch
    day_start_equity: Decimal | None = None        # the portfolio, at each UTC day
    trading_state: TradingState | None = None      # the supervisor, on every change
    restarts: dict[str, int] = field(default_factory=dict)      # the supervisor
    generations: dict[str, int] = field(default_factory=dict)   # the supervisor
    health: HealthStatus | None = None             # the health actor, every sample
    mailboxes: dict[str, int] = field(default_factory=dict)     # the health actor
    hung: tuple[str, ...] = ()                     # the supervisor's liveness pings
    performance: Performance | None = None         # the portfolio, every few batches
    resources: dict[str, float] = field(default_factory=dict)   # the health actor
    warmup: Warmup | None = None                   # the strategy, as it starts (live)
    decisions: int = 0                             # the strategy: batches it gave targets on
    last_decision_ns: int | None = None            # the strategy: that batch's time
    fills: int = 0                                 # the portfolio: fills booked
    #: The portfolio: the equity curve's sketch (every half second), the
    #: latest fills and the orders holding funds (as they change).
    curve: tuple[SketchPoint, ...] = ()
    recent_fills: tuple[TradeRecord, ...] = ()
    open_orders: tuple[OpenOrder, ...] = ()


LIVE_LEDGER = "live-paper"
COINBASE_LEDGER = "live-coinbase"


@dataclass(slots=True)
class RunInfo:
    """``mode`` is ``replay`` or ``live``; ``run_dir`` holds this run's files;
    ``venue`` is ``paper`` (the paper exchange) or ``coinbase`` (real orders)."""

    run_id: str
    mode: str
    state_dir: Path
    run_dir: Path
    venue: str = "paper"

    @property
    def trading(self) -> str:
        """``PAPER`` (the paper exchange: no money moves) or ``LIVE`` (real
        orders on Coinbase): what every view of the run says first."""
        return "PAPER" if self.venue == "paper" else "LIVE"

    @property
    def state(self) -> StateDir:
        return StateDir(self.state_dir)

    @property
    def files(self) -> RunDir:
        return RunDir(self.run_dir)

    @property
    def ledger_id(self) -> str:
        """Whose orders and fills the journal rows belong to: a replay has its
        own; every live (paper) start continues one account, so a restarted
        system takes up its ledger where the last one left it. The real
        account's ledger is kept apart from the paper one."""
        if self.mode == "replay":
            return self.run_id
        return LIVE_LEDGER if self.venue == "paper" else COINBASE_LEDGER

    @property
    def trading_state_file(self) -> Path:
        """``trading_state.json``: the live system's lives in the state
        directory (it survives restarts); a replay keeps its own in its run
        directory."""
        return self.state.trading_state if self.mode == "live" else self.files.trading_state


@dataclass(slots=True)
class Outcome:
    """How a run ended: ``finished`` (the data ran out) or ``halted``, and why."""

    done: threading.Event = field(default_factory=threading.Event)
    status: str = "running"
    reason: str = ""

    def end(self, status: str, reason: str) -> None:
        if not self.done.is_set():
            self.status, self.reason = status, reason
            self.done.set()


@dataclass(slots=True)
class Runtime:
    config: Config
    run: RunInfo
    directory: Directory = field(default_factory=Directory)
    halt: HaltSwitch = field(default_factory=HaltSwitch)
    progress: Progress = field(default_factory=Progress)
    outcome: Outcome = field(default_factory=Outcome)
    board: StatusBoard = field(default_factory=StatusBoard)
    telemetry: Telemetry = field(default_factory=Telemetry)
    #: Builds and writes the run's report files from results as they stand,
    #: answering (report, files); set by the command that knows the inputs.
    #: The admin interface uses it to report on a running run.
    write_report: Callable[[RunResults], tuple[dict[str, Any], list[Path]]] | None = None
    faults_fired: int = 0  # injected faults so far (drills), across restarts
    #: The journal's daily backups (live): kept here, so that a restarted
    #: health actor does not take another the same day.
    backup_schedule: BackupSchedule = field(default_factory=BackupSchedule)

    def results(self, timeout: float = 10.0, if_running: str = "running") -> RunResults:
        """The run's results as they stand, asked of the portfolio and risk;
        the status is the outcome's once the run has ended, else ``if_running``."""
        outcome = self.outcome
        status = outcome.status if outcome.done.is_set() else if_running
        return collect_results(self.directory, status=status, reason=outcome.reason,
                               timeout=timeout)
