"""The ledger: cash, positions, reservations, PnL and equity, exact in Decimal.

Only the portfolio actor owns a :class:`Ledger`, so its methods need no locks:
the actor's mailbox serializes every change (DESIGN.md section 2).

Accounting rules (average-cost method):

* A position keeps its ``cost_basis``: the quote paid for what it holds,
  fees excluded. ``avg_entry_price = cost_basis / base_size``.
* A buy adds ``size * price`` to the cost basis; cash falls by that plus the fee.
* A sell releases ``cost_basis * sold / held`` (rounded once to the ledger
  quantum; the whole basis when the position closes); ``realized_pnl`` is the
  proceeds less that released basis; cash rises by the proceeds less the fee.
* Transfers are what moved outside trading (deposits, withdrawals, or a
  difference the venue's balances showed when reconciling), valued in quote
  at the time: cash at face value, base units at the mark. Base moved in
  joins the cost basis at the mark; base moved out releases its share of the
  basis and realizes the difference, as a sale at the mark without a fee.
* Fees are kept apart from PnL, so these identities hold exactly, always:
  ``equity = cash + sum(size * mark)`` and
  ``starting_cash + transfers + realized - fees + unrealized = equity``.

Reservations make two orders in flight unable to spend the same cash or the
same base: a buy holds its ``quote_size`` (fee included), a sell its
``base_size``, until the order ends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import ParamSpec, TypeVar

from cryptoj_actors.messages import Fill, PortfolioSnapshot
from cryptoj_actors.model import DenyReason, Order, PositionView, Side
from cryptoj_actors.money import LEDGER_CONTEXT, ZERO, round_quote
from cryptoj_actors.risk.limits import position_limit_exceeded

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def _exact(method: Callable[P, R]) -> Callable[P, R]:
    """Run ``method`` in the 60-digit ledger context, so sums never round."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(LEDGER_CONTEXT):
            return method(*args, **kwargs)

    return wrapper


class LedgerError(Exception):
    """The ledger was asked to do something that would make it wrong."""


