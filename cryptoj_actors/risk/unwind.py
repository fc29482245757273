"""Gradual unwinding (DESIGN.md section 6): close every position, largest risk
first, in slices, each through the normal order path as a reduce-only order.

Plain and synchronous; the risk policy asks it for the next slice on every
market batch while an unwind is active. Risk is measured as the marked
notional (quote): the biggest position is the one a further move hurts most.
A slice is ``slice_fraction`` of the position's size when the unwind began;
when a position's slices fail to fill ``max_attempts`` times in a row (no
liquidity in the data), the rest goes in one market order (the fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cryptoj_actors.messages import PortfolioSnapshot
from cryptoj_actors.model import PositionView


@dataclass(frozen=True, slots=True)
class Slice:
    """Sell ``base_size`` of ``product_id``; ``fallback`` when it is the whole rest."""

    product_id: str
    base_size: Decimal
    fallback: bool


class Unwinder:
    """Plans the slices of one unwind.

    Args:
        slice_fraction: a slice's share of the position size at the start (0 to 1].
        max_attempts: unfilled slices in a row before the market-exit fallback.
    """

    def __init__(self, slice_fraction: Decimal, max_attempts: int) -> None:
        self.slice_fraction = slice_fraction
        self.max_attempts = max_attempts
        self.reason = ""
        self._initial: dict[str, Decimal] = {}
        self._failures: dict[str, int] = {}
        self._pending: tuple[str, Decimal] | None = None  # product, size before the slice

    @property
    def active(self) -> bool:
        return bool(self.reason)

    def start(self, reason: str, snapshot: PortfolioSnapshot) -> None:
        """Begin (or widen) an unwind of every position in ``snapshot``."""
        self.reason = self.reason or reason
        for pos in snapshot.positions:
            if pos.base_size > 0:
                self._initial.setdefault(pos.product_id, pos.base_size)

    def stop(self) -> None:
        self.reason = ""
        self._initial.clear()
        self._failures.clear()
        self._pending = None

    def next_slice(self, snapshot: PortfolioSnapshot, busy: set[str]) -> Slice | None:
        """The next slice to sell, or None when nothing can be sold now.

        ``busy`` holds products already given an exit on this batch. A
        position with a sell still open waits for it.
        """
        if not self.active:
            return None
        positions = {p.product_id: p for p in snapshot.positions}
        self._settle_pending(positions)
        for product_id in self._by_risk(positions):
            pos = positions[product_id]
            if product_id in busy or pos.reserved_base > 0:
                continue
            free = pos.base_size
            fallback = self._failures.get(product_id, 0) >= self.max_attempts
            size = free if fallback else min(free, self._initial[product_id] * self.slice_fraction)
            self._pending = (product_id, pos.base_size)
            return Slice(product_id, size, fallback or size == free)
        return None

    def _settle_pending(self, positions: dict[str, PositionView]) -> None:
        if self._pending is None:
            return
        product_id, size_before = self._pending
        pos = positions.get(product_id)
        if pos is not None and pos.reserved_base > 0:
            return  # still open
        self._pending = None
        if pos is not None and pos.base_size >= size_before:
            self._failures[product_id] = self._failures.get(product_id, 0) + 1
        else:
            self._failures[product_id] = 0

    def _by_risk(self, positions: dict[str, PositionView]) -> list[str]:
        """Products still held, largest marked notional first (ties: by id)."""
        for product_id, pos in positions.items():
            if pos.base_size > 0:
                self._initial.setdefault(product_id, pos.base_size)
        held = [p for p in self._initial if p in positions and positions[p].base_size > 0]
        return sorted(held, key=lambda p: (-positions[p].notional, p))
