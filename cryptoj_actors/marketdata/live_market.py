"""The state of one live market-data connection, without the socket.

:class:`LiveMarket` takes frames as they arrive (raw text and local receive
time) and keeps what a trading system may rely on:

* **Sequence**: ``sequence_num`` is one counter per connection. A repeated or
  lower number is dropped and counted; a jump means frames were lost: every
  book of the connection becomes invalid and :meth:`on_frame` answers
  ``RESYNC`` (the socket layer resubscribes, which brings fresh snapshots).
  A gap in the ``heartbeats`` counter counts as a gap too.
* **Books** per product from ``l2_data`` (:mod:`cryptoj_actors.marketdata.orderbook`).
* **Staleness**: a product whose last frame is older than ``stale_after_s``,
  or whose book is invalid, is *unreliable*; each market batch names them, and
  risk lets nothing add exposure to them until fresh data comes.
* **Bad input** never stops it: non-JSON, unknown channels, missing fields,
  bad numbers, crossed books are counted per kind, logged once per kind per
  minute, and skipped.

Between two batches trades accumulate, tickers and books are conflated per
product (the latest wins), and bars of ``bar_interval_ns`` are cut from the
trades on the exchange's clock.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.frames import Channel, Frame, FrameCodec, FrameError
from cryptoj_actors.marketdata.orderbook import BookError, OrderBook
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, BookUpdate, MarketEvent, Ticker, Trade
from cryptoj_actors.money import ZERO

log = logging.getLogger(__name__)

LOG_EVERY_NS = 60 * NS_PER_SECOND
#: Trades kept between two batches; past it the oldest half goes (counted as
#: ``trades_conflated``), so that a feed nobody takes batches from (a halt)
#: does not grow without bound.
MAX_PENDING_TRADES = 20_000
#: Characters of a defect's detail a log line shows: a hostile frame must not
#: flood the log.
MAX_DETAIL = 200


class FrameOutcome(enum.Enum):
    """What became of one frame (:meth:`LiveMarket.on_frame`)."""

    OK = "ok"
    DROPPED = "dropped"      # repeated or older sequence number
    INVALID = "invalid"      # malformed: counted and skipped
    RESYNC = "resync"        # frames were lost: resubscribe for fresh snapshots


class _BarCutter:
    """One product's trades into OHLCV bars aligned on ``interval_ns``."""

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
        if self.start_ns is None or start >= self.start_ns:
            self.start_ns = start
            self.prices.append(trade.price)
            self.volume += trade.size
        return closed


