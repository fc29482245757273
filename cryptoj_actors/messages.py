"""Every message that travels between actors (DESIGN.md section 3).

All messages are immutable (``frozen=True, slots=True``) and keyword-only. Each
carries the role of its sender (``sender``) and a logical timestamp (``ts_ns``):
the market time, in integer nanoseconds since the Unix epoch (UTC), of the
event that caused it. In replay that is the recorded time, so two replays of
the same data stamp every message identically.

Money and quantities are :class:`decimal.Decimal`: prices in quote currency per
one unit of base (USD per BTC for BTC-USD), sizes in base units, notionals,
fees and cash in quote currency. Fractions (weights, rates) are plain
fractions, never percent: ``Decimal("0.10")`` is ten percent.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal

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
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.DENIED,
    }
)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Base of every message: who sent it, and when in market time."""

    sender: str
    ts_ns: int

    @property
    def type(self) -> str:
        return type(self).__name__


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


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketBatch(Message):
    """All market events of one time slice, in the order the feed saw them.

    ``seq`` counts batches from 1 within a run, with no gaps; it is what the
    feed's credit window (DESIGN.md section 9) and every join downstream key
    on. ``ts_ns`` is the instant the batch became known (a bar batch: the bars'
    close); ``received_ns`` the local wall clock when its data arrived: live,
    the arrival of its oldest frame; in replay, when the feed built it.
    ``unreliable`` names the products whose data is stale or whose book is
    invalid right now: risk lets nothing add exposure to them.
    ``connection`` changes whenever the live feed's connection was reset (a
    reconnect): the order client then reconciles with the venue. It is 0 in
    replay.
    """

    seq: int
    events: tuple[MarketEvent, ...]
    received_ns: int = 0
    unreliable: tuple[str, ...] = ()
    connection: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfData(Message):
    """The feed's source is exhausted; ``last_seq`` is the final batch sent.

    It follows the last batch down the same path, so every actor sees it
    after everything that batch caused.
    """

    last_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Credit(Message):
    """Every batch up to and including ``seq`` is settled: its decision is
    made and its orders, reserved by the portfolio, are at the executor (a
    market order then rests until the next batch's data).

    Sent by the executor. Credit is cumulative, like a TCP acknowledgement:
    the feed may have at most ``credit_window`` batches beyond ``seq`` in
    flight.
    """

    seq: int


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
class IntentBatch(Message):
    """The strategy's intents after market batch ``seq`` (empty when none)."""

    seq: int
    intents: tuple[OrderIntent, ...]


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
class OrderDenied(Message):
    """An order refused before it was sent; ``reason_code`` is one of
    :class:`cryptoj_actors.risk.policy.DenyReason` (or the portfolio's
    ``INSUFFICIENT_FUNDS`` / ``INSUFFICIENT_POSITION``)."""

    client_order_id: str
    product_id: str
    side: Side
    reason_code: str
    detail: str
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskDecisions(Message):
    """Orders risk approved after market batch ``seq``, for the portfolio to
    reserve (sent only when there are any; denials stay with risk)."""

    seq: int
    approved: tuple[Order, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBatch(Message):
    """The orders decided after market batch ``seq``, as the executor gets them.

    One arrives for every batch, so the executor knows when all orders of a
    decision are in (DESIGN.md section 9): from the portfolio with the orders
    it reserved, or straight from risk, empty, when risk approved nothing.
    """

    seq: int
    orders: tuple[Order, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate(Message):
    """A change in an order's status at the venue.

    ``filled_base`` is the cumulative filled size in base units;
    ``exchange_order_id`` the venue's id for the order, once it has one.
    """

    client_order_id: str
    product_id: str
    status: OrderStatus
    filled_base: Decimal = Decimal(0)
    detail: str = ""
    exchange_order_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill(Message):
    """One execution: ``base_size`` at ``price`` (quote per base), ``fee`` in quote.

    ``ts_ns`` is the execution time. ``final`` is true when the order has
    nothing left open after this fill.
    """

    fill_id: str
    client_order_id: str
    product_id: str
    side: Side
    base_size: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Liquidity
    final: bool = True


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


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueBalances(Message):
    """The account's balances as the venue reported them while reconciling
    (Coinbase ``GET /accounts``), for the portfolio to compare with its ledger.

    ``settled`` is true when no order of ours was open at the venue: only
    then can a difference not be a fill still on its way, and only then is
    it applied to the ledger (otherwise it is reported).
    """

    balances: tuple[VenueBalance, ...]
    settled: bool


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


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioSnapshot(Message):
    """The ledger after market batch ``seq`` was marked; ``version`` counts
    every change to the ledger. All amounts in quote currency.

    ``equity = cash + sum(position notionals)``; ``available_cash`` is cash
    less what open buy orders hold; ``transfers`` what moved in (or out, when
    negative) outside trading, valued when it moved (see the ledger).
    """

    version: int
    seq: int
    cash: Decimal
    available_cash: Decimal
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    positions: tuple[PositionView, ...]
    transfers: Decimal = Decimal(0)

    def position(self, product_id: str) -> PositionView | None:
        for p in self.positions:
            if p.product_id == product_id:
                return p
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkedBatch(Message):
    """A market batch together with the ledger snapshot marked on it.

    The portfolio sends it to risk so that risk decides on the same prices
    and positions the ledger holds (DESIGN.md section 9).
    """

    batch: MarketBatch
    snapshot: PortfolioSnapshot


# --- control -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingState(Message):
    """A trading level with the reason and time it was entered."""

    level: TradingLevel
    reason: str
    since_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthStatus(Message):
    """Overall health, each component's level (component, level), and the
    failed checks that decided them (component, detail), worst first."""

    level: HealthLevel
    checks: tuple[tuple[str, str], ...] = ()
    components: tuple[tuple[str, HealthLevel], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered(Message):
    """The supervisor has put the receiver into the directory under ``role``:
    from now on, messages addressed to that role reach it."""

    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping(Message):
    """The supervisor's liveness check; every actor answers with its generation."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildDown(Message):
    """An actor stopped because of an exception (in ``on_start`` or a handler)."""

    role: str
    error: str
    generation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorCommand(Message):
    """``halt`` (with ``unwind``: close the book gradually), from the
    control file or the admin interface; ``unwind`` is also what the
    supervisor tells risk when a halt must unwind. A resume is not a message:
    the admin interface asks the supervisor (``resume``) and waits for its
    answer, which may be a refusal."""

    command: str
    reason: str = ""
    source: str = ""
    unwind: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(Message):
    """A timer tick an actor sends itself (health sampling, file polling)."""

    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartDue(Message):
    """The supervisor's own reminder: the backoff for ``role`` has passed."""

    role: str
