"""The admin interface over real HTTP on 127.0.0.1, against a running system."""

from __future__ import annotations

import http.client
import json
import sqlite3
import stat
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from pydantic.dataclasses import dataclass

from cryptoj_actors.actors.admin import UNWIND_LINE
from cryptoj_actors.admin.client import running_endpoint
from cryptoj_actors.admin.token import TokenError, load_or_create_token
from cryptoj_actors.config import StrategyConfig
from cryptoj_actors.config_fields import SECTION, Float
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import OrderIntent
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.strategy.trend import TrendParams, TrendRiskParity
from cryptoj_actors.system import TradingSystem
from tests.actors.test_system import HOURS, START, EveryBatchStrategy, config_for
from tests.conftest import documented_metrics, exposed_metrics, wait_until, window
from tests.integration.test_cli import free_port


@dataclass(frozen=True, config=SECTION)
class SlowParams(TrendParams):
    pause_s: Float = 0.002


class SlowTrend(TrendRiskParity):
    """The real strategy, slowed down (``pause_s`` a batch) so that mailboxes
    fill up behind it."""

    Params = SlowParams

    def __init__(self, *, pause_s: float = 0.002, **params) -> None:
        super().__init__(**params)
        self.pause_s = pause_s

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        time.sleep(self.pause_s)
        return list(super().on_batch(batch))


class SlowEveryBatch(EveryBatchStrategy):
    """An order on almost every batch, slowed down like :class:`SlowTrend`."""

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        time.sleep(0.002)
        return super().on_batch(batch)


def start_system(aligned, tmp_path: Path, credit_window: int,
                 strategy: type = SlowTrend) -> TradingSystem:
    config = config_for(tmp_path, credit_window=credit_window)
    config = replace(config, strategy=StrategyConfig(name=f"{__name__}:{strategy.__name__}"))
    run = RunInfo(run_id="admin", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(aligned))
    system.start()
    return system


def endpoint_of(state_dir: Path):
    """The admin endpoint, once the admin actor (started asynchronously) has it up."""
    wait_until(lambda: running_endpoint(StateDir(state_dir), "admin.token") is not None, timeout=10)
    return running_endpoint(StateDir(state_dir), "admin.token")


def orders_sent(state_dir: Path, decided_after: int) -> int:
    """Journaled orders decided on a batch after ``decided_after`` that went
    to the venue: every order but a rejected one and risk's own exits."""
    db = sqlite3.connect(state_dir / "journal.sqlite3")
    try:
        return db.execute("SELECT count(*) FROM orders WHERE decision_seq > ? AND "
                          "status != 'REJECTED' AND NOT reduce_only",
                          (decided_after,)).fetchone()[0]
    finally:
        db.close()


def test_the_token_file_is_created_private_and_a_public_one_is_refused(tmp_path):
    path = tmp_path / "admin.token"
    token = load_or_create_token(path)
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(path) == token
    path.chmod(0o644)
    with pytest.raises(TokenError, match="chmod 600"):
        load_or_create_token(path)