class ReservationError(LedgerError):
    """An order cannot be reserved; ``reason_code`` is the denial code's value
    (a :class:`~cryptoj_actors.model.DenyReason`)."""

    def __init__(self, reason: DenyReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason_code = reason.value
        self.detail = detail


@dataclass(slots=True)
class _Position:
    base_size: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    mark_price: Decimal = ZERO
    reserved_base: Decimal = ZERO
    reserved_quote: Decimal = ZERO


@dataclass(slots=True)
class _Reservation:
    product_id: str
    side: Side
    quote: Decimal  # held for a buy, quote currency
    base: Decimal   # held for a sell, base units


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order the ledger holds funds for: ``held_quote`` (a buy, quote
    currency) or ``held_base`` (a sell, base units), what is left of it."""

    client_order_id: str
    product_id: str
    side: Side
    held_quote: Decimal
    held_base: Decimal


@dataclass(frozen=True, slots=True)
class FillResult:
    """What a fill did: the PnL it realized (before fee) and any surprise."""

    realized_pnl: Decimal
    unexpected: str = ""


class Ledger:
    """Cash (quote currency), positions (base units) and open-order reservations.

    Args:
        starting_cash: opening cash, quote currency, positive.
        max_position_fraction: if given, :meth:`reserve` refuses a buy that
            would take a product's committed exposure past this fraction of
            equity (the same rule as risk; see :mod:`cryptoj_actors.risk.limits`).
    """

    def __init__(self, starting_cash: Decimal, max_position_fraction: Decimal | None = None):
        if starting_cash <= 0:
            raise ValueError(f"starting cash must be positive, got {starting_cash}")
        self.starting_cash = starting_cash
        self.cash = starting_cash
        self.fees = ZERO
        self.transfers = ZERO
        self.realized_pnl = ZERO
        self.version = 0
        self._max_fraction = max_position_fraction
        self._positions: dict[str, _Position] = {}
        self._reservations: dict[str, _Reservation] = {}
        self._reserved_quote = ZERO

    # --- market ---------------------------------------------------------------

    def mark(self, product_id: str, price: Decimal) -> None:
        """Set the mark price (quote per base) used for equity and unrealized PnL."""
        if price <= 0:
            raise LedgerError(f"mark price of {product_id} must be positive, got {price}")
        self._position(product_id).mark_price = price
        self.version += 1

    # --- orders ---------------------------------------------------------------

    @_exact
    def reserve(self, order: Order) -> None:
        """Hold what ``order`` may spend until :meth:`release`.

        Raises:
            ReservationError: ``INSUFFICIENT_FUNDS`` (a buy's quote size exceeds
                available cash), ``INSUFFICIENT_POSITION`` (a sell's base size
                exceeds the unreserved position), ``POSITION_LIMIT`` (a buy
                would break the per-product limit counting open orders), or
                ``DUPLICATE_ORDER`` (the client order id is already reserved).
        """
        coid = order.client_order_id
        if coid in self._reservations:
            raise ReservationError(DenyReason.DUPLICATE_ORDER, f"{coid} is already open")
        pos = self._positions.get(order.product_id) or _Position()
        if order.side is Side.BUY:
            quote = order.quote_size
            if quote is None or quote <= 0:
                raise ReservationError(DenyReason.INVALID_ORDER,
                                       f"{coid}: a buy needs a positive quote size")
            available = self.cash - self._reserved_quote
            if quote > available:
                raise ReservationError(DenyReason.INSUFFICIENT_FUNDS,
                                       f"{coid}: buy of {quote} exceeds available cash {available}")
            if self._max_fraction is not None and not order.reduce_only and position_limit_exceeded(
                position_notional=pos.base_size * pos.mark_price, open_buy_quote=pos.reserved_quote,
                order_quote=quote, equity=self.equity(), max_fraction=self._max_fraction,
            ):
                raise ReservationError(
                    DenyReason.POSITION_LIMIT,
                    f"{coid}: {order.product_id} would exceed {self._max_fraction} of equity")
            pos = self._position(order.product_id)
            self._reservations[coid] = _Reservation(order.product_id, Side.BUY, quote, ZERO)
            pos.reserved_quote += quote
            self._reserved_quote += quote
        else:
            base = order.base_size
            if base is None or base <= 0:
                raise ReservationError(DenyReason.INVALID_ORDER,
                                       f"{coid}: a sell needs a positive base size")
            free = pos.base_size - pos.reserved_base
            if base > free:
                raise ReservationError(
                    DenyReason.INSUFFICIENT_POSITION,
                    f"{coid}: sell of {base} {order.product_id} exceeds the free position {free}")
            pos = self._position(order.product_id)
            self._reservations[coid] = _Reservation(order.product_id, Side.SELL, ZERO, base)
            pos.reserved_base += base
        self.version += 1

    @_exact
    def release(self, client_order_id: str) -> bool:
        """Free what an ended order still holds; False if nothing was held."""
        res = self._reservations.pop(client_order_id, None)
        if res is None:
            return False
        pos = self._position(res.product_id)
        pos.reserved_quote -= res.quote
        pos.reserved_base -= res.base
        self._reserved_quote -= res.quote
        self.version += 1
        return True

    def open_orders(self) -> tuple[OpenOrder, ...]:
        """The orders holding a reservation, in the order they were reserved."""
        return tuple(OpenOrder(coid, r.product_id, r.side, r.quote, r.base)
                     for coid, r in self._reservations.items())

    def is_open(self, client_order_id: str) -> bool:
        return client_order_id in self._reservations

    # --- fills ----------------------------------------------------------------

    @_exact
    def apply_fill(self, fill: Fill, *, historical: bool = False) -> FillResult:
        """Book an execution. A fill is a fact: it is booked even when it does
        not match a reservation (reported in ``FillResult.unexpected``).
        ``historical`` fills (rebuilding from the journal) belong to orders
        that have ended: their missing reservation is expected, not reported.

        Raises:
            LedgerError: a sell larger than the position (spot cannot go short:
                the ledger and the venue disagree), or a non-positive size or
                price, or a negative fee.
        """
        if fill.base_size <= 0 or fill.price <= 0 or fill.fee < 0:
            raise LedgerError(f"fill {fill.fill_id}: size and price must be positive, fee >= 0")
        pos = self._position(fill.product_id)
        notional = fill.base_size * fill.price
        res = self._reservations.get(fill.client_order_id)
        unexpected = "" if res is not None or historical else \
            f"fill for unknown order {fill.client_order_id}"
        if res is not None and (res.product_id, res.side) != (fill.product_id, fill.side):
            unexpected = (f"fill {fill.side.value} {fill.product_id} does not match its order "
                          f"({res.side.value} {res.product_id}); booked without the reservation")
            res = None
        realized = ZERO
        if fill.side is Side.BUY:
            cost = notional + fill.fee
            self.cash -= cost
            pos.base_size += fill.base_size
            pos.cost_basis += notional
            if res is not None:
                used = min(cost, res.quote)
                if cost > res.quote:
                    unexpected = f"fill cost {cost} exceeds the reserved {res.quote}"
                res.quote -= used
                pos.reserved_quote -= used
                self._reserved_quote -= used
        else:
            if fill.base_size > pos.base_size:
                raise LedgerError(
                    f"fill {fill.fill_id}: sells {fill.base_size} {fill.product_id}, "
                    f"position is {pos.base_size}")
            if fill.base_size == pos.base_size:
                released = pos.cost_basis
            else:  # rounding must never release more than the basis holds
                released = min(pos.cost_basis,
                               round_quote(pos.cost_basis * fill.base_size / pos.base_size))
            realized = notional - released
            self.cash += notional - fill.fee
            pos.base_size -= fill.base_size
            pos.cost_basis -= released
            pos.realized_pnl += realized
            self.realized_pnl += realized
            if res is not None:
                used = min(fill.base_size, res.base)
                if fill.base_size > res.base:
                    unexpected = f"fill size {fill.base_size} exceeds the reserved {res.base}"
                res.base -= used
                pos.reserved_base -= used
        self.fees += fill.fee
        if pos.mark_price == 0:
            pos.mark_price = fill.price
        if fill.final and res is not None:
            self.release(fill.client_order_id)
        self.version += 1
        if unexpected:
            log.warning("ledger: %s (fill %s booked)", unexpected, fill.fill_id)
        return FillResult(realized, unexpected)

    # --- transfers --------------------------------------------------------------

    @_exact
    def transfer_cash(self, amount: Decimal) -> None:
        """Book ``amount`` of quote currency moved in (positive) or out.

        Raises:
            LedgerError: it would take cash below what open buy orders hold.
        """
        if self.cash + amount < self._reserved_quote:
            raise LedgerError(f"a cash transfer of {amount} leaves less than the "
                              f"{self._reserved_quote} open orders hold")
        self.cash += amount
        self.transfers += amount
        self.version += 1

    @_exact
    def transfer_base(self, product_id: str, amount: Decimal) -> Decimal:
        """Book ``amount`` base units of ``product_id`` moved in (positive) or
        out, valued at the mark; returns that value (quote).

        Raises:
            LedgerError: the product has no mark yet, or the transfer would
                take the position below zero or below what sell orders hold.
        """
        pos = self._position(product_id)
        if pos.mark_price <= 0:
            raise LedgerError(f"{product_id}: no mark price to value a transfer at")
        if pos.base_size + amount < pos.reserved_base:
            raise LedgerError(f"{product_id}: a transfer of {amount} leaves less than the "
                              f"{pos.reserved_base} open orders hold")
        value = amount * pos.mark_price
        if amount >= 0:
            pos.cost_basis += value
        else:
            released = pos.cost_basis if -amount == pos.base_size else min(
                pos.cost_basis, round_quote(pos.cost_basis * -amount / pos.base_size))
            pos.cost_basis -= released
            realized = -value - released
            pos.realized_pnl += realized
            self.realized_pnl += realized
        pos.base_size += amount
        self.transfers += value
        self.version += 1
        return value

    # --- valuation --------------------------------------------------------------

    @_exact
    def equity(self) -> Decimal:
        """Cash plus every position at its mark, quote currency."""
        return self.cash + sum((p.base_size * p.mark_price for p in self._positions.values()),
                               ZERO)

    @_exact
    def unrealized_pnl(self) -> Decimal:
        return sum((p.base_size * p.mark_price - p.cost_basis for p in self._positions.values()),
                   ZERO)

    @property
    @_exact
    def available_cash(self) -> Decimal:
        return self.cash - self._reserved_quote

    @_exact
    def snapshot(self, *, sender: str, ts_ns: int, seq: int) -> PortfolioSnapshot:
        """An immutable view of the ledger, positions sorted by product id."""
        views = []
        marked = unrealized = ZERO
        for product_id in sorted(self._positions):
            p = self._positions[product_id]
            notional = p.base_size * p.mark_price
            marked += notional
            unrealized += notional - p.cost_basis
            views.append(PositionView(
                product_id=product_id, base_size=p.base_size, cost_basis=p.cost_basis,
                mark_price=p.mark_price, realized_pnl=p.realized_pnl,
                reserved_base=p.reserved_base, reserved_quote=p.reserved_quote))
        return PortfolioSnapshot(
            sender=sender, ts_ns=ts_ns, version=self.version, seq=seq, cash=self.cash,
            available_cash=self.cash - self._reserved_quote, equity=self.cash + marked,
            realized_pnl=self.realized_pnl, unrealized_pnl=unrealized, fees=self.fees,
            transfers=self.transfers, positions=tuple(views))

    @_exact
    def check_invariants(self) -> None:
        """Raise :class:`LedgerError` if any accounting identity fails.

        Checks: available cash, every position, cost basis and reservation are
        not negative; reservations add up, in total and per product; and
        ``starting_cash + transfers + realized - fees + unrealized == equity``
        exactly.
        """
        if self.available_cash < 0:
            raise LedgerError(f"available cash is negative: {self.available_cash}")
        quote_sum = sum((r.quote for r in self._reservations.values()), ZERO)
        if quote_sum != self._reserved_quote:
            raise LedgerError(f"reserved quote {self._reserved_quote} != sum {quote_sum}")
        for product_id, p in self._positions.items():
            if p.base_size < 0 or p.cost_basis < 0 or p.reserved_base < 0 or p.reserved_quote < 0:
                raise LedgerError(f"{product_id}: negative size, cost basis or reservation")
            if p.reserved_base > p.base_size:
                raise LedgerError(f"{product_id}: reserved {p.reserved_base} > held {p.base_size}")
            held = [r for r in self._reservations.values() if r.product_id == product_id]
            if (sum((r.quote for r in held), ZERO), sum((r.base for r in held), ZERO)) != \
                    (p.reserved_quote, p.reserved_base):
                raise LedgerError(f"{product_id}: reservations do not add up")
        lhs = self.starting_cash + self.transfers + self.realized_pnl - self.fees + \
            self.unrealized_pnl()
        if lhs != self.equity():
            raise LedgerError(f"PnL identity broken: {lhs} != equity {self.equity()}")

    def _position(self, product_id: str) -> _Position:
        pos = self._positions.get(product_id)
        if pos is None:
            pos = self._positions[product_id] = _Position()
        return pos
