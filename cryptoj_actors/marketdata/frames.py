"""A venue's market-data frames, as the live market state reads them.

:class:`~cryptoj_actors.marketdata.live_market.LiveMarket` keeps books,
sequence numbers and staleness for any venue; what a venue's frames look
like is its adapter's business (Coinbase:
:mod:`cryptoj_actors.adapters.coinbase.advanced_trade`). The adapter hands
the market a :class:`FrameCodec`: it decodes the envelope of a frame into a
:class:`Frame` first (so that a sequence number is checked before anything
else), and the channel's content only when the market applies it.

Malformed input raises :class:`FrameError` with a ``kind`` to count it by.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from cryptoj_actors.model import Bar, Ticker, Trade


class Channel(enum.Enum):
    """What a frame carries, whatever the venue calls it."""

    BOOK = "book"              # level2 snapshots and updates
    TRADES = "trades"
    TICKER = "ticker"
    CANDLES = "candles"
    HEARTBEATS = "heartbeats"
    OTHER = "other"            # acknowledgements, product status: nothing to apply


class FrameError(ValueError):
    """A frame that cannot be used; ``kind`` names the defect for counting:
    ``not_json``, ``not_object``, ``missing_field``, ``bad_value``,
    ``bad_shape``, ``unknown_channel``, ``error`` (the venue's own)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame's envelope: ``sequence_num`` is the connection's counter (None
    when the frame has none), ``timestamp_ns`` the venue's time (0 when
    absent), ``events`` the venue's event objects, decoded by the codec."""

    channel: Channel
    sequence_num: int | None
    timestamp_ns: int
    events: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class BookEvent:
    """One book event: a ``snapshot`` or an ``update`` of a product's book;
    ``changes`` are (side ``bid``/``offer``, price in quote per base, new
    absolute size in base units)."""

    kind: str
    product_id: str
    changes: list[tuple[str, Decimal, Decimal]]
    time_ns: int


class FrameCodec(Protocol):
    """A venue's decoder of market-data frames. Every method raises
    :class:`FrameError` (or ``ValueError`` / ``ArithmeticError`` for a value
    no check foresaw) on malformed input."""

    def parse_frame(self, raw: bytes | str) -> Frame:
        """The envelope of one frame."""

    def product_ids(self, frame: Frame) -> set[str]:
        """The products a frame's events name (never raises)."""

    def book_events(self, frame: Frame) -> list[BookEvent]: ...

    def trades(self, frame: Frame) -> list[Trade]:
        """Oldest first."""

    def tickers(self, frame: Frame) -> list[Ticker]: ...

    def candles(self, frame: Frame) -> list[Bar]: ...

    def heartbeat_counter(self, frame: Frame) -> int | None: ...
