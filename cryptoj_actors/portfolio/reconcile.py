"""The ledger against the venue's balances (DESIGN.md section 7, live mode).

The venue is the truth about what the account holds. When reconciling, each
traded currency is compared: the quote currency with the ledger's cash, each
product's base currency with its position. A difference is reported always
and applied to the ledger (as a transfer, see
:mod:`cryptoj_actors.portfolio.ledger`) when the balances were read with no
order of ours open, so that it cannot be a fill still on its way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from cryptoj_actors.messages import PortfolioSnapshot, VenueBalances
from cryptoj_actors.money import ZERO
from cryptoj_actors.portfolio.ledger import Ledger, LedgerError


@dataclass(frozen=True, slots=True)
class BalanceDifference:
    """The venue holds ``venue`` of ``currency`` where the ledger says
    ``ledger`` (units of the currency). ``product_id`` is the product whose
    base it is, or ``""`` for the quote currency (cash). ``applied`` says
    whether the ledger was corrected, ``value`` the correction in quote."""

    currency: str
    product_id: str
    ledger: Decimal
    venue: Decimal
    applied: bool = False
    value: Decimal = ZERO
    note: str = ""

    @property
    def difference(self) -> Decimal:
        return self.venue - self.ledger


def balance_differences(snapshot: PortfolioSnapshot, balances: VenueBalances,
                        products: Sequence[str]) -> list[BalanceDifference]:
    """Every traded currency whose venue total differs from the ledger.

    The quote currency is the products' (``BTC-USD`` -> ``USD``); a currency
    the venue does not list holds zero there.
    """
    totals = {b.currency: b.total for b in balances.balances}
    quote = products[0].split("-", 1)[1]
    found = []
    if totals.get(quote, ZERO) != snapshot.cash:
        found.append(BalanceDifference(quote, "", snapshot.cash, totals.get(quote, ZERO)))
    for product_id in products:
        base = product_id.split("-", 1)[0]
        position = snapshot.position(product_id)
        held = position.base_size if position is not None else ZERO
        if totals.get(base, ZERO) != held:
            found.append(BalanceDifference(base, product_id, held, totals.get(base, ZERO)))
    return found


def apply_differences(ledger: Ledger, differences: Sequence[BalanceDifference]
                      ) -> list[BalanceDifference]:
    """Correct the ledger by each difference (a transfer); returns them with
    ``applied`` and ``value`` set, or a ``note`` saying why one could not be
    (no mark price yet, or open orders hold more than would remain)."""
    done = []
    for diff in differences:
        try:
            if diff.product_id:
                value = ledger.transfer_base(diff.product_id, diff.difference)
            else:
                ledger.transfer_cash(diff.difference)
                value = diff.difference
        except LedgerError as exc:
            done.append(replace(diff, note=str(exc)))
            continue
        done.append(replace(diff, applied=True, value=value))
    return done
