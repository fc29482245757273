"""Client order ids.

Coinbase deduplicates orders by ``client_order_id``, so a live id must never
repeat: it is a random UUID. A replay id must be the same in every replay of
the same data (DESIGN.md section 9), so it is built from the decision's batch
sequence number and its index within that decision.
"""

from __future__ import annotations

import uuid


class OrderIds:
    """Makes client order ids; ``deterministic`` for replay, random for live."""

    def __init__(self, deterministic: bool, prefix: str = "rp") -> None:
        self.deterministic = deterministic
        self.prefix = prefix

    def new(self, seq: int, index: int) -> str:
        """An id for the ``index``-th order decided after market batch ``seq``."""
        if self.deterministic:
            return f"{self.prefix}-{seq:07d}-{index}"
        return str(uuid.uuid4())
