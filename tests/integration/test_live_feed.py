"""The live path against the Coinbase-protocol replay server on 127.0.0.1,
serving real recorded Advanced Trade frames: the feed, its books, and the
fault drills (a dropped connection, a sequence gap, malformed frames, a
stall, the server down at start)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.adapters.coinbase import advanced_trade as at
from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource
from cryptoj_actors.config import Config, FeedConfig
from cryptoj_actors.marketdata.frames import Channel
from cryptoj_actors.marketdata.orderbook import OrderBook
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.runtime import LIVE_LEDGER, RunInfo
from cryptoj_actors.system import TradingSystem
from tests.conftest import REPO, journal_count, load_script, wait_until

PRODUCTS = ("BTC-USD", "ETH-USD")
replay_server = load_script("replay_server")


@pytest.fixture(scope="module")
def capture(advanced_ws_capture: Path):
    return replay_server.Capture.read(advanced_ws_capture)


def direct_books(capture) -> dict[str, OrderBook]:
    books = {p: OrderBook(p) for p in PRODUCTS}
    for _, frame in capture.frames:
        parsed = at.parse_frame(json.dumps(frame))
        if parsed.channel is Channel.BOOK:
            for e in at.book_events(parsed):
                getattr(books[e.product_id], f"apply_{e.kind}")(e.changes, e.time_ns)
    return books


def live_system(tmp_path: Path, port: int, **feed) -> TradingSystem:
    feed = {"batch_interval_s": 0.05, **feed}
    feed_config = replace(FeedConfig(), url=f"ws://127.0.0.1:{port}", products=PRODUCTS,
                          bar_interval_s=1, reconnect_initial_s=0.05, reconnect_max_s=0.2,
                          **feed)
    config = replace(Config(), feed=feed_config).with_state_dir(tmp_path)
    run = RunInfo(run_id="live", mode="live", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: CoinbaseFeedSource(feed_config))
    system.start()
    return system


def source_of(system: TradingSystem) -> CoinbaseFeedSource:
    return system.rt.directory.get("feed").proxy().source.get(timeout=5)


def books_match(source: CoinbaseFeedSource, expected: dict[str, OrderBook]) -> bool:
    books = source.market.books
    return all(books[p].valid and dict(books[p].bids) == dict(expected[p].bids)
               and dict(books[p].asks) == dict(expected[p].asks) for p in PRODUCTS)


@pytest.mark.parametrize("interval", [0, 1.0])
def test_event_driven_batches_are_cut_as_frames_arrive(capture, tmp_path, interval):
    """``batch_interval_s = 0``: a batch as soon as a frame arrives (and the
    pipeline has room), so many frames make their own batch (47 of 150 seen
    on a loaded 2-core machine, more conflating then); on a one-second clock
    the same frames (about 40 a second) come in a handful. A tenth of the
    frames lies well between the two."""
    with replay_server.Running(replay_server.ReplayServer(capture, speed=1.0)) as server:
        system = live_system(tmp_path, server.port, batch_interval_s=interval)
        try:
            telemetry = system.rt.telemetry
            wait_until(lambda: telemetry.feed_messages["frames"] >= 150, timeout=30)
            frames, batches = telemetry.feed_messages["frames"], system.rt.progress.settled
        finally:
            system.stop()
    if interval == 0:
        assert batches >= frames / 10, (batches, frames)  # some conflate while busy
    else:
        assert batches <= frames / 10, (batches, frames)


def test_the_feed_through_the_server_builds_the_same_books_as_the_file(capture, tmp_path):
    expected = direct_books(capture)
    with replay_server.Running(replay_server.ReplayServer(capture)) as server:
        system = live_system(tmp_path, server.port)
        try:
            source = source_of(system)
            wait_until(lambda: books_match(source, expected))
            assert source.market.counts == {}
        finally:
            system.stop()
    subscribed = [(m["channel"], m.get("product_ids")) for m in server.subscriptions]
    assert subscribed == [("level2", list(PRODUCTS)), ("market_trades", list(PRODUCTS)),
                          ("ticker", list(PRODUCTS)), ("heartbeats", None)]


@pytest.mark.parametrize("faults, check", [
    (dict(drop_after=60), "reconnected"),
    (dict(skip_seq=100), "gap"),
    (dict(malformed=0.05), "malformed"),
])
def test_fault_drills_end_with_valid_books(capture, tmp_path, faults, check):
    expected = direct_books(capture)
    server = replay_server.ReplayServer(capture, faults=replay_server.Faults(**faults))
    with replay_server.Running(server):
        system = live_system(tmp_path, server.port)
        try:
            source = source_of(system)
            if check == "malformed":  # junk between real frames: counted, skipped
                wait_until(lambda: books_match(source, expected))
                assert sum(source.market.counts.values()) > 0
                assert source.market.counts.get("gap", 0) == 0
            else:  # frames lost: the feed reconnects and rebuilds from fresh snapshots
                wait_until(lambda: server.connections >= 2)
                wait_until(lambda: all(b.valid for b in source.market.books.values()))
                if check == "gap":
                    assert source.market.counts["gap"] >= 1
            assert system.rt.telemetry.errors.get("feed.input", 0) == \
                sum(v for k, v in source.market.counts.items()
                    if k not in ("gap", "sequence_repeat", "crossed_book"))
        finally:
            system.stop()


def test_a_stall_makes_the_data_unreliable_and_forces_a_reconnect(capture, tmp_path):
    server = replay_server.ReplayServer(capture,
                                        faults=replay_server.Faults(stall_after=120))
    with replay_server.Running(server):
        system = live_system(tmp_path, server.port, stale_after_s=1.0)
        try:
            source = source_of(system)
            wait_until(lambda: source.market.counts == {} and source.market.last_seq == 119)
            wait_until(lambda: source.market.unreliable(time.time_ns()) == PRODUCTS, timeout=5)
            wait_until(lambda: server.connections >= 2, timeout=10)  # reconnected by itself
        finally:
            system.stop()


def test_the_server_down_at_start_is_retried_until_it_comes(capture, tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    system = live_system(tmp_path, port)
    try:
        source = source_of(system)
        wait_until(lambda: source.backoff.attempts >= 2, timeout=10)  # refused, with backoff
        assert not any(b.valid for b in source.market.books.values())
        server = replay_server.ReplayServer(capture, port=port)
        with replay_server.Running(server):
            try:
                wait_until(lambda: all(b.valid for b in source.market.books.values()))
            finally:
                system.stop()
    finally:
        system.stop()


def test_a_resubscription_is_quick_and_a_long_connection_resets_the_backoff(capture, tmp_path):
    server = replay_server.ReplayServer(capture, loop=True)
    with replay_server.Running(server):
        system = live_system(tmp_path, server.port, reconnect_reset_s=0.5)
        try:
            source = source_of(system)
            wait_until(lambda: all(b.valid for b in source.market.books.values()))
            for n in range(3):  # three resyncs, each after a connection of over 0.5 s
                wait_until(lambda: (since := source.connected_since) is not None
                           and time.monotonic() - since > 0.6, timeout=10)
                connections, attempts = server.connections, source.connection
                asked = time.monotonic()
                source.reconnect("drill")
                # The socket thread wakes and tries again (not after the ping
                # time-out); the server, busy streaming, may take longer to
                # accept, which is not timed.
                wait_until(lambda a=attempts: source.connection > a, timeout=5)
                assert time.monotonic() - asked < 2.0, "the dropped socket must wake at once"
                wait_until(lambda c=connections: server.connections > c, timeout=10)
            assert source.backoff.attempts <= 1  # reset each time: no circuit breaker
            assert system.rt.telemetry.feed_state != "down"
        finally:
            system.stop()


def test_a_connection_that_never_opens_is_given_up_and_retried(tmp_path):
    import socket
    with socket.socket() as listener:  # accepts TCP, never answers the websocket upgrade
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        system = live_system(tmp_path, port, stale_after_s=0.5)
        try:
            source = source_of(system)
            wait_until(lambda: source.backoff.attempts >= 2, timeout=10)
            assert system.rt.telemetry.feed_state == "connecting"
        finally:
            system.stop()


class FivePercentEach:
    """Hold 5 % of equity in every product from its first bar on."""

    def __init__(self, *, products) -> None:
        self.products = products

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        return [OrderIntent(product_id=e.product_id, target_weight=Decimal("0.05"),
                            rebalance_threshold=Decimal("0.01"))
                for e in batch.events if isinstance(e, Bar)]


def test_run_with_feed_url_trades_on_the_server(capture, tmp_path):
    conf = tmp_path / "live.toml"
    conf.write_text(f'[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbar_interval_s = 1\n'
                    f'[strategy]\nname = "{__name__}:FivePercentEach"\n')
    server = replay_server.ReplayServer(capture, speed=1.0, loop=True)
    with replay_server.Running(server):
        proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "run", "--config",
                                 str(conf), "--state-dir", str(tmp_path), "--no-ui",
                                 "--feed-url", f"ws://127.0.0.1:{server.port}"],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_until(lambda: journal_count(tmp_path / "journal.sqlite3", "fills",
                                             LIVE_LEDGER) > 0, timeout=30)
        finally:
            proc.send_signal(signal.SIGINT)
            stderr = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


def test_a_resubscription_snapshot_does_not_count_trades_twice(capture):
    source = CoinbaseFeedSource(FeedConfig(products=PRODUCTS, bar_interval_s=1))
    texts = [json.dumps({**frame, "sequence_num": i}) for i, (_, frame) in
             enumerate(capture.frames)]
    from cryptoj_actors.adapters.coinbase.websocket import RawFrame
    for connection in (1, 2):  # the second connection replays everything
        for text in texts:
            source.absorb(RawFrame(text, time.time_ns(), connection))
    from cryptoj_actors.model import Trade
    batch = source.market.next_batch(1, time.time_ns())
    ids = [(e.product_id, e.trade_id) for e in batch.events if isinstance(e, Trade)]
    assert len(ids) == len(set(ids)) > 0
    assert all(b.valid for b in source.market.books.values())


def test_the_thread_count_stays_bounded_after_stop(capture, tmp_path):
    with replay_server.Running(replay_server.ReplayServer(capture)) as server:
        system = live_system(tmp_path, server.port)
        source = source_of(system)
        wait_until(lambda: all(b.valid for b in source.market.books.values()))
        system.stop()
    wait_until(lambda: not [t for t in threading.enumerate()
                            if t.name == "coinbase-ws" and t.is_alive()], timeout=5)
