"""Restart decisions, after Erlang/OTP supervisors and Akka's backoff supervisor.

Plain and synchronous: the supervisor actor asks :class:`RestartPolicy` what to
do when a child goes down, and carries the answer out.

* Restart types (OTP): ``permanent`` children are always restarted,
  ``transient`` ones only after an abnormal exit (every reported failure is
  abnormal), ``temporary`` ones never.
* Backoff (:class:`~cryptoj_actors.backoff.Backoff`, one per child):
  ``restart_initial_s * 2**k`` seconds for the k-th restart in a row, capped
  at ``restart_max_s``, with full jitter; the count resets once the child has
  run for ``restart_reset_s`` seconds.
* Intensity: more than ``max_restarts`` restarts of one child, or more than
  twice that of all children together, within ``restart_window_s`` seconds,
  escalates to HALT.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from dataclasses import dataclass

from cryptoj_actors.backoff import Backoff
from cryptoj_actors.config import SupervisorConfig


class RestartType(str, enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class RestartDecision:
    """``restart`` after ``delay_s`` seconds, or not; ``halt`` with
    ``reason``; ``budget_spent`` when the halt is the restart intensity's."""

    restart: bool
    delay_s: float = 0.0
    halt: bool = False
    reason: str = ""
    budget_spent: bool = False


class RestartPolicy:
    """Decides restarts and keeps the restart history of every child.

    Args:
        config: backoff and intensity settings (``[supervisor]``).
        rng: the jitter's random source, shared by every child's backoff
            (seed it in tests).
    """

    def __init__(self, config: SupervisorConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng if rng is not None else random.Random()
        self._history: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._backoff: dict[str, Backoff] = {}  # per role: its restarts in a row
        self._started_at: dict[str, float] = {}
        self.restarts: dict[str, int] = {}

    def started(self, role: str, now: float) -> None:
        """Record that ``role`` (re)started at ``now`` (monotonic seconds)."""
        self._started_at[role] = now

    def on_down(self, role: str, restart_type: RestartType, significant: bool,
                now: float) -> RestartDecision:
        """What to do about ``role`` going down at ``now`` (monotonic seconds)."""
        if restart_type is RestartType.TEMPORARY:
            if significant:
                return RestartDecision(False, halt=True,
                                       reason=f"{role} failed and cannot be restarted safely")
            return RestartDecision(False, reason=f"{role} is temporary: not restarted")
        cfg = self.config
        backoff = self._backoff.setdefault(
            role, Backoff(cfg.restart_initial_s, cfg.restart_max_s, self._rng))
        if now - self._started_at.get(role, now) >= cfg.restart_reset_s:
            backoff.reset()
        history = self._history.setdefault(role, deque())
        for times in (history, self._all):
            times.append(now)
            while times and times[0] < now - cfg.restart_window_s:
                times.popleft()
        if len(history) > cfg.max_restarts:
            return RestartDecision(False, halt=True, budget_spent=True, reason=(
                f"restart budget spent: {role} failed {len(history)} times in "
                f"{cfg.restart_window_s:g} s"))
        if len(self._all) > 2 * cfg.max_restarts:
            return RestartDecision(False, halt=True, budget_spent=True, reason=(
                f"restart budget spent: {len(self._all)} restarts in "
                f"{cfg.restart_window_s:g} s"))
        self.restarts[role] = self.restarts.get(role, 0) + 1
        return RestartDecision(True, delay_s=backoff.next_delay(),
                               reason=f"{role} restart #{self.restarts[role]}")
