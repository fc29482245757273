"""Live market data from the Coinbase Advanced Trade websocket.

The socket lives in its own thread (websocket-client); each frame goes,
with its local receive time, through the feed actor's mailbox to a
:class:`~cryptoj_actors.marketdata.live_market.LiveMarket`, which only the
feed actor touches. The connection:

* subscribes every configured channel, one message each, as soon as it opens
  (Coinbase closes a connection that has not subscribed within 5 seconds),
  always including ``heartbeats``;
* on a sequence gap or a book gone bad, resubscribes by reconnecting (fresh
  snapshots); frames still queued from the dropped connection are ignored;
* reconnects when the data goes stale (no frame for ``stale_after_s``), or
  when a connection has not opened within that time, checked on every clock
  tick whether or not batches are being taken;
* reconnects after any drop with exponential backoff and full jitter
  (``reconnect_initial_s`` doubling to ``reconnect_max_s``; the count resets
  once a connection has lasted ``reconnect_reset_s``), and reports the feed
  ``down`` to health after ``circuit_breaker_failures`` failures in a row.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import websocket

from cryptoj_actors.adapters.coinbase import advanced_trade
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.live_market import FrameOutcome, LiveMarket
from cryptoj_actors.messages import MarketBatch

log = logging.getLogger(__name__)

#: Seconds :meth:`CoinbaseFeedSource.stop` waits for the socket thread to end.
STOP_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One frame as received, handed from the socket thread to the feed actor."""

    text: str | bytes
    received_ns: int
    connection: int


