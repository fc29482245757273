"""Parsing Coinbase Advanced Trade websocket frames (market data channels).

Source: Coinbase Advanced Trade WebSocket docs, "Channels" and "WebSocket
overview". Every frame is a JSON object with ``channel``, ``timestamp``
(RFC 3339, nanosecond digits), ``sequence_num`` (one counter per connection,
across all channels) and ``events``; ``client_id`` may be absent (recorded
production frames have none). Channels and what they carry:

* ``l2_data`` (subscribed as ``level2``): ``events[].type`` ``snapshot`` or
  ``update``, ``product_id``, ``updates[]`` with ``side`` (``bid``/``offer``),
  ``price_level``, ``new_quantity`` (absolute), ``event_time``;
* ``market_trades``: ``events[].trades[]`` with ``trade_id``, ``product_id``,
  ``price``, ``size``, ``side``, ``time``;
* ``ticker``: ``events[].tickers[]`` with ``product_id``, ``price``,
  ``best_bid``, ``best_ask``;
* ``candles``: ``events[].candles[]`` with ``start`` (Unix seconds),
  ``open``, ``high``, ``low``, ``close``, ``volume``, ``product_id``
  (five-minute candles);
* ``heartbeats``: ``events[].heartbeat_counter`` (+1 per second);
* ``subscriptions`` and ``status``: acknowledgements and product status.

The module is the :class:`~cryptoj_actors.marketdata.frames.FrameCodec` the
live market state is given. Malformed input raises
:class:`~cryptoj_actors.marketdata.frames.FrameError` with a ``kind`` to count
it by.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import orjson

from cryptoj_actors.clock import NS_PER_SECOND, parse_rfc3339
from cryptoj_actors.marketdata.frames import BookEvent, Channel, Frame, FrameError
from cryptoj_actors.model import Bar, Side, Ticker, Trade
from cryptoj_actors.money import to_decimal

#: Advanced Trade's channel names, as frames carry them, and what each carries.
CHANNELS = {"l2_data": Channel.BOOK, "market_trades": Channel.TRADES, "ticker": Channel.TICKER,
            "candles": Channel.CANDLES, "heartbeats": Channel.HEARTBEATS,
            "subscriptions": Channel.OTHER, "status": Channel.OTHER}
CANDLE_NS = 300 * NS_PER_SECOND


def parse_time(text: str) -> int:
    """RFC 3339 time with up to nanosecond digits -> ns since the epoch
    (:func:`cryptoj_actors.clock.parse_rfc3339`).

    Raises:
        FrameError: not such a time.
    """
    try:
        return parse_rfc3339(text)
    except ValueError as exc:
        raise FrameError("bad_value", str(exc)) from None


def parse_frame(raw: bytes | str) -> Frame:
    """The envelope of one frame.

    Raises:
        FrameError: not JSON, not an object, a missing or malformed envelope
            field, or a channel this client does not know.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError("not_json", str(exc)) from None
    if not isinstance(data, dict):
        raise FrameError("not_object", "the frame is not a JSON object")
    channel = data.get("channel")
    if not isinstance(channel, str) or channel not in CHANNELS:
        if data.get("type") == "error":
            raise FrameError("error", str(data.get("message", data)))
        raise FrameError("unknown_channel", f"channel {channel!r}")
    seq = data.get("sequence_num")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
        raise FrameError("bad_value", f"sequence_num {seq!r}")
    events = data.get("events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise FrameError("bad_shape", "events is not a list of objects")
    stamp = data.get("timestamp")
    return Frame(channel=CHANNELS[channel], sequence_num=seq,
                 timestamp_ns=parse_time(stamp) if isinstance(stamp, str) else 0,
                 events=events)


def _items(event: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = event.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FrameError("bad_shape", f"{key} is not a list of objects")
    return items


def _field(item: dict[str, Any], key: str) -> Any:
    try:
        return item[key]
    except KeyError:
        raise FrameError("missing_field", f"no {key}") from None


def _text(item: dict[str, Any], key: str) -> str:
    """A field that must be a string (a product id, a side, a time, an id)."""
    value = _field(item, key)
    if not isinstance(value, str):
        raise FrameError("bad_value", f"{key} must be a string, not {type(value).__name__}")
    return value


def _decimal(item: dict[str, Any], key: str) -> Decimal:
    return _number(_field(item, key), key)


def _number(value: object, key: str) -> Decimal:
    try:
        return to_decimal(value, key)
    except ValueError as exc:
        raise FrameError("bad_value", str(exc)) from None


@functools.lru_cache(maxsize=1 << 16)
def _level_text(text: str) -> Decimal:
    return to_decimal(text)


def _level_number(value: object, key: str) -> Decimal:
    """:func:`_number` for a level2 price or size. A book's updates come back
    to the same prices and sizes again and again, and a cached text costs a
    fraction of parsing it; the cache is bounded (least recently used)."""
    if type(value) is str:
        try:
            return _level_text(value)
        except ValueError:
            pass  # refused below, naming the field
    return _number(value, key)


def product_ids(frame: Frame) -> set[str]:
    """The products an event of ``frame`` names at its top level."""
    return {p for e in frame.events if isinstance(p := e.get("product_id"), str)}


def book_events(frame: Frame) -> list[BookEvent]:
    """The book events of an ``l2_data`` frame.

    Raises:
        FrameError: a malformed event or change (a non-numeric or negative
            size, a non-positive price, an unknown side).
    """
    out = []
    for event in frame.events:
        kind = event.get("type")
        if kind not in ("snapshot", "update"):
            raise FrameError("bad_value", f"l2_data event type {kind!r}")
        product_id = _text(event, "product_id")
        changes = []
        newest = frame.timestamp_ns
        # The live feed's hottest loop (tens of changes a frame): the fields
        # are read directly, and looked at one by one only when one is bad.
        for u in _items(event, "updates"):
            try:
                side, price, size = u["side"], u["price_level"], u["new_quantity"]
            except KeyError as exc:
                raise FrameError("missing_field", f"no {exc.args[0]}") from None
            if side != "bid" and side != "offer":
                raise FrameError("bad_value", f"side {side!r}")
            price, size = _level_number(price, "price_level"), _level_number(size, "new_quantity")
            if price <= 0 or size < 0:
                raise FrameError("bad_value", f"level {price} x {size}")
            changes.append((side, price, size))
        out.append(BookEvent(kind, product_id, changes, newest))
    return out


def trades(frame: Frame) -> list[Trade]:
    """The trades of a ``market_trades`` frame, oldest first."""
    out = []
    for event in frame.events:
        for t in _items(event, "trades"):
            price, size = _decimal(t, "price"), _decimal(t, "size")
            if price <= 0 or size <= 0:
                raise FrameError("bad_value", f"trade {t.get('trade_id')} {price} x {size}")
            try:
                side = Side(_text(t, "side"))
            except ValueError:
                raise FrameError("bad_value", f"trade side {t.get('side')!r}") from None
            out.append(Trade(product_id=_text(t, "product_id"),
                             time_ns=parse_time(_text(t, "time")), price=price, size=size,
                             side=side, trade_id=_trade_id(t)))
    out.sort(key=lambda t: t.time_ns)
    return out


def tickers(frame: Frame) -> list[Ticker]:
    """The tickers of a ``ticker`` frame (stamped with the frame's time)."""
    out = []
    for event in frame.events:
        for t in _items(event, "tickers"):
            price, bid, ask = _decimal(t, "price"), _decimal(t, "best_bid"), _decimal(t, "best_ask")
            if min(price, bid, ask) <= 0:
                raise FrameError("bad_value", f"ticker {t.get('product_id')} non-positive price")
            out.append(Ticker(product_id=_text(t, "product_id"), time_ns=frame.timestamp_ns,
                              price=price, best_bid=bid, best_ask=ask))
    return out


def candles(frame: Frame) -> list[Bar]:
    """The five-minute candles of a ``candles`` frame, as bars."""
    out = []
    for event in frame.events:
        for c in _items(event, "candles"):
            try:
                start = _whole(_field(c, "start")) * NS_PER_SECOND
            except (TypeError, ValueError, OverflowError):
                raise FrameError("bad_value", f"candle start {c.get('start')!r}") from None
            o, h, lo, cl = (_decimal(c, k) for k in ("open", "high", "low", "close"))
            volume = _decimal(c, "volume")
            if min(o, h, lo, cl) <= 0 or volume < 0 or h < max(o, cl) or lo > min(o, cl):
                raise FrameError("bad_value", f"candle {c.get('product_id')} at {start}")
            out.append(Bar(product_id=_text(c, "product_id"), start_ns=start,
                           interval_ns=CANDLE_NS, open=o, high=h, low=lo, close=cl,
                           volume=volume))
    return out


def _trade_id(item: dict[str, Any]) -> str:
    value = _field(item, "trade_id")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FrameError("bad_value", f"trade_id must be a string, not {type(value).__name__}")
    return str(value)


def _whole(value: object) -> int:
    """Unix seconds as Coinbase writes them: a decimal string or an integer."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"not a whole number: {type(value).__name__}")
    return int(value)


def heartbeat_counter(frame: Frame) -> int | None:
    """The ``heartbeat_counter`` of a ``heartbeats`` frame."""
    for event in frame.events:
        counter = event.get("heartbeat_counter")
        if isinstance(counter, int) and not isinstance(counter, bool):
            return counter
        raise FrameError("bad_value", f"heartbeat_counter {counter!r}")
    return None
