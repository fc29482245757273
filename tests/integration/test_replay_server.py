"""The Coinbase-protocol replay server: it refuses what is not an Advanced
Trade capture in one line, and ``--loop`` plays the capture as one stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import websocket

from cryptoj_actors.adapters.coinbase import advanced_trade
from cryptoj_actors.marketdata.live_market import FrameOutcome, LiveMarket

from tests.conftest import DATA_DIR, REPO, load_script

replay_server = load_script("replay_server")
SCRIPT = REPO / "scripts" / "replay_server.py"


def serve(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), "--port", "0"],
                          capture_output=True, text=True, timeout=30)


def test_a_legacy_exchange_capture_is_refused_in_one_line():
    legacy = DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm" / "raw_md_stream.jsonl"
    if not legacy.is_file():
        pytest.skip(f"recorded data not found: {legacy}")
    result = serve(legacy)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {legacy}:1: a legacy Coinbase Exchange frame (\"type\", no \"channel\"): "
        "this server replays Advanced Trade captures only"]


@pytest.mark.parametrize("line", ["abc\t{}", "1\tnot json", "1\t[]", '1\t{"channel": "x"}',
                                  '1\t{"channel": 5, "timestamp": "2026-09-30T02:39:53Z"}'])
def test_a_malformed_capture_line_is_refused_with_its_number(tmp_path, line):
    path = tmp_path / "bad.jsonl"
    path.write_text(f"\n{line}\n")
    result = serve(path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {path}:2: ")


def test_a_looped_capture_is_one_stream_with_no_seam(advanced_ws_capture):
    capture = replay_server.Capture.read(advanced_ws_capture)
    subscribed = ("l2_data", "heartbeats", "subscriptions")
    per_round = sum(f["channel"] in subscribed for _, f in capture.frames)
    once = sum(replay_server._once_a_subscription(f) for _, f in capture.frames
               if f["channel"] in subscribed)
    with replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}", timeout=10)
        try:
            for channel in ("level2", "heartbeats"):
                ws.send(json.dumps({"type": "subscribe", "channel": channel,
                                    "product_ids": ["BTC-USD", "ETH-USD"]}))
            frames = [json.loads(ws.recv()) for _ in range(3 * per_round + 10)]
        finally:
            ws.close()
    assert [f["sequence_num"] for f in frames] == list(range(len(frames)))
    beats = [f for f in frames if f["channel"] == "heartbeats"]
    counters = [f["events"][0]["heartbeat_counter"] for f in beats]
    assert len(beats) >= 18  # six a round, three rounds
    assert counters == list(range(counters[0], counters[0] + len(counters)))
    times = [replay_server._parse(f["timestamp"]) for f in beats]
    assert times == sorted(times) and len(set(times)) == len(times)
    # The subscriptions answer and the level2 snapshots come once, as a venue sends them.
    assert once >= 3 and sum(replay_server._once_a_subscription(f) for f in frames) == once


def test_a_looped_capture_sends_the_trades_snapshot_once(advanced_ws_capture):
    # Coinbase opens a market_trades subscription with the recent trades; a
    # later round that sent them again would be a burst no venue sends.
    capture = replay_server.Capture.read(advanced_ws_capture)
    trades = [f for _, f in capture.frames if f["channel"] == "market_trades"]
    snapshots = sum(replay_server._once_a_subscription(f) for f in trades)
    assert snapshots >= 1
    with replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}", timeout=10)
        try:
            ws.send(json.dumps({"type": "subscribe", "channel": "market_trades",
                                "product_ids": ["BTC-USD", "ETH-USD"]}))
            got = []
            while len(got) < 3 * len(trades):
                frame = json.loads(ws.recv())
                if frame["channel"] == "market_trades":
                    got.append(frame)
        finally:
            ws.close()
    kinds = [e["type"] for f in got for e in f["events"]]
    assert kinds.count("snapshot") == snapshots and "snapshot" not in kinds[snapshots:]


def test_a_looped_capture_keeps_the_books_the_recorded_ones(advanced_ws_capture):
    """Later rounds send no snapshot: one update turns each book back to its
    opening snapshot, so the market code sees every round end on the very
    books the first did, with nothing crossed and nothing to resync."""
    capture = replay_server.Capture.read(advanced_ws_capture)
    subscribed = ("l2_data", "subscriptions")
    per_round = sum(f["channel"] in subscribed for _, f in capture.frames)
    once = sum(replay_server._once_a_subscription(f) for _, f in capture.frames
               if f["channel"] in subscribed)
    second_end = per_round + (per_round - once + 1)  # the seam's update, then the updates
    market = LiveMarket(advanced_trade, ("BTC-USD", "ETH-USD"), bar_interval_ns=10**9,
                        stale_after_ns=5 * 10**9)
    with replay_server.Running(replay_server.ReplayServer(capture, loop=True)) as server:
        ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}", timeout=10)
        try:
            ws.send(json.dumps({"type": "subscribe", "channel": "level2",
                                "product_ids": ["BTC-USD", "ETH-USD"]}))
            ends = []
            for n in range(1, 3 * per_round):
                outcome = market.on_frame(ws.recv(), n)
                assert outcome is FrameOutcome.OK, (n, outcome)
                if n in (per_round, second_end):  # each round's last frame
                    ends.append({p: (dict(b.bids), dict(b.asks))
                                 for p, b in market.books.items()})
        finally:
            ws.close()
    assert all(book.valid for book in market.books.values())
    assert ends[0] == ends[1]
