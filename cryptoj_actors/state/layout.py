"""The state directory's layout: every file a trading system keeps, named once.

::

    <state dir>/                  [system] state_dir, default var/
        journal.sqlite3           orders, fills and runs (SQLite, WAL)
        candles.sqlite3           the candle cache: history for warm-ups and replays
        backups/                  online copies of the journal (journal-<time>.sqlite3)
        trading_state.json        the live system's trading state (ACTIVE/REDUCING/HALTED)
        risk_state.json           live risk: day baseline, drawdown halt, peak, cooldowns
        HALT                      the operator's control file: present = halt
        admin.json                the running system's admin endpoint (url, pid, run id)
        admin.token               the admin's bearer token (mode 0600; [admin] token_file)
        run.lock                  held (flock) by the one running system
        runs/<run id>/            one directory per run (:class:`RunDir`)
        archive/<time>/           what ``run --fresh`` moved aside: journal, state files

A run directory holds what one run leaves: its manifest (``run.json``, what
``replay --resume`` needs), ``run.log``, ``metrics.jsonl`` (health samples,
rotated), ``reconciliation.jsonl`` (live balance differences), a replay's own
``trading_state.json``, and the report's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RunDir:
    """One run's directory, ``<state dir>/runs/<run id>``."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def manifest(self) -> Path:
        return self.path / "run.json"

    @property
    def log(self) -> Path:
        return self.path / "run.log"

    @property
    def metrics(self) -> Path:
        """Health samples, one JSON object a line (rotated to ``.1``, ``.2``...)."""
        return self.path / "metrics.jsonl"

    @property
    def reconciliation(self) -> Path:
        return self.path / "reconciliation.jsonl"

    @property
    def trading_state(self) -> Path:
        """A replay's trading state (every replay starts afresh)."""
        return self.path / "trading_state.json"

    @property
    def report_json(self) -> Path:
        return self.path / "report.json"

    @property
    def trades_csv(self) -> Path:
        return self.path / "trades.csv"

    @property
    def equity_csv(self) -> Path:
        return self.path / "equity.csv"

    @property
    def equity_png(self) -> Path:
        return self.path / "equity.png"

    @property
    def positions_png(self) -> Path:
        return self.path / "positions.png"

    @property
    def monthly_returns_png(self) -> Path:
        return self.path / "monthly_returns.png"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"


@dataclass(frozen=True, slots=True)
class StateDir:
    """The state directory."""

    path: Path

    @property
    def journal(self) -> Path:
        return self.path / "journal.sqlite3"

    @property
    def backups(self) -> Path:
        """The journal's backups (:mod:`cryptoj_actors.state.backup`)."""
        return self.path / "backups"

    @property
    def candles(self) -> Path:
        """The candle cache (:class:`~cryptoj_actors.state.candles.CandleCache`)."""
        return self.path / "candles.sqlite3"

    @property
    def trading_state(self) -> Path:
        """The live system's trading state: it survives restarts."""
        return self.path / "trading_state.json"

    @property
    def risk_state(self) -> Path:
        return self.path / "risk_state.json"

    @property
    def control_file(self) -> Path:
        """``HALT``: its presence halts a running system."""
        return self.path / "HALT"

    @property
    def admin_endpoint(self) -> Path:
        return self.path / "admin.json"

    def admin_token(self, token_file: str) -> Path:
        """``token_file`` is ``[admin] token_file``, relative to the directory."""
        return self.path / token_file

    @property
    def lock(self) -> Path:
        return self.path / "run.lock"

    @property
    def runs(self) -> Path:
        return self.path / "runs"

    @property
    def live_state_files(self) -> tuple[Path, ...]:
        """What a live system carries from one start to the next."""
        return (self.journal, self.trading_state, self.risk_state)

    def archive(self, stamp: str) -> Path:
        """Where ``run --fresh`` moves the live state aside (``stamp``: a UTC time)."""
        return self.path / "archive" / stamp

    def run(self, run_id: str) -> RunDir:
        return RunDir(self.runs / run_id)

    def runs_of(self, mode: str) -> list[RunDir]:
        """The run directories of one mode (``replay``, ``live``; a run id
        starts with its mode), oldest first by name (ids hold their start time)."""
        return [RunDir(p) for p in sorted(self.runs.glob(f"{mode}-*")) if p.is_dir()]