def test_status_metrics_and_a_halt_that_overtakes_a_backlog(aligned_real, tmp_path):
    system = start_system(window(aligned_real, START, HOURS), tmp_path, credit_window=1024,
                          strategy=SlowEveryBatch)
    try:
        endpoint = endpoint_of(tmp_path)
        assert endpoint.url.startswith("http://127.0.0.1:")
        auth = {"Authorization": f"Bearer {endpoint.token}"}

        # hundreds of batches waiting
        wait_until(lambda: sum(system.rt.board.mailboxes.values()) >= 500, timeout=30)

        assert requests.get(endpoint.url + "/status", timeout=5).status_code == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert requests.post(endpoint.url + "/halt", headers=wrong, timeout=5).status_code == 401
        assert not system.rt.halt.is_set()

        status = requests.get(endpoint.url + "/status", headers=auth, timeout=5).json()
        assert status["trading_state"]["level"] == "ACTIVE"
        assert set(status["actors"]) >= {"feed", "strategy", "risk", "portfolio", "executor",
                                         "health", "admin", "supervisor"}
        assert all(a["alive"] for a in status["actors"].values())
        assert "equity" in status["portfolio"]

        metrics = requests.get(endpoint.url + "/metrics", headers=auth, timeout=5).text
        assert exposed_metrics(metrics) <= documented_metrics()
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        assert families["cryptoj_trading_level"].samples[0].value == 0
        assert "cryptoj_equity_quote" in families and "cryptoj_actor_up" in families
        bars = [x for x in families["cryptoj_feed_messages"].samples
                if x.labels == {"channel": "bars"}]
        assert bars and bars[0].value > 0
        tick = families["cryptoj_tick_to_order_seconds"]
        assert tick.type == "histogram"
        counts = {x.labels["le"]: x.value for x in tick.samples if x.name.endswith("_bucket")}
        count = next(x.value for x in tick.samples if x.name.endswith("_count"))
        assert counts["+Inf"] == count > 0 and list(counts.values()) == sorted(counts.values())
        [info] = families["cryptoj_info"].samples
        assert info.labels["mode"] == "paper" and info.value == 1
        assert {x.labels["component"] for x in families["cryptoj_health_level"].samples} >= {
            "overall", "actor:strategy"}
        assert "process_resident_memory_bytes" in families and "process_cpu_seconds" in families

        url = urlsplit(endpoint.url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
        conn.putrequest("POST", "/halt")
        conn.putheader("Authorization", auth["Authorization"])
        conn.putheader("Content-Length", "-5")
        conn.endheaders()
        assert conn.getresponse().status == 400 and not system.rt.halt.is_set()
        conn.close()

        answer = requests.post(endpoint.url + "/halt", headers=auth,
                               json={"reason": "drill over http"}, timeout=5)
        assert answer.status_code == 202 and system.rt.halt.is_set()
        # The executor reads the switch before each order and counts a batch
        # settled after its orders: those of the batch after the one settled
        # now may have gone out before the halt, none after it may.
        halted_after = system.rt.progress.settled + 1
        assert system.wait(1.0), "the replay did not stop within a second of the halt"
        time.sleep(0.5)  # nothing more comes: the backlog drains meanwhile
        assert system.rt.progress.settled > halted_after  # the halt overtook queued batches
        assert orders_sent(tmp_path, halted_after) == 0  # and none of their orders went out
        status = requests.get(endpoint.url + "/status", headers=auth, timeout=5).json()
        assert status["trading_state"]["level"] == "HALTED"
        assert status["trading_state"]["reason"] == "drill over http"
    finally:
        system.stop()
    assert not (tmp_path / "admin.json").exists()  # the endpoint goes with the system


def test_resume_over_http_lets_the_strategy_trade_again(aligned_real, tmp_path):
    system = start_system(window(aligned_real, START, HOURS), tmp_path, credit_window=1)
    try:
        endpoint = endpoint_of(tmp_path)
        auth = {"Authorization": f"Bearer {endpoint.token}"}
        wait_until(lambda: system.rt.progress.settled >= 1000, timeout=60)
        StateDir(tmp_path).control_file.write_text(f"pause\n{UNWIND_LINE}\n")
        wait_until(system.rt.halt.is_set)
        halted_at = system.rt.progress.settled
        wait_until(lambda: system.rt.progress.settled >= halted_at + 100, timeout=60)
        answer = requests.post(endpoint.url + "/resume", headers=auth, timeout=5,
                               json={"reason": "all clear"})
        assert answer.status_code == 200 and answer.json()["resumed"]
        assert not StateDir(tmp_path).control_file.exists(), "a resume removes the control file"
        wait_until(lambda: not system.rt.halt.is_set(), timeout=5)
        assert system.wait(120)
        results = system.results()
    finally:
        system.stop()
    trades = results.portfolio.trades
    unwound = [t for t in trades if t.reason.startswith("unwind")]
    assert unwound, "the halt unwound the book"
    assert any(t.side == "BUY" and t.time_ns > unwound[-1].time_ns for t in trades), \
        "trading resumed after the resume"
    assert results.status == "finished"
    assert json.loads(run_state(tmp_path))["level"] == "ACTIVE"


def run_state(state_dir: Path) -> str:
    return (state_dir / "run" / "trading_state.json").read_text()


def test_the_metrics_port_serves_metrics_alone_without_a_token(aligned_real, tmp_path):
    port = free_port()
    config = config_for(tmp_path, credit_window=1)
    config = replace(config, admin=replace(config.admin, metrics_port=port))
    run = RunInfo(run_id="metrics", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(window(aligned_real, START, HOURS)))
    system.start()
    url = f"http://127.0.0.1:{port}"
    try:
        endpoint = endpoint_of(tmp_path)
        wait_until(lambda: requests.get(url + "/metrics", timeout=5).ok, timeout=10)
        scraped = requests.get(url + "/metrics", timeout=5).text  # no token
        assert 'cryptoj_info{mode="paper"' in scraped
        auth = {"Authorization": f"Bearer {endpoint.token}"}
        admin = requests.get(endpoint.url + "/metrics", headers=auth, timeout=5).text
        assert exposed_metrics(scraped) == exposed_metrics(admin)
        # Nothing but metrics there: no status, and a halt does not halt.
        requests.post(url + "/halt", json={"reason": "from the metrics port"}, timeout=5)
        assert "trading_state" not in requests.get(url + "/status", timeout=5).text
        assert not system.rt.halt.is_set()
    finally:
        system.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/metrics", timeout=5)
