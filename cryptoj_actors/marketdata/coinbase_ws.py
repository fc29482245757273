"""Live market data from the Coinbase Advanced Trade websocket (public channels).

Connects to ``[feed] url`` (``wss://advanced-trade-ws.coinbase.com``) with
websocket-client, sends one subscribe message per channel (``ticker`` and
``heartbeats``) as soon as the socket opens (Coinbase closes a connection
that has not subscribed within 5 seconds), and turns ``ticker`` events into
:class:`~cryptoj_actors.messages.Ticker` events. Ticks are conflated per
product (the latest wins) and cut into bars of ``bar_interval_s`` on the
exchange's clock, so the strategy sees the same kind of data as in replay.

When the network cannot be reached, or the connection drops, it says so in
one log line and reconnects with exponential backoff and full jitter
(``reconnect_initial_s`` doubling to ``reconnect_max_s``). A frame it cannot
parse is counted, logged once per kind, and skipped.

Message shapes: Coinbase Advanced Trade WebSocket docs, "Channels" (ticker:
``events[].tickers[]`` with ``product_id``, ``price``, ``best_bid``,
``best_ask``; envelope ``channel``, ``timestamp``, ``sequence_num``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
import websocket

from cryptoj_actors.clock import NS_PER_SECOND, from_datetime
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.messages import Bar, MarketBatch, MarketEvent, Ticker
from cryptoj_actors.money import to_decimal

log = logging.getLogger(__name__)

CHANNELS = ("ticker", "heartbeats")


@dataclass(frozen=True, slots=True)
class LiveTicks:
    """Tickers parsed from one frame, handed from the socket thread to the feed."""

    tickers: tuple[Ticker, ...]


def parse_time(text: str) -> int:
    """Coinbase's RFC 3339 time (nanosecond digits allowed) -> ns since the epoch."""
    head, _, frac = text.rstrip("Z").partition(".")
    base = from_datetime(datetime.fromisoformat(head))
    return base + int((frac + "000000000")[:9]) if frac else base


def parse_frame(raw: bytes | str) -> tuple[str, tuple[Ticker, ...]]:
    """Parse one frame: its channel and the tickers it carries.

    Raises:
        ValueError: the frame is not JSON or a ticker misses a field or has a
            non-numeric or non-positive price.
    """
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ValueError("frame is not a JSON object")
    channel = str(frame.get("channel", ""))
    if channel != "ticker":
        return channel, ()
    stamp = parse_time(str(frame.get("timestamp", "")))
    tickers = []
    for event in frame.get("events") or ():
        for t in event.get("tickers") or ():
            try:
                price = to_decimal(t["price"], "price")
                bid = to_decimal(t["best_bid"], "best_bid")
                ask = to_decimal(t["best_ask"], "best_ask")
                product_id = str(t["product_id"])
            except KeyError as exc:
                raise ValueError(f"ticker without {exc.args[0]}") from None
            if price <= 0 or bid <= 0 or ask <= 0:
                raise ValueError(f"ticker {product_id} with a non-positive price")
            tickers.append(Ticker(product_id=product_id, time_ns=stamp, price=price,
                                  best_bid=bid, best_ask=ask))
    return channel, tuple(tickers)


class _BarCutter:
    """Cuts one product's ticks into OHLC bars aligned on ``interval_ns``.

    The ticker channel carries no per-bar volume, so these bars have volume 0;
    the paper exchange fills live orders against tickers, not these bars.
    """

    def __init__(self, product_id: str, interval_ns: int) -> None:
        self.product_id = product_id
        self.interval_ns = interval_ns
        self.start_ns: int | None = None
        self.prices: list[Decimal] = []

    def add(self, time_ns: int, price: Decimal) -> Bar | None:
        start = time_ns - time_ns % self.interval_ns
        closed = None
        if self.start_ns is not None and start > self.start_ns and self.prices:
            closed = Bar(product_id=self.product_id, start_ns=self.start_ns,
                         interval_ns=self.interval_ns, open=self.prices[0],
                         high=max(self.prices), low=min(self.prices), close=self.prices[-1],
                         volume=Decimal(0))
            self.prices = []
        if self.start_ns is None or start >= self.start_ns:
            self.start_ns = start
            self.prices.append(price)
        return closed


class CoinbaseTickerSource:
    """A :class:`~cryptoj_actors.marketdata.source.MarketSource` on the live websocket."""

    total_batches = 0
    exhausted = False

    def __init__(self, config: FeedConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.products = config.products
        self.errors: Counter[str] = Counter()
        self._rng = rng or random.Random()
        self._notify: Callable[[object], None] | None = None
        self._stop = threading.Event()
        self._ws: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self._latest: dict[str, Ticker] = {}
        self._closed_bars: list[Bar] = []
        interval = config.bar_interval_s * NS_PER_SECOND
        self._cutters = {p: _BarCutter(p, interval) for p in self.products}

    def start(self, notify: Callable[[object], None]) -> None:
        self._notify = notify
        self._thread = threading.Thread(target=self._run, name="coinbase-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            self._ws.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def absorb(self, message: object) -> None:
        if not isinstance(message, LiveTicks):
            raise TypeError(f"unexpected live input {type(message).__name__}")
        for ticker in message.tickers:
            cutter = self._cutters.get(ticker.product_id)
            if cutter is None:
                continue
            bar = cutter.add(ticker.time_ns, ticker.price)
            if bar is not None:
                self._closed_bars.append(bar)
            self._latest[ticker.product_id] = ticker

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        if not self._latest and not self._closed_bars:
            return None
        events: list[MarketEvent] = [*self._closed_bars, *sorted(
            self._latest.values(), key=lambda t: t.product_id)]
        ts = max(e.time_ns if isinstance(e, Ticker) else e.end_ns for e in events)
        self._closed_bars, self._latest = [], {}
        return MarketBatch(sender="feed", ts_ns=ts, seq=seq, events=tuple(events),
                           received_ns=now_ns)

    # --- the socket thread -------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._connected = False
            self._ws = websocket.WebSocketApp(
                self.config.url, on_open=self._on_open, on_message=self._on_message,
                on_error=self._on_error)
            self._ws.run_forever(ping_interval=20, ping_timeout=10)
            if self._stop.is_set():
                break
            failures = 0 if self._connected else failures + 1
            ceiling = min(self.config.reconnect_max_s,
                          self.config.reconnect_initial_s * 2 ** min(failures, 30))
            delay = self._rng.uniform(0, ceiling)
            log.warning("feed: disconnected from %s; reconnecting in %.2f s", self.config.url,
                        delay)
            self._stop.wait(delay)

    def _on_open(self, ws: websocket.WebSocket) -> None:
        self._connected = True
        log.info("feed: connected to %s", self.config.url)
        for channel in CHANNELS:
            message = {"type": "subscribe", "channel": channel}
            if channel != "heartbeats":
                message["product_ids"] = list(self.products)
            ws.send(orjson.dumps(message).decode())

    def _on_message(self, ws: websocket.WebSocket, raw: str | bytes) -> None:
        try:
            channel, tickers = parse_frame(raw)
        except ValueError as exc:
            kind = str(exc).split(":")[0]
            self.errors[kind] += 1
            if self.errors[kind] == 1:
                log.warning("feed: skipped a bad frame (%s)", exc)
            return
        if tickers and self._notify is not None:
            self._notify(LiveTicks(tickers))

    def _on_error(self, ws: websocket.WebSocket, error: Exception) -> None:
        log.warning("feed: cannot reach %s: %s", self.config.url, error)