class CoinbaseFeedSource:
    """A :class:`~cryptoj_actors.marketdata.source.MarketSource` on the live websocket."""

    total_batches = 0
    exhausted = False

    def __init__(self, config: FeedConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.products = config.products
        # Event-driven batches have no period: a second is the nominal one
        # the live metrics annualize by.
        self.period_ns = int((config.batch_interval_s or 1.0) * NS_PER_SECOND)
        self.market = LiveMarket(advanced_trade, config.products,
                                 config.bar_interval_s * NS_PER_SECOND,
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
        self._fenced = 0  # frames of connections up to this one are ignored (dropped by us)
        # The socket thread's own view (the actor thread clears connected_since).
        self._attempt_since: float | None = None  # monotonic: this connection attempt began
        self._opened_at: float | None = None  # monotonic: this connection opened
        self._dropping = False  # reconnect() is dropping this connection

    # --- the feed actor's side ------------------------------------------------------

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        self._notify = notify
        self._telemetry = telemetry
        telemetry.feed_events.update(self.market.counts)
        self.market.counts = telemetry.feed_events  # the run's counters from now on
        telemetry.set_feed_state("connecting", time.time())
        self._thread = threading.Thread(target=self._run, name="coinbase-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        ws = self._ws
        if ws is not None:
            self._dropping = True
            drop_connection(ws)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=STOP_TIMEOUT_S)

    def absorb(self, message: object) -> None:
        if not isinstance(message, RawFrame):
            raise TypeError(f"unexpected live input {type(message).__name__}")
        if message.connection < self._seen_connection or message.connection <= self._fenced:
            return  # a frame of a connection already given up
        if message.connection > self._seen_connection:
            # A new connection numbers its frames from 0 and sends fresh snapshots.
            self._seen_connection = message.connection
            self.market.reset_connection("new connection")
        outcome = self.market.take(message.text, message.received_ns, self._telemetry)
        if outcome is FrameOutcome.RESYNC:
            self.reconnect("frames lost or a book gone bad: resubscribing for fresh snapshots",
                           connection=message.connection, cause="resubscribe")

    def watch(self, now_ns: int) -> None:
        limit = self.config.stale_after_s
        now = time.monotonic()
        since, attempt = self.connected_since, self._attempt_since
        if since is not None and now - since > limit and self.market.stale(now_ns):
            self._telemetry.set_feed_state("stale", time.time())
            self.reconnect(f"no data for {limit:g} s", cause="stale")
        elif attempt is not None and self._opened_at is None and now - attempt > limit:
            self.reconnect(f"the connection did not open within {limit:g} s",
                           cause="open_timeout")
        elif since is not None and now - since > limit:
            self._say_silent()

    def _say_silent(self) -> None:
        """Name, once per connection, the products that have had no data at
        all since it opened (not one the venue serves, or not traded)."""
        silent = self.market.silent()
        if silent != self._telemetry.feed_silent:
            self._telemetry.feed_silent = silent
            if silent:
                log.warning("feed: no data at all for %s in %g s on this connection (is it "
                            "a product %s serves?)", ", ".join(silent),
                            self.config.stale_after_s, self.config.url)

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        batch = self.market.next_batch(seq, now_ns)
        if batch is not None and batch.ts_ns > 0:  # 0: no frame had a valid time
            lag = max(0, now_ns - batch.ts_ns) / NS_PER_SECOND
            self._telemetry.feed_lag.record(lag)
        return batch

    def reconnect(self, reason: str, *, cause: str = "requested",
                  connection: int | None = None) -> None:
        """Drop the current connection (the socket thread opens a new one),
        or only ignore ``connection``'s frames from now on when a newer one
        has replaced it already; ``cause`` is counted (``feed_reconnects``)."""
        current = self.connection
        if connection is not None and connection < current:
            self._fenced = max(self._fenced, connection)
            log.info("feed: connection %d already replaced (%s)", connection, reason)
            return
        log.warning("feed: reconnecting: %s", reason)
        self._telemetry.feed_reconnects[cause] += 1
        self._telemetry.feed_silent = ()
        self.market.reset_connection(reason)
        self.connected_since = None
        self._attempt_since = None  # "did not open" is said once per attempt
        self._fenced = max(self._fenced, current)
        ws = self._ws
        if ws is not None:
            self._dropping = True  # the error the drop raises is ours, not the network's
            drop_connection(ws)

    # --- the socket thread ----------------------------------------------------------

    def _run(self) -> None:
        cfg = self.config
        while not self._stop.is_set():
            self.connection += 1
            connection = self.connection
            self._telemetry.feed_connections = connection
            self._ws = websocket.WebSocketApp(
                cfg.url, on_open=lambda ws, c=connection: self._on_open(ws, c),
                on_message=lambda ws, raw, c=connection: self._on_message(raw, c),
                on_error=self._on_error)
            self._attempt_since, self._opened_at, self._dropping = time.monotonic(), None, False
            # The TCP connect and the handshake time out like stale data: a
            # socket still connecting cannot be shut down from outside.
            websocket.setdefaulttimeout(cfg.stale_after_s)
            # Frames come as bytes, unvalidated: websocket-client's UTF-8 check
            # is pure Python (7 ms and the GIL for a 33 KB level2 snapshot,
            # stalling every actor), and orjson validates as it parses anyway
            # (invalid UTF-8 is counted as not_json).
            self._ws.run_forever(ping_interval=20, ping_timeout=10, skip_utf8_validation=True)
            opened, self._attempt_since = self._opened_at, None
            if self._stop.is_set():
                break
            if opened is not None and time.monotonic() - opened >= cfg.reconnect_reset_s:
                self.backoff.reset()
            self.connected_since = None
            if self.backoff.attempts + 1 >= cfg.circuit_breaker_failures:
                self._telemetry.set_feed_state("down", time.time())
            delay = self.backoff.next_delay()
            log.warning("feed: disconnected from %s; reconnecting in %.2f s", cfg.url, delay)
            self._stop.wait(delay)

    def _on_open(self, ws: websocket.WebSocket, connection: int) -> None:
        self._opened_at = self.connected_since = time.monotonic()
        self._telemetry.set_feed_state("up", time.time())
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
        if self._dropping or self._stop.is_set():
            log.debug("feed: connection dropped: %s", error)
            return
        log.warning("feed: cannot reach %s: %s", self.config.url, error)


def drop_connection(ws: websocket.WebSocketApp) -> None:
    """End a connection from another thread than its socket thread: a close
    frame, so that the server ends its side at once, then a shutdown of the
    socket, so that the socket thread's read returns at once and
    ``run_forever`` ends. (Closing the socket here instead would leave the
    socket thread waiting in its poll on a closed descriptor until the ping
    time-out, up to 10 s.)"""
    ws.keep_running = False
    try:
        ws.sock.send_close()
    except (AttributeError, OSError, websocket.WebSocketException):
        pass  # not connected yet, or already gone
    _shut_down(ws)


def _shut_down(ws: websocket.WebSocketApp) -> None:
    """Shut the socket down under its socket thread: the thread's read
    returns at once and ``run_forever`` ends."""
    try:
        ws.sock.sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        pass  # not connected yet, or already closed
