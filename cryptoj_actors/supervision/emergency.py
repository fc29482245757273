"""The trading state the supervisor answers for (DESIGN.md section 6).

Two sources decide it: the supervisor's own (a halt; ``REDUCING`` while
health is critical) and risk's (the daily loss limit, the drawdown halt),
combined by :class:`~cryptoj_actors.state.trading.TradingLevels` (the worst
wins, ``HALTED`` is sticky). The supervisor actor persists every change.
"""

from __future__ import annotations

from cryptoj_actors.messages import TradingState
from cryptoj_actors.model import TradingLevel
from cryptoj_actors.state.trading import RESTORED, TradingLevels

SUPERVISOR, RISK = "supervisor", "risk"


class EmergencyState:
    """The supervisor's trading level, merged with risk's.

    Args:
        now_ns: the time of the initial ``ACTIVE`` state.
        restored: a state read back at start; a restored ``HALTED`` stays
            (its reason is kept, marked once as restored).
    """

    def __init__(self, now_ns: int, restored: TradingState | None = None) -> None:
        active = TradingState(sender="supervisor", ts_ns=now_ns, level=TradingLevel.ACTIVE,
                              reason="started", since_ns=now_ns)
        self.levels = TradingLevels.start((SUPERVISOR, RISK), active)
        if restored is not None and restored.level is TradingLevel.HALTED:
            reason = restored.reason if restored.reason.startswith(RESTORED) else \
                RESTORED + restored.reason
            self.levels = self.levels.set(SUPERVISOR, TradingState(
                sender="supervisor", ts_ns=now_ns, level=TradingLevel.HALTED, reason=reason,
                since_ns=restored.since_ns))

    @property
    def effective(self) -> TradingState:
        return self.levels.effective

    @property
    def imposed(self) -> TradingState:
        """The supervisor's own level (what it tells risk and the executor)."""
        return self.levels.of(SUPERVISOR)

    @property
    def halted(self) -> bool:
        return self.levels.halted(SUPERVISOR)

    def impose(self, level: TradingLevel, reason: str, now_ns: int) -> TradingState | None:
        """Set the supervisor's own level; the new state, or None when refused
        (``HALTED`` is left only through :meth:`resume`) or unchanged."""
        if level is self.imposed.level:
            return None
        before = self.levels
        self.levels = before.set(SUPERVISOR, TradingState(
            sender="supervisor", ts_ns=now_ns, level=level, reason=reason, since_ns=now_ns))
        return None if self.levels is before else self.imposed

    def from_risk(self, state: TradingState) -> None:
        """Record risk's latest state (the daily loss limit and its end, the
        drawdown halt)."""
        self.levels = self.levels.set(RISK, state)

    def resume(self, reason: str, now_ns: int) -> TradingState:
        """The operator's explicit way out of ``HALTED``."""
        state = TradingState(sender="supervisor", ts_ns=now_ns, level=TradingLevel.ACTIVE,
                             reason=reason, since_ns=now_ns)
        self.levels = self.levels.resume(state).set(SUPERVISOR, state)
        return state
