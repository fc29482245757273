"""The health model: turns samples of the running system into a level.

Plain and synchronous; the health actor samples (process memory and CPU with
psutil, mailbox depths, dead letters) and asks :meth:`HealthModel.assess`.

Levels: ``CRITICAL`` when resident memory exceeds ``memory_critical_mb`` or a
mailbox holds more than ``mailbox_critical`` messages, or a role that should
run is down; ``DEGRADED`` when a mailbox holds more than ``mailbox_degraded``
or dead letters appeared since the last sample; ``OK`` otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptoj_actors.config import HealthConfig
from cryptoj_actors.messages import HealthLevel


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the system.

    ``rss_mb``: resident memory in MiB; ``cpu_percent``: process CPU since the
    last sample (100 = one core); ``mailboxes``: role -> queued messages, for
    roles that are alive; ``down``: roles expected but not alive;
    ``dead_letters``: total so far.
    """

    rss_mb: float
    cpu_percent: float
    mailboxes: Mapping[str, int]
    down: tuple[str, ...]
    dead_letters: int


class HealthModel:
    def __init__(self, config: HealthConfig) -> None:
        self.config = config
        self._dead_letters = 0

    def assess(self, sample: Sample) -> tuple[HealthLevel, tuple[tuple[str, str], ...]]:
        """The level and the checks that set it, as (name, detail) pairs."""
        cfg = self.config
        critical: list[tuple[str, str]] = []
        degraded: list[tuple[str, str]] = []
        if sample.rss_mb > cfg.memory_critical_mb:
            critical.append(("memory", f"{sample.rss_mb:.0f} MiB > {cfg.memory_critical_mb} MiB"))
        for role in sample.down:
            critical.append((f"actor:{role}", "down"))
        for role, depth in sorted(sample.mailboxes.items()):
            if depth > cfg.mailbox_critical:
                critical.append((f"mailbox:{role}", f"{depth} > {cfg.mailbox_critical}"))
            elif depth > cfg.mailbox_degraded:
                degraded.append((f"mailbox:{role}", f"{depth} > {cfg.mailbox_degraded}"))
        new_dead = sample.dead_letters - self._dead_letters
        self._dead_letters = sample.dead_letters
        if new_dead > 0:
            degraded.append(("dead_letters", f"{new_dead} since the last sample"))
        if critical:
            return HealthLevel.CRITICAL, tuple(critical + degraded)
        if degraded:
            return HealthLevel.DEGRADED, tuple(degraded)
        return HealthLevel.OK, ()
