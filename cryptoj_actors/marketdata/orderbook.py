"""A level2 order book per product, built from Coinbase ``l2_data`` events.

Coinbase Advanced Trade, channel ``level2`` (it arrives as ``l2_data``): a
``snapshot`` event carries the book, ``update`` events carry changes. Each
change gives a ``side`` (``bid`` or ``offer``), a ``price_level`` and a
``new_quantity``, the ABSOLUTE size now resting at that price; ``"0"``
removes the level. A change to a level the book does not hold is applied as
given (the snapshot may have been cut: recordings keep the best 150 levels),
and removing a level it does not hold does nothing.

A book is ``valid`` from a snapshot until it is invalidated (a sequence gap
on its connection, a reconnect) or found crossed; an invalid book is not a
source of prices until the next snapshot.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import islice

from sortedcontainers import SortedDict

from cryptoj_actors.money import ZERO

Level = tuple[Decimal, Decimal]  # price (quote per base), size (base units)


class BookError(ValueError):
    """A change that cannot be applied (a side that is neither bid nor offer,
    a negative size or a non-positive price)."""


class OrderBook:
    """Bids and asks of one product (price -> size, Decimal), kept sorted
    (a live BTC-USD snapshot holds over 20,000 bid levels: the best price is
    looked up, never searched for)."""

    def __init__(self, product_id: str) -> None:
        self.product_id = product_id
        self.bids: SortedDict[Decimal, Decimal] = SortedDict()
        self.asks: SortedDict[Decimal, Decimal] = SortedDict()
        self.valid = False
        self.invalid_reason = "no snapshot yet"
        self.updated_ns = 0

    def apply_snapshot(self, changes: list[tuple[str, Decimal, Decimal]], time_ns: int) -> None:
        """Replace the book with ``changes`` (side, price, size) and validate it.

        Raises:
            BookError: a change is malformed (the book is then invalid).
        """
        self.bids.clear()
        self.asks.clear()
        self.valid = True
        self.invalid_reason = ""
        self.apply_update(changes, time_ns)

    def apply_update(self, changes: list[tuple[str, Decimal, Decimal]], time_ns: int) -> None:
        """Set each (side, price, size); size 0 removes the level.

        Raises:
            BookError: a change is malformed; nothing of ``changes`` is applied
                after it and the book is invalid until the next snapshot.
        """
        for side, price, size in changes:
            if side == "bid":
                levels = self.bids
            elif side == "offer":
                levels = self.asks
            else:
                self.invalidate(f"unknown side {side!r}")
                raise BookError(f"{self.product_id}: unknown side {side!r}")
            if price <= 0 or size < 0:
                self.invalidate(f"bad level {price} x {size}")
                raise BookError(f"{self.product_id}: bad level {price} x {size}")
            if size == 0:
                levels.pop(price, None)
            elif price in levels:
                # A level that stays: its sorted place is unchanged, so the
                # plain dict's store does (SortedDict's own re-checks the key).
                dict.__setitem__(levels, price, size)
            else:
                levels[price] = size
        self.updated_ns = max(self.updated_ns, time_ns)
        if self.valid and self.crossed:
            self.invalidate(f"crossed: best bid {self.best_bid} >= best ask {self.best_ask}")

    def invalidate(self, reason: str) -> None:
        self.valid = False
        self.invalid_reason = reason

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks.peekitem(0)[0] if self.asks else None

    @property
    def crossed(self) -> bool:
        bid, ask = self.best_bid, self.best_ask
        return bid is not None and ask is not None and bid >= ask

    @property
    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        return None if bid is None or ask is None else (bid + ask) / 2

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best ``depth`` levels of each side: bids high to low, asks low to high."""
        # Iterating the sorted keys costs a fifth of indexing them one by one
        # (peekitem): this runs for every changed book of every live batch.
        bids, asks = self.bids, self.asks
        return (tuple((price, bids[price]) for price in islice(reversed(bids), depth)),
                tuple((price, asks[price]) for price in islice(asks, depth)))

    def depth(self) -> tuple[Decimal, Decimal]:
        """Total resting size (base units) on the bid and the ask side."""
        return sum(self.bids.values(), ZERO), sum(self.asks.values(), ZERO)
