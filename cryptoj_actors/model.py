"""The domain's values: market data, orders, positions and their enums.

These are plain immutable values (``frozen=True, slots=True``, keyword-only)
that carry no sender: the vocabulary the domain objects (ledger, risk policy,
paper exchange, order books) compute with. What actors send each other, each
stamped with its sender and a logical time, is in
:mod:`cryptoj_actors.messages` (DESIGN.md section 3).

Money and quantities are :class:`decimal.Decimal`: prices in quote currency per
one unit of base (USD per BTC for BTC-USD), sizes in base units, notionals,
fees and cash in quote currency. Fractions (weights, rates) are plain
fractions, never percent: ``Decimal("0.10")`` is ten percent. Times are
integer nanoseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

#: A Coinbase product id: base and quote currency codes joined by a dash.
PRODUCT_ID = re.compile(r"[A-Z0-9]{2,10}-[A-Z0-9]{2,10}")


class Side(str, enum.Enum):
    """Order side, spelled as Coinbase Advanced Trade spells it."""

    BUY = "BUY"
    SELL = "SELL"


class OrderType(str, enum.Enum):
    """Order type, as Coinbase's ``order_configuration`` names them:
    ``MARKET`` is ``market_market_ioc``, ``LIMIT`` is ``limit_limit_gtc`` and
    ``STOP_LIMIT`` is ``stop_limit_stop_limit_gtc`` (a limit order placed
    when the last trade price crosses ``stop_price``)."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_LIMIT = "STOP_LIMIT"


class OrderStatus(str, enum.Enum):
    """Order life cycle (DESIGN.md section 3).

    ``PENDING -> OPEN -> PARTIALLY_FILLED -> FILLED``, or one of the ends
    ``CANCELLED``, ``REJECTED`` (by the venue), ``EXPIRED`` (an IOC remainder,
    or no more market data), ``DENIED`` (by risk or the portfolio, never sent),
    ``UNKNOWN`` (sent, outcome not known yet; resolved by reconciliation).
    Which status may follow which is :data:`ORDER_TRANSITIONS`.
    """

    PENDING = "PENDING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    DENIED = "DENIED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """An end: no status follows it."""
        return not ORDER_TRANSITIONS[self]

    def can_become(self, new: OrderStatus) -> bool:
        """Whether an order in this status may move to ``new``."""
        return new in ORDER_TRANSITIONS[self]


_S = OrderStatus

#: The order state machine, as data: status -> the statuses it may become
#: (in the manner of NautilusTrader's order state table). It is checked in one
#: place, :func:`check_transition`, before a status is written (the journal)
#: or taken on (the Coinbase venue's view of its orders). Every edge is one
#: the system makes:
#:
#: * ``PENDING`` (journaled, about to be sent): ``OPEN`` or ``REJECTED`` from
#:   the venue's answer, ``REJECTED`` by the halt switch, ``UNKNOWN`` when the
#:   answer was lost; after a restart, whatever the venue reports for the
#:   adopted order (any status but ``PENDING``), or ``EXPIRED`` on paper.
#: * ``UNKNOWN``: what the lookup finds the venue listing (``UNKNOWN`` again
#:   when the venue itself says so, now with its order id), or ``REJECTED``
#:   when the venue never lists it.
#: * ``OPEN`` and ``PARTIALLY_FILLED``: the venue's polled status, which may be
#:   more fill (``PARTIALLY_FILLED`` again), any end, or ``UNKNOWN`` when the
#:   venue reports it so. ``OPEN`` again: a restarted replay re-sends an order
#:   the journal holds ``OPEN``. A fill is never taken back:
#:   ``PARTIALLY_FILLED`` does not become ``OPEN``.
#: * The ends go nowhere. ``DENIED`` is an order's first and only status:
#:   risk or the portfolio refuses the order before it is journaled, so no
#:   status leads to it either. Nothing leads back to ``PENDING``.
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType({
    _S.PENDING: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED,
                           _S.REJECTED, _S.EXPIRED, _S.UNKNOWN}),
    _S.UNKNOWN: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED,
                           _S.REJECTED, _S.EXPIRED, _S.UNKNOWN}),
    _S.OPEN: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED,
                        _S.REJECTED, _S.EXPIRED, _S.UNKNOWN}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELLED,
                                    _S.REJECTED, _S.EXPIRED, _S.UNKNOWN}),
    _S.FILLED: frozenset(),
    _S.CANCELLED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.DENIED: frozenset(),
})


class InvalidTransition(ValueError):
    """An order status change :data:`ORDER_TRANSITIONS` does not allow.

    Attributes:
        current, new: the status the order has, and the one it was to take.
        client_order_id: the order's id (``""`` when not known).
    """

    def __init__(self, current: OrderStatus, new: OrderStatus, client_order_id: str = "") -> None:
        self.current, self.new, self.client_order_id = current, new, client_order_id
        where = f" for client order id {client_order_id}" if client_order_id else ""
        super().__init__(f"impossible order status change {current.value} -> {new.value}{where}")


def check_transition(current: OrderStatus, new: OrderStatus, client_order_id: str = "") -> None:
    """Refuse a status change the order life cycle does not allow.

    Raises:
        InvalidTransition: ``current`` cannot become ``new``.
    """
    if not current.can_become(new):
        raise InvalidTransition(current, new, client_order_id)


