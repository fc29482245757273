"""The live path against a real websocket server on 127.0.0.1 that speaks
Coinbase's protocol and replays real recorded frames."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import websockets

from cryptoj_actors.config import Config, FeedConfig
from cryptoj_actors.marketdata.coinbase_ws import CoinbaseTradesSource, LiveTrades, parse_frame
from cryptoj_actors.messages import Trade
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.system import TradingSystem


class CaptureServer:
    """Waits for subscribe messages, then sends every recorded frame."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames
        self.subscriptions: list[dict] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CaptureServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = self._loop.create_future()
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        async with websockets.serve(self._handle, "127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop

    async def _handle(self, ws) -> None:
        deadline = asyncio.get_running_loop().time() + 5  # Coinbase's subscribe rule
        while len(self.subscriptions) < 2:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await asyncio.wait_for(ws.recv(), timeout=max(remaining, 0.01))
            self.subscriptions.append(json.loads(message))
        for frame in self.frames:
            await ws.send(frame)
        await ws.wait_closed()


def test_live_system_trades_on_recorded_coinbase_frames(advanced_ws_capture: Path, tmp_path):
    frames = [line.split("\t", 1)[1].rstrip("\n")
              for line in advanced_ws_capture.read_text().splitlines()]
    latest: dict[str, tuple[int, Decimal]] = {}
    for frame in frames:
        for trade in parse_frame(frame)[1]:
            if trade.time_ns >= latest.get(trade.product_id, (0, None))[0]:
                latest[trade.product_id] = (trade.time_ns, trade.price)

    with CaptureServer(frames) as server:
        feed = replace(FeedConfig(), url=f"ws://127.0.0.1:{server.port}",
                       products=("BTC-USD", "ETH-USD"), batch_interval_s=0.05,
                       bar_interval_s=1)
        config = replace(Config(), feed=feed).with_state_dir(tmp_path)
        run = RunInfo(run_id="live", mode="live", state_dir=tmp_path, run_dir=tmp_path / "run")
        system = TradingSystem(config, run, lambda: CoinbaseTradesSource(feed))
        system.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                marks = {p.product_id: p.mark_price
                         for p in system.results().portfolio.snapshot.positions}
                if marks == {p: price for p, (_, price) in latest.items()}:
                    break
                time.sleep(0.05)
            results = system.results()
        finally:
            system.stop()

    assert [s["channel"] for s in server.subscriptions] == ["market_trades", "heartbeats"]
    assert server.subscriptions[0] == {"type": "subscribe", "channel": "market_trades",
                                       "product_ids": ["BTC-USD", "ETH-USD"]}
    marks = {p.product_id: p.mark_price for p in results.portfolio.snapshot.positions}
    assert marks == {p: price for p, (_, price) in latest.items()}
    assert results.portfolio.equity, "no market batch reached the portfolio"
    assert results.dead_letters == {}
    assert not system.rt.halt.is_set()


@pytest.mark.parametrize("bad", ["{", "[]", '{"channel":"market_trades","events":[{"trades":'
                                 '[{"product_id":"BTC-USD","price":"x"}]}]}'])
def test_bad_frames_are_counted_and_skipped(bad):
    source = CoinbaseTradesSource(FeedConfig(products=("BTC-USD",)))
    received: list[object] = []
    source._notify = received.append
    source._on_message(None, bad)
    source._on_message(None, bad)
    assert received == [] and sum(source.errors.values()) == 2


def test_a_resubscription_snapshot_does_not_count_trades_twice(advanced_ws_capture: Path):
    source = CoinbaseTradesSource(FeedConfig(products=("BTC-USD", "ETH-USD"), bar_interval_s=1))
    frames = [line.split("\t", 1)[1] for line in advanced_ws_capture.read_text().splitlines()]
    unique = {(t.product_id, t.trade_id) for f in frames for t in parse_frame(f)[1]}
    batches = []
    for seq, delivery in enumerate((frames, frames), start=1):  # a reconnect replays it all
        for frame in delivery:
            trades = parse_frame(frame)[1]
            if trades:
                source.absorb(LiveTrades(trades))
        batches.append(source.next_batch(seq, 0))
    first, again = batches
    seen = [(e.product_id, e.trade_id) for e in first.events if isinstance(e, Trade)]
    assert sorted(seen) == sorted(unique)  # every trade once ...
    assert again is None  # ... and the replayed snapshot brings nothing new
