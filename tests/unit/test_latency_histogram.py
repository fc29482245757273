"""A latency's histogram buckets, as Prometheus reads them: a sample counts
in the first bucket whose bound is at or above it (``le``: less or equal)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cryptoj_actors.admin.metrics import _histogram
from cryptoj_actors.health.telemetry import BUCKETS_S, Latency


def test_a_sample_on_a_bound_counts_in_that_bucket_and_one_above_all_in_inf_only():
    stat = Latency()
    for seconds in (0.0, 0.0005, 0.0006, 0.001, 30.0, 31.0):
        stat.record(seconds)
    assert stat.buckets[:3] == [2, 2, 0] and stat.buckets[-2:] == [1, 1]
    assert sum(stat.buckets) == stat.count == 6


def test_the_histogram_is_cumulative_and_ends_with_the_count():
    stat = Latency()
    for seconds in (0.0004, 0.003, 0.003, 12.0):
        stat.record(seconds)

    class One:
        def collect(self):
            yield _histogram("x_seconds", "x", stat)

    registry = CollectorRegistry()
    registry.register(One())
    [family] = text_string_to_metric_families(generate_latest(registry).decode())
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name == "x_seconds_bucket"}
    assert len(buckets) == len(BUCKETS_S) + 1
    assert (buckets["0.0005"], buckets["0.005"], buckets["10.0"], buckets["30.0"],
            buckets["+Inf"]) == (1, 3, 3, 4, 4)
    total = next(s.value for s in family.samples if s.name == "x_seconds_sum")
    assert abs(total - 12.0064) < 1e-9
