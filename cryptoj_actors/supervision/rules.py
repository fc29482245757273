"""The supervisor's rules about the trading state, as plain objects.

* :class:`QuietSpell`: how long a cause has stayed away without a break.
  Two automatic rules use it: the ``REDUCING`` that critical health caused
  (a feed down, a memory or error threshold) is lifted once health has
  stayed below ``CRITICAL`` for ``[health] recover_after_s``; and, when
  ``[supervisor] auto_resume_after_s`` is set (off by default), a ``HALTED``
  whose only cause clears by itself (a hung actor that answers again) is
  resumed after that long with nothing hung. Either way a check hovering at
  its threshold does not flip the trading state every sample.
* :func:`resume_refusal`: when an operator's resume is refused: while a
  significant child is down or hung (a halted system restarts nothing, and a
  system without its whole pipeline cannot trade).

The clock is injected (monotonic seconds), so tests drive the rules without
threads or waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class QuietSpell:
    """A quiet spell long enough to lift a state automatically.

    Args:
        recover_after_s: seconds without the cause needed, without a break.
        clock: monotonic seconds (``time.monotonic`` by default).
    """

    def __init__(self, recover_after_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.recover_after_s = recover_after_s
        self._clock = clock
        self._since: float | None = None

    def critical(self) -> None:
        """The cause is there (again): any spell under way is broken."""
        self._since = None

    def calm(self) -> None:
        """The cause is away: the spell starts now, unless it runs already."""
        if self._since is None:
            self._since = self._clock()

    def lift(self) -> float | None:
        """The length of the spell (seconds) when it is long enough to lift
        the state (the spell then ends), else None."""
        if self._since is None:
            return None
        held = self._clock() - self._since
        if held < self.recover_after_s:
            return None
        self._since = None
        return held


def resume_refusal(significant: Iterable[str], alive: Callable[[str], bool],
                   hung: Iterable[str]) -> str | None:
    """Why a resume must be refused, or None when it may proceed: the
    significant roles that are down (not ``alive``) or ``hung``, in order."""
    stuck = set(hung)
    down = [role for role in significant if role in stuck or not alive(role)]
    if not down:
        return None
    return f"{', '.join(down)} down or hung: restart the process to resume"
