"""Live market data from the Coinbase Advanced Trade websocket.

The socket lives in its own thread (websocket-client); each frame goes,
with its local receive time, through the feed actor's mailbox to a
:class:`~cryptoj_actors.marketdata.live_market.LiveMarket`, which only the
feed actor touches. The connection:

* subscribes every configured channel, one message each, as soon as it opens
  (Coinbase closes a connection that has not subscribed within 5 seconds),
  always including ``heartbeats``;
* on a sequence gap, resubscribes by reconnecting (fresh snapshots);
* reconnects when the data goes stale (no frame for ``stale_after_s``);
* reconnects after any drop with exponential backoff and full jitter
  (``reconnect_initial_s`` doubling to ``reconnect_max_s``; the count resets
  once a connection has lasted ``reconnect_reset_s``), and reports the feed
  ``down`` to health after ``circuit_breaker_failures`` failures in a row.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import websocket

from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.live_market import LiveMarket, Verdict
from cryptoj_actors.messages import MarketBatch

log = logging.getLogger(__name__)

#: Seconds to wait for the server's close frame when stopping.
CLOSE_TIMEOUT_S = 0.5


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One frame as received, handed from the socket thread to the feed actor."""

    text: str | bytes
    received_ns: int
    connection: int


class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog, "Exponential
    Backoff And Jitter"): the n-th wait is uniform in ``[0, min(cap, base * 2**n)]``."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures, 30))
        self.failures += 1
        return self._rng.uniform(0, ceiling)

    def reset(self) -> None:
        self.failures = 0


class CoinbaseFeedSource:
    """A :class:`~cryptoj_actors.marketdata.source.MarketSource` on the live websocket."""

    total_batches = 0
    exhausted = False

    def __init__(self, config: FeedConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.products = config.products
        self.period_ns = int(config.batch_interval_s * NS_PER_SECOND)
        self.market = LiveMarket(config.products, config.bar_interval_s * NS_PER_SECOND,
                                 int(config.stale_after_s * NS_PER_SECOND), config.book_depth)
        self.backoff = Backoff(config.reconnect_initial_s, config.reconnect_max_s, rng)
        self.connection = 0  # counts connections opened; frames of older ones are dropped
        self.connected_since: float | None = None
        self._notify: Callable[[object], None] | None = None
        self._telemetry = Telemetry()
        self._stop = threading.Event()
        self._ws: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._seen_connection = 0  # the newest connection whose frames reached the market

    # --- the feed actor's side ------------------------------------------------------

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        self._notify = notify
        self._telemetry = telemetry
        telemetry.feed_state = "connecting"
        self._thread = threading.Thread(target=self._run, name="coinbase-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            # The close handshake reads until the server's close frame; a
            # server still streaming frames would hold it for websocket-client's
            # default 3 s, past the actor's shutdown time-out.
            ws.close(timeout=CLOSE_TIMEOUT_S)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2 * CLOSE_TIMEOUT_S + 1)

    def absorb(self, message: object) -> None:
        if not isinstance(message, RawFrame):
            raise TypeError(f"unexpected live input {type(message).__name__}")
        if message.connection < self._seen_connection:
            return  # a frame of a connection already given up
        if message.connection > self._seen_connection:
            # A new connection numbers its frames from 0 and sends fresh snapshots.
            self._seen_connection = message.connection
            self.market.reset_connection("new connection")
        verdict = self.market.on_frame(message.text, message.received_ns)
        channel = "invalid" if verdict is Verdict.INVALID else "frames"
        self._telemetry.feed_messages[channel] += 1
        if verdict is Verdict.INVALID:
            self._telemetry.errors["feed.input"] += 1
        elif verdict is Verdict.RESYNC:
            self.reconnect("sequence gap: resubscribing for fresh snapshots")

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        since = self.connected_since
        if since is not None and time.monotonic() - since > self.config.stale_after_s \
                and self.market.stale(now_ns):
            self._telemetry.feed_state = "stale"
            self.reconnect(f"no data for {self.config.stale_after_s:g} s")
        batch = self.market.next_batch(seq, now_ns)
        if batch is not None:
            lag = max(0, now_ns - batch.ts_ns) / NS_PER_SECOND
            self._telemetry.feed_lag.record(lag)
        return batch

    def reconnect(self, reason: str) -> None:
        """Drop the connection (the socket thread opens a new one)."""
        log.warning("feed: reconnecting: %s", reason)
        self.market.reset_connection(reason)
        self.connected_since = None
        ws = self._ws
        if ws is not None:
            ws.close()

    # --- the socket thread ----------------------------------------------------------

    def _run(self) -> None:
        cfg = self.config
        while not self._stop.is_set():
            self.connection += 1
            connection = self.connection
            self._ws = websocket.WebSocketApp(
                cfg.url, on_open=lambda ws, c=connection: self._on_open(ws, c),
                on_message=lambda ws, raw, c=connection: self._on_message(raw, c),
                on_error=self._on_error)
            self._ws.run_forever(ping_interval=20, ping_timeout=10)
            if self._stop.is_set():
                break
            since = self.connected_since
            if since is not None and time.monotonic() - since >= cfg.reconnect_reset_s:
                self.backoff.reset()
            self.connected_since = None
            if self.backoff.failures + 1 >= cfg.circuit_breaker_failures:
                self._telemetry.feed_state = "down"
            delay = self.backoff.next_delay()
            log.warning("feed: disconnected from %s; reconnecting in %.2f s", cfg.url, delay)
            self._stop.wait(delay)

    def _on_open(self, ws: websocket.WebSocket, connection: int) -> None:
        self.connected_since = time.monotonic()
        self._telemetry.feed_state = "up"
        log.info("feed: connected to %s", self.config.url)
        for channel in self.config.channels:
            message: dict[str, object] = {"type": "subscribe", "channel": channel}
            if channel != "heartbeats":
                message["product_ids"] = list(self.products)
            ws.send(orjson.dumps(message).decode())

    def _on_message(self, raw: str | bytes, connection: int) -> None:
        if self._notify is not None:
            self._notify(RawFrame(raw, time.time_ns(), connection))

    def _on_error(self, ws: websocket.WebSocket, error: Exception) -> None:
        log.warning("feed: cannot reach %s: %s", self.config.url, error)
