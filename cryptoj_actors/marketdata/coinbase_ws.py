"""Live market data from the Coinbase Advanced Trade websocket (public channels).

Connects to ``[feed] url`` (``wss://advanced-trade-ws.coinbase.com``) with
websocket-client, sends one subscribe message per channel (``market_trades``
and ``heartbeats``) as soon as the socket opens (Coinbase closes a connection
that has not subscribed within 5 seconds), and turns ``market_trades`` events
into :class:`~cryptoj_actors.messages.Trade` events. Each market batch holds
the trades since the previous one, plus the bars of ``bar_interval_s`` that
closed meanwhile, cut from those trades on the exchange's clock (with their
real volume), so the strategy sees the same kind of data as in replay.

When the network cannot be reached, or the connection drops, it says so in
one log line and reconnects with exponential backoff and full jitter
(``reconnect_initial_s`` doubling to ``reconnect_max_s``). A frame it cannot
parse is counted, logged once per kind, and skipped.

Message shapes: Coinbase Advanced Trade WebSocket docs, "Channels"
(market_trades: ``events[].trades[]`` with ``product_id``, ``trade_id``,
``price``, ``size``, ``side``, ``time``; envelope ``channel``, ``timestamp``,
``sequence_num``; ``client_id`` may be absent).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson
import websocket

from cryptoj_actors.clock import NS_PER_SECOND, from_datetime
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.messages import Bar, MarketBatch, MarketEvent, Side, Trade
from cryptoj_actors.money import ZERO, to_decimal

log = logging.getLogger(__name__)

CHANNELS = ("market_trades", "heartbeats")


@dataclass(frozen=True, slots=True)
class LiveTrades:
    """Trades parsed from one frame, handed from the socket thread to the feed."""

    trades: tuple[Trade, ...]


def parse_time(text: str) -> int:
    """Coinbase's RFC 3339 time (nanosecond digits allowed) -> ns since the epoch."""
    head, _, frac = text.rstrip("Z").partition(".")
    base = from_datetime(datetime.fromisoformat(head))
    return base + int((frac + "000000000")[:9]) if frac else base


def parse_frame(raw: bytes | str) -> tuple[str, tuple[Trade, ...]]:
    """Parse one frame: its channel and the trades it carries.

    Raises:
        ValueError: ``"<kind>: <detail>"``, kind one of ``not JSON``,
            ``not an object``, ``bad shape``, ``missing field``, ``bad value``.
    """
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(frame, dict):
        raise ValueError("not an object: the frame is not a JSON object")
    channel = str(frame.get("channel", ""))
    if channel != "market_trades":
        return channel, ()
    trades = []
    try:
        raw_trades = [t for event in frame.get("events") or () for t in event.get("trades") or ()]
    except (AttributeError, TypeError):
        raise ValueError("bad shape: events[].trades[] is not a list of objects") from None
    for t in raw_trades:
        try:
            trade = Trade(product_id=str(t["product_id"]), time_ns=parse_time(str(t["time"])),
                          price=to_decimal(t["price"], "price"),
                          size=to_decimal(t["size"], "size"), side=Side(t["side"]),
                          trade_id=str(t["trade_id"]))
        except KeyError as exc:
            raise ValueError(f"missing field: a trade has no {exc.args[0]}") from None
        except (TypeError, AttributeError):
            raise ValueError("bad shape: a trade is not an object") from None
        except ValueError as exc:
            raise ValueError(f"bad value: {exc}") from None
        if trade.price <= 0 or trade.size <= 0:
            raise ValueError(f"bad value: trade {trade.trade_id} has a non-positive "
                             "price or size")
        trades.append(trade)
    return channel, tuple(trades)


