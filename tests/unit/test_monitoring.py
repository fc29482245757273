"""The monitoring files: the alerting rules and the scrape config pass
Prometheus' own checker, the rules' unit tests pass, and docs/monitoring.md,
the rules and the Grafana dashboard name only metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cryptoj_actors.admin import metrics
from tests.conftest import REPO, documented_metrics

PROMETHEUS = REPO / "conf" / "prometheus"
DASHBOARD = REPO / "conf" / "grafana" / "cryptoj.json"
#: The standard process collector's names (prometheus-client's ProcessCollector).
PROCESS = {"process_cpu_seconds_total", "process_resident_memory_bytes",
           "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds",
           "process_max_fds"}

promtool = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool is not installed (Debian's prometheus package; .ci/run installs it)")


def run_promtool(*args: str, cwd: Path) -> None:
    done = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@promtool
def test_the_rules_pass_promtool_check_and_their_unit_tests():
    run_promtool("check", "rules", "rules.yml", cwd=PROMETHEUS)
    run_promtool("test", "rules", "rules_test.yml", cwd=PROMETHEUS)


@promtool
def test_the_scrape_config_passes_promtool_with_a_token_file_in_place(tmp_path: Path):
    token = tmp_path / "admin.token"
    token.write_text("t\n")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert "/var/lib/cryptoj/live/admin.token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/var/lib/cryptoj/live/admin.token",
                                                            str(token)))
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)


def known_metrics() -> set[str]:
    """Every name /metrics can expose: ours, from the collector's source
    (counters with ``_total``), and the process collector's."""
    source = Path(metrics.__file__).read_text()
    ours = set()
    for kind, name in re.findall(r'(Counter|Gauge|Histogram)MetricFamily\(\s*"(cryptoj_\w+)"',
                                 source):
        ours.add(name + "_total" if kind == "Counter" else name)
    # the families built in loops: ("name", value, "doc") tuples
    ours |= set(re.findall(r'\(\s*"(cryptoj_\w+)",\s*(?:snap|perf|tm)\.', source))
    return ours | PROCESS


def expression_metrics(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:cryptoj|process)_[a-z_]+)", expr))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names}


def test_the_guide_documents_every_metric_and_only_those():
    documented = documented_metrics()
    assert documented == known_metrics()


def test_the_rules_and_the_dashboard_use_documented_metrics():
    documented = documented_metrics()
    rules = (PROMETHEUS / "rules.yml").read_text()
    exprs = re.findall(r"^\s*expr: (.+)$", rules, re.MULTILINE)
    assert len(exprs) >= 10
    dashboard = json.loads(DASHBOARD.read_text())
    targets = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert targets
    for expr in exprs + targets:
        assert expression_metrics(expr) <= documented, expr
    assert {p["title"] for p in dashboard["panels"]} >= {"Trading state", "Equity (quote)",
                                                         "Tick to order"}
