"""The live feed's connection over time: its state changes, and the share
of time it was up over a sliding window (availability, a fraction 0..1).

Times are wall-clock seconds (``time.time()``): these are statistics shown
to an operator beside clock times, not money and not deadlines.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

#: The longest window asked of :meth:`Availability.share_up` (one day):
#: older changes are forgotten, but for the state they left.
HORIZON_S = 86_400.0
#: State changes kept for :meth:`Availability.history` (for the dashboard).
HISTORY = 200
UP = "up"


@dataclass(frozen=True, slots=True)
class StateChange:
    at_s: float  # wall clock, seconds since the epoch
    state: str


class Availability:
    """State changes of one connection; ``up`` is the state that counts as
    available, every other one (``connecting``, ``stale``, ``down``) as not.

    The socket thread marks, the admin and notifier threads read: a lock
    keeps a reader from walking the deque while it changes.
    """

    def __init__(self) -> None:
        self._changes: deque[StateChange] = deque()
        self._history: deque[StateChange] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()

    def mark(self, state: str, now_s: float) -> None:
        """Record ``state`` from ``now_s`` on; the same state again is no change."""
        with self._lock:
            if self._changes and self._changes[-1].state == state:
                return
            change = StateChange(now_s, state)
            self._changes.append(change)
            self._history.append(change)
            # Keep the last change before the horizon: it tells the state there.
            while len(self._changes) > 1 and self._changes[1].at_s <= now_s - HORIZON_S:
                self._changes.popleft()

    def share_up(self, window_s: float, now_s: float) -> float | None:
        """The fraction of the last ``window_s`` seconds (at most
        :data:`HORIZON_S`) the connection was up, counted from the first
        mark when that is more recent; None before any mark, or at it."""
        with self._lock:
            if not self._changes:
                return None
            start = max(now_s - window_s, self._changes[0].at_s)
            if now_s <= start:
                return None
            up = 0.0
            changes = list(self._changes)
        for change, after in zip(changes, [*changes[1:], None], strict=True):
            begin = max(change.at_s, start)
            end = now_s if after is None else min(after.at_s, now_s)
            if change.state == UP and end > begin:
                up += end - begin
        return up / (now_s - start)

    def up_since(self) -> float | None:
        """When the current spell of ``up`` began (wall clock), or None when
        the connection is not up."""
        with self._lock:
            if not self._changes or self._changes[-1].state != UP:
                return None
            return self._changes[-1].at_s

    def history(self) -> list[StateChange]:
        """The latest state changes, oldest first (at most :data:`HISTORY`)."""
        with self._lock:
            return list(self._history)
