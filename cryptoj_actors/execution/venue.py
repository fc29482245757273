"""What the executor needs of a venue: the paper exchange or Coinbase.

The paper exchange answers every call at once. Coinbase answers over the
network, so it is driven through a
:class:`~cryptoj_actors.execution.worker.VenueWorker`: its calls return at
once, with nothing, and what the venue says comes later through the
``deliver`` given to :meth:`Venue.start`.

The statuses a venue reports keep to the order life cycle
(:data:`~cryptoj_actors.model.ORDER_TRANSITIONS`): the executor journals
each one, and the journal refuses a change the table does not allow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from cryptoj_actors.messages import Fill, MarketBatch, OrderUpdate, VenueBalances
from cryptoj_actors.model import Order, OrderStatus

if TYPE_CHECKING:
    from cryptoj_actors.execution.journal import Journal

#: What a venue tells the executor: fills, status changes and (live) balances.
VenueEvent = Fill | OrderUpdate | VenueBalances


class Venue(Protocol):
    """Implemented by :class:`~cryptoj_actors.execution.paper.PaperExchange`
    and :class:`~cryptoj_actors.adapters.coinbase.execution.CoinbaseExchange`."""

    @property
    def open_orders(self) -> int:
        """Orders sent and not ended."""

    def start(self, deliver: Callable[[list[VenueEvent], BaseException | None], None]
              ) -> None:
        """Begin; a venue that answers later tells ``deliver`` its events, or
        the exception that stopped it."""

    def stop(self) -> None:
        """End (the executor stops)."""

    def submit(self, order: Order, ts_ns: int) -> OrderUpdate | None:
        """Send a journaled order: ``OPEN``, ``REJECTED`` or ``UNKNOWN``; None
        when that answer is delivered later."""

    def on_market(self, batch: MarketBatch) -> list[VenueEvent]:
        """What happened at the venue by this batch, in order (a fill before
        the update that ends its order)."""

    def cancel_all(self, ts_ns: int, detail: str, *, status: OrderStatus = OrderStatus.CANCELLED,
                   keep_reduce_only: bool = False) -> list[VenueEvent]:
        """End every open order (``keep_reduce_only`` spares exits)."""

    def resume(self) -> None:
        """An operator's resume: cancels a halt asked for and the venue has not
        yet accepted are no longer wanted."""

    def recover(self, journal: Journal) -> list[VenueEvent]:
        """A live restart: take up the journal's open orders."""
