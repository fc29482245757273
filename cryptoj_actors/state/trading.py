"""The trading state (DESIGN.md section 6): one level per source, combined.

Several sources set a trading level: risk (its daily loss limit, its
drawdown halt), the supervisor (halts for supervision or an operator, and
``REDUCING`` while health is critical), and whatever the supervisor imposes
on risk. :class:`TradingLevels` holds one :class:`TradingState` per source and
states the two rules once:

* **the worst level wins**: the effective state is the most severe source's
  (on a tie, the source named first);
* **HALTED is sticky**: a source at ``HALTED`` stays there whatever it is told
  next, until :meth:`TradingLevels.resume` (an operator's resume) lifts every
  halt at once. A new trading day or a recovered health check never does.

Risk keeps one (sources ``drawdown``, ``daily_loss``, ``imposed``) and so does
the supervisor (``supervisor``, ``risk``). The live system's effective state
is persisted atomically in ``trading_state.json`` (:class:`TradingStateFile`)
with its reason and time, so that a restarted system starts halted if it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptoj_actors.clock import iso
from cryptoj_actors.messages import TradingState
from cryptoj_actors.model import TradingLevel
from cryptoj_actors.state.files import read_json_object, write_atomic

#: Prefixed to a halt's reason when a restarted system takes it up.
RESTORED = "restored at start: "


@dataclass(frozen=True, slots=True)
class TradingLevels:
    """An immutable (source, state) table; see the module docstring."""

    states: tuple[tuple[str, TradingState], ...]

    @classmethod
    def start(cls, sources: Sequence[str], state: TradingState) -> TradingLevels:
        """Every source at ``state`` (an ``ACTIVE`` one, normally)."""
        return cls(tuple((source, state) for source in sources))

    def of(self, source: str) -> TradingState:
        """The state of one source.

        Raises:
            KeyError: no such source.
        """
        for name, state in self.states:
            if name == source:
                return state
        raise KeyError(source)

    @property
    def effective(self) -> TradingState:
        """The most severe source's state; on a tie the first source's."""
        best = self.states[0][1]
        for _, state in self.states[1:]:
            if state.level.severity > best.level.severity:
                best = state
        return best

    def halted(self, source: str | None = None) -> bool:
        """Whether ``source`` (or, with None, any source) is ``HALTED``."""
        if source is not None:
            return self.of(source).level is TradingLevel.HALTED
        return self.effective.level is TradingLevel.HALTED

    def set(self, source: str, state: TradingState) -> TradingLevels:
        """The table with ``source`` at ``state``; unchanged (the same object)
        when the source is ``HALTED`` and ``state`` is not (sticky).

        Raises:
            KeyError: no such source.
        """
        current = self.of(source)
        if current.level is TradingLevel.HALTED and state.level is not TradingLevel.HALTED:
            return self
        return TradingLevels(tuple((name, state if name == source else old)
                                   for name, old in self.states))

    def resume(self, state: TradingState) -> TradingLevels:
        """The operator's resume: every ``HALTED`` source takes ``state`` (an
        ``ACTIVE`` one); the other sources keep theirs."""
        return TradingLevels(tuple(
            (name, state if old.level is TradingLevel.HALTED else old)
            for name, old in self.states))


class TradingStateFile:
    """``trading_state.json``: the effective state, its reason and time, and
    whether a halt was unwinding the book."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TradingState | None:
        """The saved state, or None when there is none.

        Raises:
            ValueError: the file exists but cannot be read as a state (a
                system must not start trading over a state it cannot read).
        """
        record = self._record()
        if record is None:
            return None
        try:
            return TradingState(sender=str(record.get("set_by", "supervisor")), ts_ns=0,
                                level=TradingLevel(record["level"]), reason=str(record["reason"]),
                                since_ns=int(record["since_ns"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{self.path}: not a trading state ({exc})") from None

    def unwinding(self) -> bool:
        """Whether the saved halt was unwinding the book (False when there is
        no saved state, or an older one without the flag)."""
        try:
            record = self._record()
        except ValueError:
            return False
        return isinstance(record, dict) and record.get("unwinding") is True

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

    def written_live(self) -> str | None:
        """The run id of the live run that last wrote this file, or None
        (no file, or a replay's).

        Raises:
            ValueError: the file cannot be read as a state.
        """
        record = self._record()
        if record is None or record.get("mode") != "live":
            return None
        return str(record.get("run_id") or "a live run")

    def resume_offline(self, reason: str, now_ns: int) -> TradingState | None:
        """An operator's resume while no system runs: a saved ``HALTED``
        becomes ``ACTIVE``, for the next start. Returns the halt lifted, or
        None when the saved state was not halted (nothing is written).

        Raises:
            ValueError: the file cannot be read as a state.
            OSError: the file cannot be written.
        """
        state = self.load()
        if state is None or state.level is not TradingLevel.HALTED:
            return None
        self.save(TradingState(sender="supervisor", ts_ns=now_ns, level=TradingLevel.ACTIVE,
                               reason=reason, since_ns=now_ns), run_id="operator", mode="live")
        return state

    def _record(self) -> dict[str, Any] | None:
        return read_json_object(self.path, "trading state")
