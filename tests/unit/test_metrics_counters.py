"""/metrics counts orders by final status, fills by liquidity, denials by
stage and reason, and the feed's availability, from the run's telemetry;
the process metrics are the client's standard collector's."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cryptoj_actors.admin.metrics import metrics_registry, metrics_text
from cryptoj_actors.admin.status import status_document
from cryptoj_actors.config import Config
from cryptoj_actors.runtime import RunInfo, Runtime
from tests.conftest import documented_metrics, exposed_metrics


def families(rt: Runtime) -> dict:
    text = metrics_text(metrics_registry(rt)).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples
            if not s.name.endswith("_created")}


def test_counters_by_status_liquidity_and_denial_reason(tmp_path: Path):
    rt = Runtime(config=Config(), run=RunInfo("live-1", "live", tmp_path, tmp_path / "r"))
    tm = rt.telemetry
    tm.orders.update({"FILLED": 3, "CANCELLED": 1})
    tm.fills.update({"TAKER": 4, "MAKER": 2})
    tm.denials.update({("risk", "POSITION_LIMIT"): 2, ("reserve", "POSITION_LIMIT"): 1})
    now = time.time()
    tm.set_feed_state("connecting", now - 100)
    tm.set_feed_state("up", now - 50)

    f = families(rt)
    assert exposed_metrics(metrics_text(metrics_registry(rt)).decode()) <= documented_metrics()
    assert f["cryptoj_orders"].type == "counter"
    assert samples(f["cryptoj_orders"]) == {(("status", "CANCELLED"),): 1,
                                            (("status", "FILLED"),): 3}
    assert samples(f["cryptoj_fills"]) == {(("liquidity", "MAKER"),): 2,
                                           (("liquidity", "TAKER"),): 4}
    assert samples(f["cryptoj_order_denials"]) == {
        (("reason", "POSITION_LIMIT"), ("stage", "reserve")): 1,
        (("reason", "POSITION_LIMIT"), ("stage", "risk")): 2}
    share = samples(f["cryptoj_feed_availability_ratio"])
    assert 0.45 < share[(("window", "1h"),)] < 0.55
    assert f["cryptoj_feed_connection_uptime_seconds"].samples[0].value >= 50
    assert "process_start_time_seconds" in f and "process_resident_memory_bytes" in f

    doc = status_document(rt)
    assert doc["feed"]["state"] == "up" and doc["feed"]["up_for_s"] >= 50
    assert [h["state"] for h in doc["feed"]["history"]] == ["connecting", "up"]
    assert doc["orders"]["fills_by_liquidity"] == {"TAKER": 4, "MAKER": 2}
    assert {"stage": "risk", "reason": "POSITION_LIMIT", "count": 2} in doc["orders"]["denials"]


def test_a_replay_has_no_availability(tmp_path: Path):
    rt = Runtime(config=Config(), run=RunInfo("replay-1", "replay", tmp_path, tmp_path / "r"))
    f = families(rt)
    assert "cryptoj_feed_availability_ratio" not in f
    assert status_document(rt)["feed"]["availability"] == {"1h": None, "1d": None}
