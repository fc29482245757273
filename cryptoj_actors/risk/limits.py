"""Limit arithmetic shared by risk (which checks early, on a snapshot) and the
portfolio (which checks again when it reserves, serialized by its mailbox).

Both must use the same rule, or an order risk approved could be refused by the
portfolio for a reason risk never saw, or worse, the other way round.
"""

from __future__ import annotations

from decimal import Decimal


def position_limit_exceeded(
    *, position_notional: Decimal, open_buy_quote: Decimal, order_quote: Decimal,
    equity: Decimal, max_fraction: Decimal,
) -> bool:
    """Whether a buy of ``order_quote`` would take the product past its limit.

    The committed exposure counts the marked position, every open buy order's
    reserved quote and the new order (all in quote currency); the limit is
    ``max_fraction`` of equity (DESIGN.md: position size at most 10 % of equity
    per product, including open orders). With no positive equity every buy
    exceeds it.
    """
    if equity <= 0:
        return True
    return position_notional + open_buy_quote + order_quote > max_fraction * equity
