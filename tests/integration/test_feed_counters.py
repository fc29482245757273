"""What the feed goes through is counted where operators look (the status
document and ``/metrics``), not only in the log."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource
from cryptoj_actors.admin.metrics import metrics_registry, metrics_text
from cryptoj_actors.admin.status import status_document
from cryptoj_actors.config import Config, FeedConfig
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.system import TradingSystem
from tests.conftest import load_script, wait_until

replay_server = load_script("replay_server")


def live_system(tmp_path: Path, port: int, products: tuple[str, ...]) -> TradingSystem:
    feed = replace(FeedConfig(), url=f"ws://127.0.0.1:{port}", products=products,
                   batch_interval_s=0.05, bar_interval_s=1, reconnect_initial_s=0.05,
                   reconnect_max_s=0.2, stale_after_s=1.0)
    config = replace(Config(), feed=feed).with_state_dir(tmp_path)
    run = RunInfo(run_id="live", mode="live", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: CoinbaseFeedSource(feed))
    system.start()
    return system


def metrics(system: TradingSystem) -> dict[tuple[str, tuple], float]:
    text = metrics_text(metrics_registry(system.rt)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_sequence_gap_shows_as_a_gap_a_resubscribe_and_a_new_connection(
        advanced_ws_capture, tmp_path):
    capture = replay_server.Capture.read(advanced_ws_capture)
    server = replay_server.ReplayServer(capture, faults=replay_server.Faults(skip_seq=100))
    with replay_server.Running(server):
        system = live_system(tmp_path, server.port, ("BTC-USD", "ETH-USD"))
        try:
            wait_until(lambda: status_document(system.rt)["feed"]["connections"] >= 2)
            feed = status_document(system.rt)["feed"]
            seen = metrics(system)
        finally:
            system.stop()
    assert feed["events"]["gap"] >= 1 and feed["reconnects"]["resubscribe"] >= 1
    assert seen[("cryptoj_feed_events_total", (("kind", "gap"),))] >= 1
    assert seen[("cryptoj_feed_reconnects_total", (("cause", "resubscribe"),))] >= 1
    assert seen[("cryptoj_feed_connections_total", ())] >= 2


def test_a_product_without_any_data_is_named(advanced_ws_capture, tmp_path, caplog):
    capture = replay_server.Capture.read(advanced_ws_capture)
    server = replay_server.ReplayServer(capture, speed=1, loop=True)
    with replay_server.Running(server):
        system = live_system(tmp_path, server.port, ("BTC-USD", "ETH-USD", "LTC-USD"))
        try:
            wait_until(lambda: status_document(system.rt)["feed"]["silent_products"],
                       timeout=20)
            feed = status_document(system.rt)["feed"]
        finally:
            system.stop()
    assert feed["silent_products"] == ["LTC-USD"]
    assert any("no data at all for LTC-USD" in r.message for r in caplog.records)


def test_no_lag_is_shown_before_a_frame_with_a_valid_time(tmp_path):
    source = CoinbaseFeedSource(replace(FeedConfig(), products=("BTC-USD",)))
    system_telemetry = source._telemetry
    source.market.take('{"channel":"ticker","sequence_num":0,"events":[{"tickers":[{'
                       '"product_id":"BTC-USD","price":"1","best_bid":"1","best_ask":"1"}]}]}',
                       1, system_telemetry)
    assert source.next_batch(1, 2_000_000_000_000_000_000) is not None
    assert system_telemetry.feed_lag.last is None