class _BarCutter:
    """Cuts one product's trades into OHLCV bars aligned on ``interval_ns``.

    Trades reach it in time order and once each (the source drops repeats).
    """

    def __init__(self, product_id: str, interval_ns: int) -> None:
        self.product_id = product_id
        self.interval_ns = interval_ns
        self.start_ns: int | None = None
        self.prices: list[Decimal] = []
        self.volume = ZERO

    def add(self, trade: Trade) -> Bar | None:
        start = trade.time_ns - trade.time_ns % self.interval_ns
        closed = None
        if self.start_ns is not None and start > self.start_ns and self.prices:
            closed = Bar(product_id=self.product_id, start_ns=self.start_ns,
                         interval_ns=self.interval_ns, open=self.prices[0],
                         high=max(self.prices), low=min(self.prices), close=self.prices[-1],
                         volume=self.volume)
            self.prices, self.volume = [], ZERO
        self.start_ns = start
        self.prices.append(trade.price)
        self.volume += trade.size
        return closed


class CoinbaseTradesSource:
    """A :class:`~cryptoj_actors.marketdata.source.MarketSource` on the live websocket."""

    total_batches = 0
    exhausted = False

    def __init__(self, config: FeedConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.products = config.products
        self.period_ns = int(config.batch_interval_s * NS_PER_SECOND)
        self.errors: Counter[str] = Counter()
        self._telemetry = Telemetry()
        self._rng = rng or random.Random()
        self._notify: Callable[[object], None] | None = None
        self._stop = threading.Event()
        self._ws: websocket.WebSocketApp | None = None
        self._thread: threading.Thread | None = None
        self._connected = False
        self._trades: list[Trade] = []
        self._closed_bars: list[Bar] = []
        # Per product: the newest trade time seen and the ids seen at that
        # time. Every (re)subscription opens with a snapshot of recent trades
        # already delivered; they must not count twice.
        self._newest: dict[str, tuple[int, set[str]]] = {}
        self._last_ts_ns = 0
        interval = config.bar_interval_s * NS_PER_SECOND
        self._cutters = {p: _BarCutter(p, interval) for p in self.products}

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        self._notify = notify
        self._telemetry = telemetry
        self._thread = threading.Thread(target=self._run, name="coinbase-ws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            self._ws.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def absorb(self, message: object) -> None:
        if not isinstance(message, LiveTrades):
            raise TypeError(f"unexpected live input {type(message).__name__}")
        for trade in sorted(message.trades, key=lambda t: t.time_ns):
            cutter = self._cutters.get(trade.product_id)
            if cutter is None or not self._is_new(trade):
                continue
            bar = cutter.add(trade)
            if bar is not None:
                self._closed_bars.append(bar)
            self._trades.append(trade)

    def _is_new(self, trade: Trade) -> bool:
        newest, ids = self._newest.get(trade.product_id, (-1, set()))
        if trade.time_ns < newest or (trade.time_ns == newest and trade.trade_id in ids):
            return False
        if trade.time_ns > newest:
            ids = set()
        ids.add(trade.trade_id)
        self._newest[trade.product_id] = (trade.time_ns, ids)
        return True

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        if not self._trades and not self._closed_bars:
            return None
        events: list[MarketEvent] = [*self._closed_bars, *self._trades]
        # Batch time never goes backwards, even if a product's clock lags.
        ts = max(self._last_ts_ns, *(e.time_ns if isinstance(e, Trade) else e.end_ns
                                     for e in events))
        self._last_ts_ns = ts
        self._closed_bars, self._trades = [], []
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
        received_ns = time.time_ns()
        try:
            channel, trades = parse_frame(raw)
        except ValueError as exc:
            kind = str(exc).split(":")[0]
            self.errors[kind] += 1
            self._telemetry.errors["feed.input"] += 1
            if self.errors[kind] == 1:
                log.warning("feed: skipped a bad frame (%s)", exc)
            return
        self._telemetry.feed_messages[channel or "unknown"] += 1
        if trades:
            self._telemetry.feed_lag.record(
                max(0, received_ns - max(t.time_ns for t in trades)) / NS_PER_SECOND)
        if trades and self._notify is not None:
            self._notify(LiveTrades(trades))

    def _on_error(self, ws: websocket.WebSocket, error: Exception) -> None:
        log.warning("feed: cannot reach %s: %s", self.config.url, error)
