"""The trading level the supervisor answers for, and where it is kept.

Two sources decide the level (DESIGN.md section 6): the supervisor's own
(a halt; ``REDUCING`` while health is critical) and risk's (the daily loss
limit). The effective state is the more severe of the two. ``HALTED`` is
sticky: nothing but an explicit operator resume leaves it, not a recovered
health check and not a new trading day.

The state is persisted atomically (temp file, fsync, rename) with its reason
and time, so that a live system restarted after a halt starts halted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptoj_actors.clock import iso
from cryptoj_actors.messages import TradingState
from cryptoj_actors.model import TradingLevel


class EmergencyState:
    """The supervisor's trading level, merged with risk's.

    Args:
        now_ns: the time of the initial ``ACTIVE`` state.
        restored: a state read back at start; a restored ``HALTED`` stays.
    """

    def __init__(self, now_ns: int, restored: TradingState | None = None) -> None:
        active = TradingState(sender="supervisor", ts_ns=now_ns, level=TradingLevel.ACTIVE,
                              reason="started", since_ns=now_ns)
        self.imposed = active
        self.risk = active
        if restored is not None and restored.level is TradingLevel.HALTED:
            self.imposed = TradingState(
                sender="supervisor", ts_ns=now_ns, level=TradingLevel.HALTED,
                reason=f"restored at start: {restored.reason}", since_ns=restored.since_ns)

    @property
    def effective(self) -> TradingState:
        if self.risk.level.severity > self.imposed.level.severity:
            return self.risk
        return self.imposed

    @property
    def halted(self) -> bool:
        return self.imposed.level is TradingLevel.HALTED

    def impose(self, level: TradingLevel, reason: str, now_ns: int) -> TradingState | None:
        """Set the supervisor's own level; the new state, or None when refused
        (``HALTED`` is left only through :meth:`resume`) or unchanged."""
        if self.halted or level is self.imposed.level:
            return None
        self.imposed = TradingState(sender="supervisor", ts_ns=now_ns, level=level,
                                    reason=reason, since_ns=now_ns)
        return self.imposed

    def from_risk(self, state: TradingState) -> None:
        """Record risk's latest state (the daily loss limit and its end)."""
        self.risk = state

    def resume(self, reason: str, now_ns: int) -> TradingState:
        """The operator's explicit way out of ``HALTED``."""
        self.imposed = TradingState(sender="supervisor", ts_ns=now_ns,
                                    level=TradingLevel.ACTIVE, reason=reason, since_ns=now_ns)
        return self.imposed


class StateFile:
    """``trading_state.json``: the effective state, its reason and time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TradingState | None:
        """The saved state, or None when there is none.

        Raises:
            ValueError: the file exists but cannot be read as a state (a
                system must not start trading over a state it cannot read).
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ValueError(f"{self.path}: unreadable: {exc.strerror}") from None
        try:
            record = json.loads(text)
            return TradingState(sender=str(record.get("set_by", "supervisor")), ts_ns=0,
                                level=TradingLevel(record["level"]), reason=str(record["reason"]),
                                since_ns=int(record["since_ns"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path}: not a trading state ({exc})") from None

    def unwinding(self) -> bool:
        """Whether the saved halt was unwinding the book (False when there is
        no saved state, or an older one without the flag)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8")).get("unwinding") is True
        except (OSError, ValueError, AttributeError):
            return False

    def save(self, state: TradingState, *, run_id: str, mode: str,
             unwinding: bool = False) -> None:
        """Write the state atomically; ``unwinding``: a halt that is closing
        the book, to be taken up by the next start.

        Raises:
            OSError: the file cannot be written.
        """
        record = {"level": state.level.value, "reason": state.reason,
                  "since": iso(state.since_ns), "since_ns": state.since_ns,
                  "set_by": state.sender, "run_id": run_id, "mode": mode,
                  "unwinding": unwinding and state.level is TradingLevel.HALTED}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def write_atomic(path: os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new
    file, never a torn one: write a temp file, fsync it, rename it over."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
