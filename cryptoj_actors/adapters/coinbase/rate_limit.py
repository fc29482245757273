"""A token bucket that keeps requests within Coinbase's rate limits.

Source: Coinbase Advanced Trade, "Rate limits": private REST endpoints allow
30 requests a second per user, public ones 10 a second per IP. The bucket
holds at most ``rate`` tokens (one second's worth of burst) and refills
continuously; a request takes one token and waits for it when there is none.
Retries take tokens too, so backing off never breaks the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` requests per second, bursts of at most ``rate``.

    Args:
        rate: requests per second (> 0).
        clock: monotonic seconds (``time.monotonic``; injectable for tests).
        sleep: how to wait (``time.sleep``).

    Raises:
        ValueError: ``rate`` is not positive.
    """

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = rate
        self._at = clock()
        # The REST client is shared by the executor and short-lived commands
        # (doctor, download); the lock keeps the count exact across threads.
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
        if wait:
            self._sleep(wait)
        return wait