class Liquidity(str, enum.Enum):
    """Whether a fill added liquidity (maker) or took it (taker)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class TradingLevel(str, enum.Enum):
    """Trading state (DESIGN.md section 6), ordered by severity."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {TradingLevel.ACTIVE: 0, TradingLevel.REDUCING: 1, TradingLevel.HALTED: 2}


class HealthLevel(str, enum.Enum):
    OK = "OK"
    DEGRADED = "DEGRADED"
    CRITICAL = "CRITICAL"


class DenyReason(str, enum.Enum):
    """Why an order was refused before it was sent (the ``reason_code`` of
    :class:`~cryptoj_actors.messages.OrderDenied`): by risk's limits, or by
    the ledger when it reserves (``INSUFFICIENT_FUNDS``,
    ``INSUFFICIENT_POSITION``, ``POSITION_LIMIT``, ``DUPLICATE_ORDER``,
    ``INVALID_ORDER``)."""

    TRADING_HALTED = "TRADING_HALTED"
    TRADING_REDUCING = "TRADING_REDUCING"
    POSITION_LIMIT = "POSITION_LIMIT"
    STOP_LOSS_COOLDOWN = "STOP_LOSS_COOLDOWN"
    MIN_SIZE = "MIN_SIZE"
    MIN_NOTIONAL = "MIN_NOTIONAL"
    ORDER_RATE = "ORDER_RATE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INSUFFICIENT_POSITION = "INSUFFICIENT_POSITION"
    DUPLICATE_ORDER = "DUPLICATE_ORDER"
    INVALID_ORDER = "INVALID_ORDER"
    NO_MARK = "NO_MARK"
    STALE_DATA = "STALE_DATA"


# --- market data -------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """One OHLCV bar of one product.

    ``start_ns`` is the bar's opening instant and ``interval_ns`` its length;
    the bar is known only at its close, ``start_ns + interval_ns``. Prices are
    quote per base unit; ``volume`` is in base units (0 when nothing traded).
    """

    product_id: str
    start_ns: int
    interval_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.interval_ns


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """One trade on the exchange (Coinbase channel ``market_trades``).

    ``size`` base units changed hands at ``price`` (quote per base) at
    ``time_ns``; ``side`` is the taker's side as Coinbase reports it.
    """

    product_id: str
    time_ns: int
    price: Decimal
    size: Decimal
    side: Side
    trade_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticker:
    """Last trade price and best bid and ask of one product (quote per base),
    from Coinbase's ``ticker`` channel."""

    product_id: str
    time_ns: int
    price: Decimal
    best_bid: Decimal
    best_ask: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class BookUpdate:
    """A product's level2 book as it stands at the end of a time slice: the
    best ``bids`` (high to low) and ``asks`` (low to high) as (price, size)
    in quote per base and base units. ``valid`` is false between a sequence
    gap or a crossed book and the next snapshot: no price comes from it then.
    """

    product_id: str
    time_ns: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    valid: bool = True

    @property
    def mid(self) -> Decimal | None:
        if not (self.valid and self.bids and self.asks):
            return None
        return (self.bids[0][0] + self.asks[0][0]) / 2


MarketEvent = Bar | Trade | Ticker | BookUpdate


# --- orders --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """A strategy's wish for one product: hold ``target_weight`` of equity.

    ``target_weight`` is a fraction of equity (0 to 1; spot trading is
    long-only). Risk turns it into an order only when the position's current
    weight differs from the target by more than ``rebalance_threshold``
    (a fraction of equity), or when the target is zero and a position remains.
    """

    product_id: str
    target_weight: Decimal
    rebalance_threshold: Decimal
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order approved by risk.

    Exactly one of ``base_size`` (base units) and ``quote_size`` (quote
    currency to spend, fee included) is set; a market buy is sized in quote
    (Coinbase ``market_market_ioc.quote_size``), everything else in base.
    ``limit_price`` and ``stop_price`` are quote per base (a stop-limit
    sell triggers when the price falls to ``stop_price``, a buy when it rises
    to it). ``client_order_id`` is unique per run and journaled before the
    order is sent. ``decision_seq`` is the market batch the decision was made on: the
    paper exchange never fills it against that batch or an earlier one.
    """

    client_order_id: str
    product_id: str
    side: Side
    order_type: OrderType
    base_size: Decimal | None = None
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reduce_only: bool = False
    decision_seq: int = 0
    created_ns: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueBalance:
    """One currency's balance at the venue: ``available`` plus ``hold`` (held
    by open orders) is what the account owns, in units of ``currency``."""

    currency: str
    available: Decimal
    hold: Decimal

    @property
    def total(self) -> Decimal:
        return self.available + self.hold



# --- portfolio -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    """A position as seen in a snapshot.

    ``base_size`` in base units (never negative: spot is long-only);
    ``cost_basis`` in quote (fees excluded); ``mark_price`` is the latest
    mark (quote per base); ``reserved_base`` is held by open sell orders,
    ``reserved_quote`` by open buy orders.
    """

    product_id: str
    base_size: Decimal
    cost_basis: Decimal
    mark_price: Decimal
    realized_pnl: Decimal
    reserved_base: Decimal
    reserved_quote: Decimal

    @property
    def notional(self) -> Decimal:
        """Marked value of the position, in quote."""
        return self.base_size * self.mark_price

    @property
    def avg_entry_price(self) -> Decimal:
        """``cost_basis / base_size`` (quote per base); 0 when flat."""
        return self.cost_basis / self.base_size if self.base_size else Decimal(0)

    @property
    def unrealized_pnl(self) -> Decimal:
        return self.notional - self.cost_basis


