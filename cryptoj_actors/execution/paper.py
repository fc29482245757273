"""The paper exchange: a matching engine that fills orders against recorded or
live market data, never against data the strategy could not have seen.

Model (every assumption is listed in :data:`ASSUMPTIONS` and in the report):

* Orders rest until the first market data **after** the batch they were
  decided on (``Order.decision_seq``). A market order then fills at the next
  bar's **open**, or, on live trades, at the price of the first trade.
* The price moves against the order by ``slippage_bps`` basis points and is
  rounded to the product's price increment, against the order (up for buys).
* A fill never exceeds ``max_volume_participation`` of the base volume the
  data shows: the bar's volume, or the summed size of the batch's trades. A
  bar with no volume shows none. Market orders are immediate-or-cancel
  (Coinbase ``market_market_ioc``): what does not fill on that data expires.
* Market orders take liquidity and pay the taker fee. A buy sized in quote
  spends at most ``quote_size`` including its fee, as on Coinbase; a sell
  sized in base receives ``size * price - fee``. Fees are rounded half-even to
  the ledger quantum.
* Fee defaults: Coinbase Advanced Trade's published tier schedule, entry tier
  (see :class:`cryptoj_actors.config.PaperConfig`).

Limit and stop orders are not simulated yet: they are rejected with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from cryptoj_actors.config import PaperConfig, ProductRules
from cryptoj_actors.messages import Fill, MarketBatch, OrderUpdate
from cryptoj_actors.model import (
    BookUpdate,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Ticker,
    Trade,
)
from cryptoj_actors.money import (
    BPS,
    LEDGER_CONTEXT,
    ONE,
    ZERO,
    floor_to_increment,
    round_quote,
)

if TYPE_CHECKING:
    from cryptoj_actors.execution.journal import Journal

ASSUMPTIONS = (
    "market orders fill at the first market data after the decision: the next bar's open "
    "(or the first trade of the next batch), never the bar the decision was made on",
    "fill price moved against the order by the configured slippage, rounded to the price "
    "increment against the order",
    "a fill takes at most the configured share of the base volume the data shows; "
    "zero-volume bars fill nothing; the unfilled rest of a market (IOC) order expires",
    "market orders pay the taker fee; quote-sized buys spend at most their quote size, fee "
    "included",
    "orders still open when the data ends expire unfilled",
)

PaperEvent = Fill | OrderUpdate


@dataclass(frozen=True, slots=True)
class _Offer:
    """Where market orders can fill: for each side, the levels a taker walks,
    best first, as (price before slippage, base size shown, or None when the
    data shows no size); ``slipped`` when the price is a reference (a bar's
    open, a trade, a ticker) rather than a resting order in a book."""

    time_ns: int
    buy: tuple[tuple[Decimal, Decimal | None], ...]
    sell: tuple[tuple[Decimal, Decimal | None], ...]
    slipped: bool = True


class PaperExchange:
    """Matches orders against market batches.

    Args:
        config: fees, slippage and volume participation (``[paper]``).
        rules: product id -> increments (price tick, base increment).
        sender: the role stamped on the messages it makes.
    """

    def __init__(self, config: PaperConfig, rules: Callable[[str], ProductRules],
                 sender: str = "executor") -> None:
        self.config = config
        self._rules = rules
        self._sender = sender
        self._slip = config.slippage_bps * BPS
        self._resting: dict[str, Order] = {}

    @property
    def open_orders(self) -> int:
        return len(self._resting)

    def start(self, deliver: object) -> None:
        pass  # every answer is given at once: nothing is delivered later

    def stop(self) -> None:
        pass

    def submit(self, order: Order, ts_ns: int) -> OrderUpdate:
        """Accept ``order`` (``OPEN``) or reject it (``REJECTED``, with the reason)."""
        problem = self._problem(order)
        if problem:
            return self._update(order, OrderStatus.REJECTED, ts_ns, ZERO, problem)
        self._resting[order.client_order_id] = order
        return self._update(order, OrderStatus.OPEN, ts_ns, ZERO)

    def on_market(self, batch: MarketBatch) -> list[PaperEvent]:
        """Fill what the batch's data allows; returns fills and status changes,
        in order (a fill always precedes the update that ends its order)."""
        if not self._resting:
            return []
        offers = self._offers(batch)
        events: list[PaperEvent] = []
        for coid, order in list(self._resting.items()):
            offer = offers.get(order.product_id)
            if offer is None or order.decision_seq >= batch.seq:
                continue
            del self._resting[coid]
            self._match(order, offer, batch.ts_ns, events)
        return events

    def resume(self) -> None:
        pass  # a halt's cancels take effect at once here: none is left pending

    def recover(self, journal: Journal) -> list[PaperEvent]:
        """A live restart: the paper venue lived in the process that ended, and
        its resting orders ended with it. Each order the journal still has
        open expires, with the fills it had (so that none is matched twice,
        and no reservation outlives its order)."""
        events: list[PaperEvent] = []
        for order in journal.open_orders():
            state = journal.order_status(order.client_order_id)
            filled = state[1] if state is not None else ZERO
            events.append(self._update(order, OrderStatus.EXPIRED, order.created_ns, filled,
                                       "the paper venue ended with the previous process"))
        return events

    def cancel_all(self, ts_ns: int, detail: str, *, status: OrderStatus = OrderStatus.CANCELLED,
                   keep_reduce_only: bool = False) -> list[OrderUpdate]:
        """End resting orders with ``status`` (``CANCELLED`` on a halt, which
        keeps reduce-only exits with ``keep_reduce_only``; ``EXPIRED`` when the
        data ends)."""
        ending = [o for o in self._resting.values() if not (keep_reduce_only and o.reduce_only)]
        for order in ending:
            del self._resting[order.client_order_id]
        return [self._update(order, status, ts_ns, ZERO, detail) for order in ending]

    def _problem(self, order: Order) -> str:
        if order.order_type is not OrderType.MARKET:
            return f"{order.order_type.value} orders are not simulated by the paper exchange"
        if order.side is Side.BUY and not (order.quote_size and order.quote_size > 0):
            return "a market buy needs a positive quote_size"
        if order.side is Side.SELL and not (order.base_size and order.base_size > 0):
            return "a market sell needs a positive base_size"
        if order.client_order_id in self._resting:
            return f"duplicate client_order_id {order.client_order_id}"
        return ""

    def _offers(self, batch: MarketBatch) -> dict[str, _Offer]:
        """Per product, what the batch offers a market order, the most precise
        data first: a valid level2 book (walked level by level), a ticker (its
        best ask or bid), the batch's trades (the first one's price), a bar
        (its open). Trades and bars cap the size at ``max_volume_participation``
        of the volume they show."""
        share = self.config.max_volume_participation
        offers: dict[str, _Offer] = {}
        rank: dict[str, int] = {}
        trades: dict[str, list[Trade]] = {}

        def offer(product_id: str, level: int, made: _Offer) -> None:
            if level < rank.get(product_id, 99):
                rank[product_id], offers[product_id] = level, made

        for event in batch.events:
            product_id = event.product_id
            if isinstance(event, BookUpdate):
                if event.valid and event.bids and event.asks:
                    offer(product_id, 0, _Offer(event.time_ns, event.asks, event.bids, False))
            elif isinstance(event, Ticker):
                offer(product_id, 1, _Offer(event.time_ns, ((event.best_ask, None),),
                                            ((event.best_bid, None),)))
            elif isinstance(event, Trade):
                trades.setdefault(product_id, []).append(event)
            elif product_id not in rank:
                level = ((event.open, event.volume * share),)
                offer(product_id, 3, _Offer(event.start_ns, level, level))
        for product_id, seen in trades.items():
            first = min(seen, key=lambda t: t.time_ns)
            level = ((first.price, sum(t.size for t in seen) * share),)
            offer(product_id, 2, _Offer(first.time_ns, level, level))
        return offers

    def _match(self, order: Order, offer: _Offer, ts_ns: int,
               events: list[PaperEvent]) -> None:
        """Walk the offer's levels for ``order``: one fill per level taken.

        A buy spends at most its quote size, fee included; a sell at most its
        base size. What is left when the levels run out expires (IOC).
        """
        rules = self._rules(order.product_id)
        buy = order.side is Side.BUY
        taker = self.config.taker_fee_rate
        budget = order.quote_size if buy else order.base_size
        assert budget is not None
        fills: list[tuple[Decimal, Decimal]] = []  # (base size, price)
        for reference, shown in offer.buy if buy else offer.sell:
            price = self._slipped(reference, buy, rules.quote_increment) if offer.slipped \
                else reference
            cap = None if shown is None else floor_to_increment(shown, rules.base_increment)
            size = self._affordable(budget, price, rules.base_increment) if buy else budget
            if cap is not None:
                size = min(size, cap)
            if size <= 0:
                break
            fills.append((size, price))
            budget -= size * price + round_quote(size * price * taker) if buy else size
            if cap is None or size < cap:
                break  # the order is done (or the level had more than it needed)
        if not fills:
            detail = ("the market data shows too little volume (within the participation "
                      "limit)" if order.side is Side.SELL or self._affordable(
                          budget, price, rules.base_increment) > 0
                      else "quote size buys less than one base increment")
            events.append(self._update(order, OrderStatus.EXPIRED, ts_ns, ZERO, detail))
            return
        filled = ZERO
        for n, (size, price) in enumerate(fills, start=1):
            filled += size
            events.append(Fill(
                sender=self._sender, ts_ns=offer.time_ns,
                fill_id=f"{order.client_order_id}-fill" + (f"{n}" if n > 1 else ""),
                client_order_id=order.client_order_id, product_id=order.product_id,
                side=order.side, base_size=size, price=price,
                fee=round_quote(size * price * taker), liquidity=Liquidity.TAKER,
                final=n == len(fills)))
        done = self._affordable(budget, price, rules.base_increment) <= 0 if buy else budget <= 0
        if done:
            events.append(self._update(order, OrderStatus.FILLED, ts_ns, filled))
        else:
            events.append(self._update(
                order, OrderStatus.EXPIRED, ts_ns, filled,
                "immediate-or-cancel remainder: no more liquidity in the market data"))

    def _affordable(self, quote: Decimal, price: Decimal, increment: Decimal) -> Decimal:
        """The most base units ``quote`` buys at ``price``, taker fee included."""
        taker = self.config.taker_fee_rate
        size = floor_to_increment(
            LEDGER_CONTEXT.divide(LEDGER_CONTEXT.divide(quote, ONE + taker), price), increment)
        while size > 0 and size * price + round_quote(size * price * taker) > quote:
            size -= increment  # the fee's rounding must not overspend
        return size

    def _slipped(self, reference: Decimal, buy: bool, tick: Decimal) -> Decimal:
        if buy:
            raw = reference * (ONE + self._slip)
            return (raw / tick).to_integral_value(ROUND_CEILING) * tick
        raw = reference * (ONE - self._slip)
        return max(tick, (raw / tick).to_integral_value(ROUND_FLOOR) * tick)

    def _update(self, order: Order, status: OrderStatus, ts_ns: int, filled: Decimal,
                detail: str = "") -> OrderUpdate:
        return OrderUpdate(sender=self._sender, ts_ns=ts_ns,
                           client_order_id=order.client_order_id, product_id=order.product_id,
                           status=status, filled_base=filled, detail=detail)
