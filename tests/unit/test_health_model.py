"""The health model: samples in, levels per component and overall out."""

from __future__ import annotations

from dataclasses import replace

from cryptoj_actors.config import HealthConfig
from cryptoj_actors.health.model import HealthModel, Sample
from cryptoj_actors.model import HealthLevel

QUIET = Sample(elapsed_s=1.0, rss_mb=100, cpu_percent=10, available_mb=8000,
               mailboxes={"feed": 0, "risk": 0})


def assess(*samples: Sample):
    model = HealthModel(HealthConfig())
    for sample in samples:
        result = model.assess(sample)
    return result


def test_a_quiet_system_is_ok_everywhere():
    result = assess(QUIET, QUIET)
    assert result.level is HealthLevel.OK and result.checks == ()
    assert result.components == {"actor:feed": HealthLevel.OK, "actor:risk": HealthLevel.OK}


def test_feed_lag_degrades_then_becomes_critical():
    degraded = assess(replace(QUIET, feed_lag_s=3.0))
    assert degraded.level is HealthLevel.DEGRADED
    assert degraded.components["feed"] is HealthLevel.DEGRADED
    assert degraded.checks == (("feed", "lag s 3 > 2"),)
    critical = assess(replace(QUIET, feed_lag_s=12.5))
    assert (critical.level, critical.checks) == (HealthLevel.CRITICAL,
                                                 (("feed", "lag s 12.5 > 10"),))


def test_errors_per_minute_count_the_last_minute_not_one_sample_scaled_up():
    before = replace(QUIET, errors={"risk": 5})
    one = assess(before, replace(QUIET, errors={"risk": 6}))  # 1 error in a 1 s sample
    assert one.level is HealthLevel.OK, "one error is 1 a minute, not 60"
    two = assess(before, replace(QUIET, elapsed_s=30.0, errors={"risk": 7}))
    assert two.components["actor:risk"] is HealthLevel.DEGRADED
    assert two.checks == (("actor:risk", "errors/min 2 > 1"),)
    storm = [replace(QUIET, errors={"risk": 5 + n}) for n in range(12)]  # 11 in 11 s
    assert assess(before, *storm).level is HealthLevel.CRITICAL
    quiet_minute = [replace(QUIET, elapsed_s=10.0, errors={"risk": 16})] * 7
    assert assess(before, *storm, *quiet_minute).level is HealthLevel.OK  # they age out


def test_a_hung_or_dead_actor_is_critical_and_named():
    result = assess(replace(QUIET, hung=("strategy",), down=("executor",)))
    assert result.level is HealthLevel.CRITICAL
    assert set(result.checks) == {("actor:strategy", "hung (no answer to a ping)"),
                                  ("actor:executor", "down")}


def test_tick_to_order_latency_is_measured_between_samples():
    first = replace(QUIET, tick_to_order_count=10, tick_to_order_total_s=0.01)
    slow = replace(QUIET, tick_to_order_count=12, tick_to_order_total_s=1.51)  # 0.75 s each
    result = assess(first, slow)
    assert result.components["executor"] is HealthLevel.DEGRADED
    assert result.checks == (("executor", "tick-to-order s 0.75 > 0.5"),)


def test_memory_and_mailboxes_and_dead_letters():
    result = assess(QUIET, replace(QUIET, rss_mb=5000, available_mb=100,
                                   mailboxes={"feed": 20_000, "risk": 2_000}, dead_letters=3))
    assert result.level is HealthLevel.CRITICAL
    assert result.components == {
        "actor:feed": HealthLevel.CRITICAL, "actor:risk": HealthLevel.DEGRADED,
        "process": HealthLevel.CRITICAL, "machine": HealthLevel.CRITICAL,
        "directory": HealthLevel.DEGRADED}
    assert result.checks[0][1].startswith(("memory", "available memory", "mailbox"))
