"""The health model: turns samples of the running system into levels, per
component and overall.

Plain and synchronous; the health actor samples the system on a timer and
asks :meth:`HealthModel.assess`. Rates are measured between two samples.

Checks (thresholds in ``[health]``), each giving its component a level:

| component | ``DEGRADED`` when | ``CRITICAL`` when |
| --- | --- | --- |
| ``feed`` | lag over ``feed_lag_degraded_s``; stale | lag over ``feed_lag_critical_s``; down |
| ``executor`` | tick-to-order over ``latency_degraded_s`` | over ``latency_critical_s`` |
| ``actor:<role>`` | mailbox over ``mailbox_degraded``; errors over ``errors_degraded_per_min`` | mailbox over ``mailbox_critical``; errors over ``errors_critical_per_min``; down; hung |
| ``process`` | | resident memory over ``memory_critical_mb`` |
| ``machine`` | | available memory under ``available_memory_critical_mb`` |
| ``directory`` | new dead letters | |

The overall level is the worst component's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptoj_actors.config import HealthConfig
from cryptoj_actors.model import HealthLevel

#: Seconds of history behind "errors/min".
ERROR_WINDOW_S = 60.0

_RANK = {HealthLevel.OK: 0, HealthLevel.DEGRADED: 1, HealthLevel.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at the system, taken ``elapsed_s`` seconds after the last.

    Memory in MiB; ``cpu_percent`` of the process since the last sample (100
    = one core); ``mailboxes``: role -> queued messages of live actors;
    ``down``: roles not alive; ``hung``: roles that did not answer a liveness
    ping in time; ``dead_letters``, ``errors`` (role -> count), and the
    latency sums are running totals; ``feed_lag_s`` is the latest lag.
    """

    elapsed_s: float
    rss_mb: float
    cpu_percent: float
    available_mb: float
    mailboxes: Mapping[str, int]
    down: tuple[str, ...] = ()
    hung: tuple[str, ...] = ()
    dead_letters: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    feed_lag_s: float | None = None
    feed_state: str = "n/a"
    tick_to_order_count: int = 0
    tick_to_order_total_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Assessment:
    """The overall level, the level of each component, and the failed checks
    as (component, detail) pairs, worst first."""

    level: HealthLevel
    components: Mapping[str, HealthLevel]
    checks: tuple[tuple[str, str], ...]


class HealthModel:
    def __init__(self, config: HealthConfig) -> None:
        self.config = config
        self._last: Sample | None = None
        self._elapsed_s = 0.0
        self._errors: deque[tuple[float, Mapping[str, int]]] = deque()

    def _errors_a_minute_ago(self, sample: Sample) -> Mapping[str, int]:
        """The error totals of the newest sample at least :data:`ERROR_WINDOW_S`
        old (the first sample while the run is younger): "errors/min" counts
        the errors of the last minute, never one short sample's count scaled
        up (one error in a 1 s sample is not 60 a minute)."""
        self._elapsed_s += sample.elapsed_s
        history = self._errors
        history.append((self._elapsed_s, sample.errors))
        while len(history) > 1 and self._elapsed_s - history[1][0] >= ERROR_WINDOW_S:
            history.popleft()
        return history[0][1]

    def assess(self, sample: Sample) -> Assessment:
        cfg = self.config
        found: list[tuple[HealthLevel, str, str]] = []

        def check(component: str, value: float | None, degraded: float | None,
                  critical: float | None, what: str) -> None:
            if value is None:
                return
            if critical is not None and value > critical:
                found.append((HealthLevel.CRITICAL, component, f"{what} {value:g} > {critical:g}"))
            elif degraded is not None and value > degraded:
                found.append((HealthLevel.DEGRADED, component, f"{what} {value:g} > {degraded:g}"))

        check("process", round(sample.rss_mb), None, cfg.memory_critical_mb, "memory MiB")
        if sample.available_mb < cfg.available_memory_critical_mb:
            found.append((HealthLevel.CRITICAL, "machine",
                          f"available memory {sample.available_mb:.0f} MiB < "
                          f"{cfg.available_memory_critical_mb} MiB"))
        check("feed", sample.feed_lag_s, cfg.feed_lag_degraded_s, cfg.feed_lag_critical_s,
              "lag s")
        if sample.feed_state == "down":
            found.append((HealthLevel.CRITICAL, "feed", "down: the connection keeps failing"))
        elif sample.feed_state == "stale":
            found.append((HealthLevel.DEGRADED, "feed", "stale: no data, reconnecting"))
        base = self._errors_a_minute_ago(sample)
        for role, count in sorted(sample.errors.items()):
            check(f"actor:{role}", count - base.get(role, 0), cfg.errors_degraded_per_min,
                  cfg.errors_critical_per_min, "errors/min")
        last = self._last
        if last is not None:
            orders = sample.tick_to_order_count - last.tick_to_order_count
            if orders:
                mean = (sample.tick_to_order_total_s - last.tick_to_order_total_s) / orders
                check("executor", round(mean, 6), cfg.latency_degraded_s, cfg.latency_critical_s,
                      "tick-to-order s")
            new_dead = sample.dead_letters - last.dead_letters
            if new_dead > 0:
                found.append((HealthLevel.DEGRADED, "directory",
                              f"{new_dead} dead letters since the last sample"))
        for role, depth in sorted(sample.mailboxes.items()):
            check(f"actor:{role}", depth, cfg.mailbox_degraded, cfg.mailbox_critical, "mailbox")
        for role in sample.down:
            found.append((HealthLevel.CRITICAL, f"actor:{role}", "down"))
        for role in sample.hung:
            found.append((HealthLevel.CRITICAL, f"actor:{role}", "hung (no answer to a ping)"))
        self._last = sample

        components: dict[str, HealthLevel] = {f"actor:{r}": HealthLevel.OK
                                              for r in sample.mailboxes}
        for level, component, _ in found:
            if _RANK[level] > _RANK[components.get(component, HealthLevel.OK)]:
                components[component] = level
        overall = max(components.values(), key=_RANK.__getitem__, default=HealthLevel.OK)
        found.sort(key=lambda f: -_RANK[f[0]])
        return Assessment(overall, components,
                          tuple((component, detail) for _, component, detail in found))