class LiveMarket:
    """Market state of one connection's frames.

    Args:
        codec: the venue's frame decoder.
        products: the products subscribed.
        bar_interval_ns: bars cut from trades (ns).
        stale_after_ns: a product with no frame for this long is unreliable.
        book_depth: levels per side in each batch's :class:`BookUpdate`.
    """

    def __init__(self, codec: FrameCodec, products: Iterable[str], bar_interval_ns: int,
                 stale_after_ns: int, book_depth: int = 20,
                 counts: Counter[str] | None = None) -> None:
        self.codec = codec
        self.products = tuple(products)
        self.stale_after_ns = stale_after_ns
        self.book_depth = book_depth
        self.books = {p: OrderBook(p) for p in self.products}
        #: kind -> count: input defects (``not_json``, ``bad_value``...), and
        #: ``gap``, ``sequence_repeat``, ``crossed_book`` (given: a run's
        #: telemetry, :attr:`Telemetry.feed_events`).
        self.counts: Counter[str] = Counter() if counts is None else counts
        self.last_seq: int | None = None
        self.last_heartbeat: int | None = None
        self.last_frame_ns = 0
        self.resets = 0
        self._first_arrival_ns = 0  # the oldest frame with news not yet in a batch (local ns)
        self.last_seen: dict[str, int] = {}
        self._logged: dict[str, int] = {}
        self._cutters = {p: _BarCutter(p, bar_interval_ns) for p in self.products}
        self._trades: list[Trade] = []
        self._bars: list[Bar] = []
        self._tickers: dict[str, Ticker] = {}
        self._changed: set[str] = set()
        self._newest_trade: dict[str, tuple[int, set[str]]] = {}
        self._last_batch_ns = 0

    # --- connection -----------------------------------------------------------------

    def reset_connection(self, reason: str) -> None:
        """A new connection: sequence numbers start again, books wait for
        their snapshots. Counted in ``resets``, which batches carry as
        ``connection``."""
        self.resets += 1
        self.last_seq = None
        self.last_heartbeat = None
        self.last_seen.clear()
        for book in self.books.values():
            book.invalidate(reason)
            self._changed.add(book.product_id)

    # --- frames ---------------------------------------------------------------------

    def on_frame(self, raw: str | bytes, received_ns: int) -> FrameOutcome:
        """Take one frame received at ``received_ns`` (local clock, ns)."""
        try:
            return self._on_frame(raw, received_ns)
        finally:
            # The next batch's arrival is that of the oldest frame that brought
            # it something: a heartbeat alone is no tick to measure from.
            if not self._first_arrival_ns and (
                    self._bars or self._trades or self._tickers or self._changed):
                self._first_arrival_ns = received_ns

    def _on_frame(self, raw: str | bytes, received_ns: int) -> FrameOutcome:
        try:
            frame = self.codec.parse_frame(raw)
        except FrameError as exc:
            return self._bad(exc.kind, str(exc), received_ns)
        except (ValueError, TypeError, ArithmeticError) as exc:
            return self._bad("bad_value", repr(exc), received_ns)
        self.last_frame_ns = received_ns
        if frame.sequence_num is not None:
            last = self.last_seq
            if last is not None and frame.sequence_num <= last:
                self._note("sequence_repeat", f"sequence {frame.sequence_num} after {last}",
                           received_ns)
                return FrameOutcome.DROPPED
            self.last_seq = frame.sequence_num
            if last is not None and frame.sequence_num != last + 1:
                return self._gap(f"sequence jumped from {last} to {frame.sequence_num}",
                                 received_ns)
        try:
            return self._apply(frame, received_ns)
        except FrameError as exc:
            outcome = self._bad(exc.kind, str(exc), received_ns)
        except (ValueError, TypeError, ArithmeticError) as exc:  # a value no check foresaw
            outcome = self._bad("bad_value", repr(exc), received_ns)
        if frame.channel is Channel.BOOK and frame.sequence_num is not None:
            # Its number is spent and its changes are not applied: the books
            # it names no longer match the venue's. (A frame without a number
            # is no venue's frame: junk, skipped.)
            named = self.codec.product_ids(frame)
            books = [b for p, b in self.books.items() if p in named] or list(self.books.values())
            for book in books:
                book.invalidate("a book frame was rejected")
                self._changed.add(book.product_id)
            return FrameOutcome.RESYNC
        return outcome

    def take(self, raw: str | bytes, received_ns: int, telemetry: Telemetry) -> FrameOutcome:
        """:meth:`on_frame`, counted into ``telemetry``: every frame by
        outcome (``frames`` or ``invalid``), bad input as ``feed.input`` errors."""
        outcome = self.on_frame(raw, received_ns)
        invalid = outcome is FrameOutcome.INVALID
        telemetry.feed_messages["invalid" if invalid else "frames"] += 1
        if invalid:
            telemetry.errors["feed.input"] += 1
        return outcome

    def _apply(self, frame: Frame, received_ns: int) -> FrameOutcome:
        channel = frame.channel
        if channel is Channel.BOOK:
            broken = False
            for event in self.codec.book_events(frame):
                book = self.books.get(event.product_id)
                if book is None:
                    continue
                was_valid = book.valid
                try:
                    if event.kind == "snapshot":
                        book.apply_snapshot(event.changes, event.time_ns)
                    elif book.valid:
                        book.apply_update(event.changes, event.time_ns)
                except BookError as exc:
                    self._bad("bad_book", str(exc), received_ns)
                if (was_valid or event.kind == "snapshot") and not book.valid:
                    broken = True  # just now: crossed, or a bad level
                    if book.crossed:
                        self._note("crossed_book", book.invalid_reason, received_ns)
                self._changed.add(event.product_id)
                self.last_seen[event.product_id] = received_ns
            if broken:  # only a fresh snapshot can mend it: resubscribe
                return FrameOutcome.RESYNC
        elif channel is Channel.TRADES:
            for trade in self.codec.trades(frame):
                if trade.product_id in self._cutters and self._is_new(trade):
                    bar = self._cutters[trade.product_id].add(trade)
                    if bar is not None:
                        self._bars.append(bar)
                    if len(self._trades) >= MAX_PENDING_TRADES:
                        # No batch taken for a long while (a halt): keep the
                        # newest trades; the bars already hold the rest.
                        del self._trades[:MAX_PENDING_TRADES // 2]
                        self._note("trades_conflated", f"over {MAX_PENDING_TRADES} trades "
                                   "waiting for a batch", received_ns)
                    self._trades.append(trade)
                    self.last_seen[trade.product_id] = received_ns
        elif channel is Channel.TICKER:
            for ticker in self.codec.tickers(frame):
                if ticker.product_id in self.books:
                    self._tickers[ticker.product_id] = ticker
                    self.last_seen[ticker.product_id] = received_ns
        elif channel is Channel.CANDLES:
            for bar in self.codec.candles(frame):
                if bar.product_id in self.books:
                    self.last_seen[bar.product_id] = received_ns
        elif channel is Channel.HEARTBEATS:
            counter = self.codec.heartbeat_counter(frame)
            last, self.last_heartbeat = self.last_heartbeat, counter
            if last is not None and counter is not None and counter != last + 1:
                return self._gap(f"heartbeat counter jumped from {last} to {counter}",
                                 received_ns)
        return FrameOutcome.OK

    def _gap(self, detail: str, received_ns: int) -> FrameOutcome:
        self._note("gap", detail, received_ns)
        for book in self.books.values():
            book.invalidate(detail)
            self._changed.add(book.product_id)
        return FrameOutcome.RESYNC

    def _bad(self, kind: str, detail: str, received_ns: int) -> FrameOutcome:
        self._note(kind, detail, received_ns)
        return FrameOutcome.INVALID

    def _note(self, kind: str, detail: str, now_ns: int) -> None:
        """Count a kind of trouble; log it at most once a minute, with the count."""
        self.counts[kind] += 1
        if now_ns - self._logged.get(kind, -LOG_EVERY_NS) >= LOG_EVERY_NS:
            self._logged[kind] = now_ns
            shown = detail if len(detail) <= MAX_DETAIL else detail[:MAX_DETAIL] + "..."
            log.warning("feed: %s (%s; %d so far)", shown, kind, self.counts[kind])

    def _is_new(self, trade: Trade) -> bool:
        # A (re)subscription opens with a snapshot of recent trades already seen.
        newest, ids = self._newest_trade.get(trade.product_id, (-1, set()))
        if trade.time_ns < newest or (trade.time_ns == newest and trade.trade_id in ids):
            return False
        if trade.time_ns > newest:
            ids = set()
        ids.add(trade.trade_id)
        self._newest_trade[trade.product_id] = (trade.time_ns, ids)
        return True

    # --- batches --------------------------------------------------------------------

    def unreliable(self, now_ns: int) -> tuple[str, ...]:
        """Products whose book is invalid or whose data is older than
        ``stale_after_ns`` at ``now_ns`` (local clock)."""
        return tuple(p for p in self.products
                     if not self.books[p].valid
                     or now_ns - self.last_seen.get(p, -self.stale_after_ns) > self.stale_after_ns)

    def silent(self) -> tuple[str, ...]:
        """Products that have had no data at all on this connection."""
        return tuple(p for p in self.products if p not in self.last_seen)

    def stale(self, now_ns: int) -> bool:
        """No frame at all for ``stale_after_ns``: the connection is dead."""
        return now_ns - self.last_frame_ns > self.stale_after_ns

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        """Everything new since the last batch, or None if nothing is."""
        events: list[MarketEvent] = [*self._bars, *self._tickers.values()]
        for product_id in sorted(self._changed):
            book = self.books[product_id]
            bids, asks = book.top(self.book_depth) if book.valid else ((), ())
            events.append(BookUpdate(product_id=product_id, time_ns=book.updated_ns,
                                     bids=bids, asks=asks, valid=book.valid))
        events.extend(self._trades)
        if not events:
            return None
        times = [e.end_ns if isinstance(e, Bar) else e.time_ns for e in events]
        ts = max(self._last_batch_ns, *times)  # batch time never goes backwards
        self._last_batch_ns = ts
        self._bars, self._trades, self._tickers, self._changed = [], [], {}, set()
        arrived, self._first_arrival_ns = self._first_arrival_ns or now_ns, 0
        return MarketBatch(sender="feed", ts_ns=ts, seq=seq, events=tuple(events),
                           received_ns=arrived, unreliable=self.unreliable(now_ns),
                           connection=self.resets)
