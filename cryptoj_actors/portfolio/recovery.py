"""Rebuilding the ledger from the journal (DESIGN.md section 7).

The journal holds every fill of a run, in the order the executor recorded
it (always before the portfolio heard of it), and every order with its last
known status. Booking the fills again, in order, into a ledger that starts
with the run's cash gives the ledger as it stood when the journal was last
written; re-reserving the orders that had not ended gives back what they held.
No mark is journaled: positions carry their last fill price until the next
market data marks them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.portfolio.ledger import Ledger


def rebuild_ledger(journal: Journal, starting_cash: Decimal,
                   max_position_fraction: Decimal | None = None) -> Ledger:
    """The ledger of ``journal``'s run (``max_position_fraction`` as in
    :class:`Ledger`).

    Raises:
        LedgerError: the journal's fills cannot be booked (a sell beyond the
            position: the journal is damaged), or an open order cannot be
            reserved.
    """
    ledger = Ledger(starting_cash, max_position_fraction)
    open_orders = journal.open_orders()
    still_open = {o.client_order_id for o in open_orders}
    fills = journal.fills()
    for fill in fills:  # orders that have ended: their reservations are gone
        if fill.client_order_id not in still_open:
            ledger.apply_fill(fill, historical=True)
    for order in open_orders:  # what is still open holds its share again ...
        ledger.reserve(order)
    for fill in fills:  # ... less what it has already filled
        if fill.client_order_id in still_open:
            ledger.apply_fill(replace(fill, final=False))
    return ledger


def journal_summary(journal: Journal, starting_cash: Decimal) -> str:
    """The ledger as ``journal`` left it, in one line: fills, cash, positions.

    Raises:
        LedgerError: as :func:`rebuild_ledger`.
    """
    count = len(journal.fills())
    ledger = rebuild_ledger(journal, starting_cash)
    held = ", ".join(f"{p.base_size} {p.product_id}" for p in
                     ledger.snapshot(sender="journal", ts_ns=0, seq=0).positions if p.base_size)
    return (f"the journal holds {count} fills: cash {ledger.cash:.2f}"
            + (f", holding {held}" if held else ", flat"))
