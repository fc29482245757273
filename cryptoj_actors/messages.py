"""Every message that travels between actors (DESIGN.md section 3).

All messages are immutable (``frozen=True, slots=True``) and keyword-only. Each
carries the role of its sender (``sender``) and a logical timestamp (``ts_ns``):
the market time, in integer nanoseconds since the Unix epoch (UTC), of the
event that caused it. In replay that is the recorded time, so two replays of
the same data stamp every message identically. The values they carry (bars,
orders, positions, the enums) are in :mod:`cryptoj_actors.model`.

Money and quantities are :class:`decimal.Decimal`, as in the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cryptoj_actors.model import (
    HealthLevel,
    Liquidity,
    MarketEvent,
    Order,
    OrderIntent,
    OrderStatus,
    PositionView,
    Side,
    TradingLevel,
    VenueBalance,
)


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
class IntentBatch(Message):
    """The strategy's intents after market batch ``seq`` (empty when none)."""

    seq: int
    intents: tuple[OrderIntent, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderDenied(Message):
    """An order refused before it was sent, by risk or by the portfolio's
    reservation; ``reason_code`` is the value of a
    :class:`~cryptoj_actors.model.DenyReason`."""

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
class VenueBalances(Message):
    """The account's balances as the venue reported them while reconciling
    (Coinbase ``GET /accounts``), for the portfolio to compare with its ledger.

    ``settled`` is true when no order of ours was open at the venue: only
    then can a difference not be a fill still on its way, and only then is
    it applied to the ledger (otherwise it is reported).
    """

    balances: tuple[VenueBalance, ...]
    settled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueReport(Message):
    """What a venue driven by a worker said, for the executor to journal and
    relay in order: fills, order updates and balances (``events``), or the
    defect that stopped the worker (``failure``, then no events)."""

    events: tuple[Fill | OrderUpdate | VenueBalances, ...]
    failure: str = ""


# --- portfolio -----------------------------------------------------------------


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
class Notice(Message):
    """Something the operator is alerted to (the notifier): ``kind`` is an
    :class:`~cryptoj_actors.alerts.rules.AlertKind` value, ``cause`` says
    what happened and why, in one line; ``ts_ns`` is the wall clock."""

    kind: str
    cause: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(Message):
    """A timer tick an actor sends itself (health sampling, file polling)."""

    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartDue(Message):
    """The supervisor's own reminder: the backoff for ``role`` has passed."""

    role: str
