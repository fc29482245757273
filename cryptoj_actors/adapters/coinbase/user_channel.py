"""Order news from Coinbase's authenticated ``user`` websocket channel.

The channel (``wss://advanced-trade-ws-user.coinbase.com``; Coinbase's
"User channel" page) pushes every change of the account's orders. Here it is
a doorbell, not a source of the ledger: the news it brings makes the venue
worker read the orders' status and fills from REST at once, so that every
fill is still taken once, by its ``entry_id``, through one code path. While
the channel is down or stale the venue polls REST every ``poll_interval_s``
as it did without it; the snapshot that opens every subscription rings for
a reconciliation, which catches what both missed.

The connection, in its own thread (websocket-client):

* subscribes ``user`` (the configured products) and ``heartbeats`` as soon
  as it opens, each with a fresh JWT (they are valid 120 s, and one is
  needed at every subscribe);
* ``sequence_num`` is one counter per connection: a jump means frames were
  lost, and rings for a poll of every open order;
* any frame, however malformed, is counted; a malformed one is skipped;
  an ``error`` frame (a refused JWT) is logged;
* :meth:`UserChannel.watch` drops a connection that has sent nothing for
  ``stale_after_s`` (heartbeats come every second); after any drop it
  reconnects with exponential backoff and full jitter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import orjson
import websocket

from cryptoj_actors.adapters.coinbase.credentials import Credentials
from cryptoj_actors.adapters.coinbase.websocket import STOP_TIMEOUT_S, drop_connection
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.health.telemetry import Telemetry

log = logging.getLogger(__name__)

#: Seconds a connection must last for the reconnect backoff to start again
#: from its shortest delay (a channel that keeps dropping at once backs off).
BACKOFF_RESET_AFTER_S = 60.0


class News(Enum):
    """What the doorbell rings for."""

    ORDERS = "orders"          # orders changed: poll them now
    GAP = "gap"                # frames were lost: poll every open order
    SNAPSHOT = "snapshot"      # a (re)subscription: reconcile with the venue


@dataclass(frozen=True, slots=True)
class UserFrame:
    """What a frame of the user channel says: its sequence number and news."""

    sequence: int | None
    news: News | None
    client_order_ids: tuple[str, ...] = ()
    error: str = ""


def parse_user_frame(raw: str | bytes) -> UserFrame:
    """Read one frame of the user channel.

    Raises:
        ValueError: not JSON, not an object, or a field of the wrong type.
    """
    frame = orjson.loads(raw)
    if not isinstance(frame, dict):
        raise ValueError("a frame is a JSON object")
    if frame.get("type") == "error":
        return UserFrame(None, None, error=str(frame.get("message", "")))
    sequence = frame.get("sequence_num")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        raise ValueError(f"sequence_num {sequence!r} is not an integer")
    if frame.get("channel") != "user":
        return UserFrame(sequence, None)
    events = frame.get("events")
    if not isinstance(events, list):
        raise ValueError("user frame without an events list")
    news, coids = News.ORDERS, []
    for event in events:
        orders = event.get("orders") if isinstance(event, dict) else None
        if not isinstance(orders, list):
            raise ValueError("user event without an orders list")
        if event.get("type") == "snapshot":
            news = News.SNAPSHOT
        for order in orders:
            coid = order.get("client_order_id") if isinstance(order, dict) else None
            if not isinstance(coid, str):
                raise ValueError("user order without a client_order_id")
            coids.append(coid)
    return UserFrame(sequence, news, tuple(coids))


class UserChannel:
    """The ``user`` channel's connection: :meth:`start` it with the doorbell.

    Args:
        url: the channel's websocket URL.
        credentials: the CDP key that signs each subscribe's JWT.
        products: the product ids whose orders to hear of.
        stale_after_s: seconds without a frame before the connection counts
            as stale and is dropped (a heartbeat comes every second).
        backoff: the reconnect delays.
        telemetry: where ``user_channel_state`` and ``user_channel_events``
            (frames, orders, gaps, malformed, errors, reconnects) are kept.
    """

    def __init__(self, url: str, credentials: Credentials, products: tuple[str, ...], *,
                 stale_after_s: float, backoff: Backoff, telemetry: Telemetry) -> None:
        self.url = url
        self.products = products
        self.stale_after_s = stale_after_s
        self._credentials = credentials
        self._backoff = backoff
        self._telemetry = telemetry
        self._ring: Callable[..., None] = lambda **_: None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: websocket.WebSocketApp | None = None
        self._last_frame: float | None = None  # monotonic; None while not connected
        self._heard = False  # a frame other than an error on this connection
        self._sequence: int | None = None
        self._dropping = False
        telemetry.user_channel_state = "connecting"

    @property
    def fresh(self) -> bool:
        """Connected, answered by the venue (a frame other than an error), and
        heard from within ``stale_after_s``: only then may orders be polled
        slowly."""
        last = self._last_frame
        return self._heard and last is not None and time.monotonic() - last <= self.stale_after_s

    def start(self, ring: Callable[..., None]) -> None:
        """Connect; ``ring(reconcile=...)`` is told of news, from the socket thread."""
        self._ring = ring
        self._thread = threading.Thread(target=self._run, name="coinbase-user", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            self._dropping = True
            drop_connection(self._ws)
        if self._thread is not None:
            self._thread.join(timeout=STOP_TIMEOUT_S)

    def watch(self) -> None:
        """Drop a connection gone stale (the socket thread opens a new one)."""
        last, ws = self._last_frame, self._ws
        if last is not None and ws is not None and time.monotonic() - last > self.stale_after_s:
            log.warning("user channel: nothing for %g s; reconnecting", self.stale_after_s)
            self._telemetry.user_channel_state = "stale"
            self._last_frame = None
            self._dropping = True
            drop_connection(ws)

    # --- the socket thread ----------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._ws = websocket.WebSocketApp(
                self.url, on_open=self._on_open, on_message=self._on_message,
                on_error=self._on_error)
            self._dropping = False
            opened = time.monotonic()
            self._ws.run_forever(ping_interval=20, ping_timeout=10, skip_utf8_validation=True)
            self._last_frame, self._heard = None, False
            if self._stop.is_set():
                break
            self._telemetry.user_channel_events["reconnects"] += 1
            if time.monotonic() - opened >= BACKOFF_RESET_AFTER_S:
                self._backoff.reset()
            if self._telemetry.user_channel_state != "stale":
                self._telemetry.user_channel_state = "down"
            delay = self._backoff.next_delay()
            log.warning("user channel: disconnected from %s; reconnecting in %.2f s; orders "
                        "are polled meanwhile", self.url, delay)
            self._stop.wait(delay)

    def _on_open(self, ws: websocket.WebSocket) -> None:
        self._sequence, self._heard = None, False
        self._last_frame = time.monotonic()  # the staleness clock starts at the open
        log.info("user channel: connected to %s", self.url)
        for channel in ("user", "heartbeats"):
            message: dict[str, object] = {"type": "subscribe", "channel": channel,
                                          "jwt": self._credentials.websocket_jwt()}
            if channel == "user":
                message["product_ids"] = list(self.products)
            ws.send(orjson.dumps(message).decode())

    def _on_message(self, ws: websocket.WebSocket, raw: str | bytes) -> None:
        events = self._telemetry.user_channel_events
        events["frames"] += 1
        self._last_frame = time.monotonic()
        try:
            frame = parse_user_frame(raw)
        except (ValueError, TypeError, AttributeError) as exc:
            events["malformed"] += 1
            log.warning("user channel: malformed frame skipped: %.200s", exc)
            return
        if frame.error:
            events["errors"] += 1
            log.error("user channel: the venue says: %s", frame.error)
            return
        self._heard = True
        self._telemetry.user_channel_state = "up"
        seq, expected = frame.sequence, self._sequence
        if seq is not None:  # a frame without one leaves the count as it was
            if expected is not None and seq > expected + 1:
                events["gaps"] += 1
                log.warning("user channel: frames %d to %d lost; polling the orders",
                            expected + 1, seq - 1)
                self._ring()
            self._sequence = seq if expected is None else max(expected, seq)  # a repeat: no news
        if frame.news is not None:
            events["orders"] += len(frame.client_order_ids)
            self._ring(reconcile=frame.news is News.SNAPSHOT)

    def _on_error(self, ws: websocket.WebSocket, error: Exception) -> None:
        if self._dropping or self._stop.is_set():
            return
        log.warning("user channel: cannot reach %s: %s", self.url, error)
