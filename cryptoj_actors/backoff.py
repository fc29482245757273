"""Exponential backoff with full jitter.

After the AWS Architecture Blog, "Exponential Backoff And Jitter": the wait
before retry ``n`` (counted from 0) is drawn uniformly from
``[0, min(maximum, initial * 2**n)]``. The jitter spreads the retries of many
clients apart; the cap bounds the wait. One plain object serves every retry
loop of the system: the websocket's reconnects, the REST client's retries
and the supervisor's restarts.
"""

from __future__ import annotations

import random

#: Doubling stops here: ``2.0 ** 1023`` is the largest power of two a float
#: holds, and far past any cap.
_MAX_EXPONENT = 1023


class Backoff:
    """Waits that double from ``initial`` up to ``maximum`` seconds, each drawn
    with full jitter.

    Args:
        initial: the ceiling of the first wait (seconds).
        maximum: the ceiling no wait exceeds (seconds).
        rng: the jitter's random source (seed it for a repeatable sequence;
            several backoffs may share one).

    Attributes:
        attempts: waits handed out since the last :meth:`reset`.
    """

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempts = 0
        self._rng = rng if rng is not None else random.Random()

    @property
    def ceiling(self) -> float:
        """The longest the next wait can be: ``min(maximum, initial * 2**attempts)``."""
        return min(self.maximum, self.initial * 2.0 ** min(self.attempts, _MAX_EXPONENT))

    def next_delay(self, given: float | None = None) -> float:
        """The next wait in seconds, and one more attempt.

        Args:
            given: a wait the other side asked for (an HTTP ``Retry-After``):
                it is returned instead of a draw (no random number is used)
                and still counts as an attempt.
        """
        ceiling = self.ceiling
        self.attempts += 1
        return given if given is not None else self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        """Start again from ``initial`` (after a stable period)."""
        self.attempts = 0
