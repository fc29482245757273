"""Coinbase as the executor's venue: real orders through the REST client.

The same interface as :class:`cryptoj_actors.execution.paper.PaperExchange`
(``submit``, ``on_market``, ``cancel_all``, ``recover``), so the executor
does not know which venue it drives. Rules a careful operator relies on:

* **An order is sent once.** The executor journals it (with its
  ``client_order_id``) before :meth:`submit`; the create request is never
  repeated except after a 429, which Coinbase answers before processing.
* **No outcome is assumed.** A time-out, a dropped connection, a 5xx or an
  unreadable answer leaves the order ``UNKNOWN``: it keeps its reservation
  and is looked up by its client order id on every poll until the venue
  shows it (then it takes the venue's status). Only an order the venue still
  does not list ``unknown_timeout_s`` after it was sent is ended, as
  ``REJECTED`` with that reason, and the ledger is reconciled against
  balances anyway.
* **Fills are the venue's.** Open orders are polled at the ``user``
  channel's news of them (the venue worker calls :meth:`poll`), and on
  market batches every ``poll_interval_s`` while that channel is down or
  stale (``user_poll_interval_s`` while fresh): the status first,
  then the fills, each fill once by its ``entry_id``. An order the venue
  reports ended stays tracked until the fills listed for it add up to what
  the venue says it filled (``number_of_fills``, else ``filled_size``), so a
  fill made between the two requests is never lost; after
  :data:`FILLS_GRACE_S` it ends anyway, loudly, and the balances reconcile
  the rest. Entries that are not fills (``trade_type`` ``REVERSAL``,
  ``CORRECTION``, ...) and unreadable ones are logged, counted and skipped.
* **A cancel is wanted until the order ends.** :meth:`cancel_all` marks the
  orders; every poll re-sends the cancel of a marked order the venue has not
  accepted one for yet, an UNKNOWN order found later included.
* **Reconciliation** at start (:meth:`recover`), after every feed reconnect
  (a batch's ``connection`` changes) and after the venue was unreachable:
  every open order's status, fills since the last journaled one, and the
  balances, which go to the portfolio as :class:`VenueBalances`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from cryptoj_actors.adapters.coinbase.orders import (
    ShapeError,
    VenueOrder,
    create_order_body,
    create_order_result,
    parse_balances,
    parse_fill,
    parse_order,
)
from cryptoj_actors.adapters.coinbase.rest import CoinbaseError, RestClient, Unavailable
from cryptoj_actors.execution.venue import VenueEvent
from cryptoj_actors.messages import Fill, MarketBatch, OrderUpdate, VenueBalances
from cryptoj_actors.model import Order, OrderStatus, check_transition
from cryptoj_actors.money import ZERO

if TYPE_CHECKING:
    from cryptoj_actors.execution.journal import Journal

log = logging.getLogger(__name__)

#: How far before an order's sending the lookup of an UNKNOWN order searches
#: (seconds): the venue's creation time and our clock may differ a little.
LOOKUP_MARGIN_S = 300
#: Seconds an order the venue reports ended may wait for its fills to be
#: listed before it is ended without them (the balances then reconcile).
FILLS_GRACE_S = 30.0
#: Relative difference allowed between the venue's filled size and the fills'
#: sum when the venue gives no fill count.
FILL_TOLERANCE = Decimal("1e-9")


@dataclass(slots=True)
class _Tracked:
    order: Order
    order_id: str
    status: OrderStatus
    filled_base: Decimal
    sent_wall_s: float  # Unix seconds when sent (or adopted after a restart)
    sent_mono: float
    booked_fills: int = 0  # fills of this order taken so far ...
    booked_base: Decimal = ZERO  # ... and their base size
    ended_at_venue: float | None = None  # monotonic: first seen ended, fills still missing
    cancel_wanted: bool = False
    cancel_accepted: bool = False


@dataclass(slots=True)
class VenueStats:
    """Counters for health and the status view."""

    requests_failed: int = 0
    unknown_orders: int = 0     # orders that went UNKNOWN
    unknown_resolved: int = 0   # ... and were then found at the venue
    reconciliations: int = 0
    foreign_fills: int = 0      # fills of orders this run did not send
    skipped_entries: int = 0    # fill entries that are not fills, or unreadable
    last_error: str = ""


class CoinbaseExchange:
    """Orders on Coinbase Advanced Trade.

    Args:
        rest: the REST client, with credentials.
        poll_interval_s: seconds between polls of open orders.
        unknown_timeout_s: seconds an UNKNOWN order may stay unlisted by the
            venue before it is ended as never placed.
        sender: the role stamped on the messages it makes.
        on_error: told of every failed request (for health's error rate).
        clock: monotonic seconds (injectable for tests).
        user_channel_fresh: whether the ``user`` channel is up and fresh; while
            it is, its news rings for polls, and the clock polls only every
            ``user_poll_interval_s`` seconds.
    """

    def __init__(self, rest: RestClient, *, poll_interval_s: float = 1.0,
                 unknown_timeout_s: float = 60.0, sender: str = "executor",
                 on_error: Callable[[Exception], None] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 user_channel_fresh: Callable[[], bool] = lambda: False,
                 user_poll_interval_s: float = 15.0) -> None:
        self.rest = rest
        self.poll_interval_s = poll_interval_s
        self.user_poll_interval_s = user_poll_interval_s
        self._user_channel_fresh = user_channel_fresh
        self.unknown_timeout_s = unknown_timeout_s
        self.stats = VenueStats()
        self._sender = sender
        self._on_error = on_error
        self._clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._by_venue_id: dict[str, str] = {}  # venue order id -> client order id
        self._fill_ids: set[str] = set()
        self._foreign: set[str] = set()  # fills on the account of orders not ours
        self._skipped: set[str] = set()  # entries of ours that are not fills, or unreadable
        self._last_fill_ns = 0
        self._last_poll = float("-inf")
        self._connection: int | None = None
        self._batches = 0
        self._marked_reconcile_due = False  # set at a restart: see on_market
        self._venue_down = False

    @property
    def open_orders(self) -> int:
        return len(self._tracked)

    # --- orders ---------------------------------------------------------------

    def submit(self, order: Order, ts_ns: int) -> OrderUpdate:
        """Send ``order``; returns ``OPEN`` (the venue took it), ``REJECTED``
        (the venue refused it, or it was never sent) or ``UNKNOWN``."""
        coid = order.client_order_id
        if coid in self._tracked:
            return self._update(order, OrderStatus.REJECTED, ts_ns,
                                detail=f"duplicate client_order_id {coid}: not sent again")
        try:
            body = create_order_body(order)
        except ValueError as exc:
            return self._update(order, OrderStatus.REJECTED, ts_ns, detail=str(exc))
        wall, mono = time.time(), self._clock()
        try:
            answer = self.rest.create_order(body)
            order_id, refusal = create_order_result(answer)
        except Unavailable as exc:
            self._failed(exc)
            if not exc.maybe_processed:
                return self._update(order, OrderStatus.REJECTED, ts_ns, detail=f"not sent: {exc}")
            return self._unknown(order, ts_ns, wall, mono, str(exc))
        except ShapeError as exc:
            return self._unknown(order, ts_ns, wall, mono, f"unreadable answer: {exc}")
        except CoinbaseError as exc:  # 401/403/404/4xx: refused before it was placed
            self._failed(exc)
            return self._update(order, OrderStatus.REJECTED, ts_ns, detail=str(exc))
        if refusal:
            return self._update(order, OrderStatus.REJECTED, ts_ns, detail=refusal)
        self._track(order, order_id, OrderStatus.OPEN, ZERO, wall, mono)
        return self._update(order, OrderStatus.OPEN, ts_ns, order_id=order_id)

    def on_market(self, batch: MarketBatch) -> list[VenueEvent]:
        """Poll the venue when a poll is due; reconcile fully when the feed
        reconnected since the last batch, or the venue was unreachable."""
        reconnected = self._connection is not None and batch.connection != self._connection
        self._connection = batch.connection
        self._batches += 1
        due = self._clock() - self._last_poll >= self._poll_interval()
        if reconnected or (self._venue_down and due):
            log.info("venue: %s; reconciling", "the feed reconnected" if reconnected
                     else "retrying after the venue was unreachable")
            return self.reconcile(batch.ts_ns)
        if self._marked_reconcile_due and self._batches >= 2 and not self._tracked:
            # The reconciliation at start came before any mark, so a coin
            # balance the ledger lacks could not be valued and applied; the
            # first batch has marked the ledger by the time this one's
            # balances reach the portfolio, and with no order open they can
            # be applied.
            self._marked_reconcile_due = False
            log.info("venue: reconciling again, now that the ledger has marks")
            return self.reconcile(batch.ts_ns)
        if self._tracked and due:
            return self.poll(batch.ts_ns)
        return []

    def _poll_interval(self) -> float:
        """``user_poll_interval_s`` while the user channel is fresh and no
        order needs a look no news would bring (its outcome unknown, ended
        short of its fills, a cancel not accepted); else ``poll_interval_s``."""
        if not self._user_channel_fresh():
            return self.poll_interval_s
        for t in self._tracked.values():
            if not t.order_id or t.ended_at_venue is not None or (t.cancel_wanted
                                                                  and not t.cancel_accepted):
                return self.poll_interval_s
        return self.user_poll_interval_s

    def cancel_all(self, ts_ns: int, detail: str, *, status: OrderStatus = OrderStatus.CANCELLED,
                   keep_reduce_only: bool = False) -> list[VenueEvent]:
        """Ask the venue to cancel every open order (``keep_reduce_only``
        spares exits). A cancel the venue accepts is only queued there
        (``CANCEL_QUEUED``): the order ends, with the fills it got first, when
        a poll sees it end. Returns what the poll before the cancel found.
        ``status`` is the paper exchange's choice; a venue order ends as the
        venue says."""
        events = self.poll(ts_ns)
        for tracked in self._tracked.values():
            if not (keep_reduce_only and tracked.order.reduce_only):
                tracked.cancel_wanted = True
        try:
            self._send_cancels(detail)
        except CoinbaseError as exc:
            self._failed(exc)
            log.error("venue: cancelling failed (%s); the cancels are sent again at every poll "
                      "until the orders end", exc)
        return events

    def resume(self) -> None:
        """An operator's resume: the halt's cancels the venue has not accepted
        yet (it was unreachable, or the order was still UNKNOWN) are dropped;
        those orders trade on."""
        for tracked in self._tracked.values():
            if tracked.cancel_wanted and not tracked.cancel_accepted:
                tracked.cancel_wanted = False
                log.info("venue: resumed: %s is no longer to be cancelled",
                         tracked.order.client_order_id)

    # --- venue state ----------------------------------------------------------

    def poll(self, ts_ns: int) -> list[VenueEvent]:
        """Fills and status of every open order; UNKNOWN orders looked up.
        A failed request is counted and logged; what came before it is kept."""
        events: list[VenueEvent] = []
        try:
            self._poll(ts_ns, events)
        except (CoinbaseError, ShapeError) as exc:
            self._failed(exc)
        return events

    def reconcile(self, ts_ns: int) -> list[VenueEvent]:
        """Open orders, fills since the last journaled one, and balances (as
        :class:`VenueBalances`, last). Succeeds or leaves the venue marked
        unreachable, to be retried at the next poll."""
        self.stats.reconciliations += 1
        events: list[VenueEvent] = []
        try:
            self._poll(ts_ns, events)
            if self._last_fill_ns:
                since = datetime.fromtimestamp(self._last_fill_ns / 1e9, UTC)
                events.extend(self._new_fills(self.rest.list_fills(
                    start_sequence_timestamp=since.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))))
            balances = tuple(parse_balances(self.rest.accounts()))
        except (CoinbaseError, ShapeError) as exc:
            self._failed(exc)
            return events
        self._venue_down = False
        events.append(VenueBalances(sender=self._sender, ts_ns=ts_ns, balances=balances,
                                    settled=not self._tracked))
        return events

    def recover(self, journal: Journal) -> list[VenueEvent]:
        """After a restart: :meth:`adopt`, then :meth:`reconcile`."""
        self.adopt(journal)
        return self.reconcile(time.time_ns())

    def adopt(self, journal: Journal) -> None:
        """Take up the journal's open orders (their venue ids where known) and
        remember the fills already booked; no request is made."""
        venue_ids = journal.exchange_order_ids()
        fills = journal.fills()
        self._fill_ids.update(f.fill_id for f in fills)
        self._last_fill_ns = max((f.ts_ns for f in fills), default=0)
        wall, mono = time.time(), self._clock()
        for order in journal.open_orders():
            state = journal.order_status(order.client_order_id)
            status, filled = state if state else (OrderStatus.UNKNOWN, ZERO)
            order_id = venue_ids.get(order.client_order_id, "")
            # A PENDING order may have been sent just before the crash: it is
            # looked up like an UNKNOWN one, never sent again.
            if not order_id:
                status = OrderStatus.UNKNOWN
            self._track(order, order_id, status, filled, wall, mono)
            booked = [f for f in fills if f.client_order_id == order.client_order_id]
            tracked = self._tracked[order.client_order_id]
            tracked.booked_fills = len(booked)
            tracked.booked_base = sum((f.base_size for f in booked), ZERO)
        self._marked_reconcile_due = True

    # --- internals --------------------------------------------------------------

    def _poll(self, ts_ns: int, events: list[VenueEvent]) -> None:
        self._last_poll = self._clock()
        for tracked in [t for t in self._tracked.values() if not t.order_id]:
            self._look_up(tracked, ts_ns, events)
        known = {t.order_id: t for t in self._tracked.values() if t.order_id}
        if known:
            # The status first, then the fills: every fill the status counts
            # is then listed (the other way round, one made between the two
            # requests would be missed).
            venues = self._orders(self.rest.list_orders(order_ids=list(known)))
            events.extend(self._new_fills(self.rest.list_fills(order_ids=list(known))))
            for venue in venues:
                tracked = known.get(venue.order_id)
                if tracked is not None:
                    events.extend(self._apply(tracked, venue, ts_ns))
        self._send_cancels("wanted since the halt")

    def _send_cancels(self, detail: str) -> None:
        """Cancel every marked order the venue has not accepted a cancel for.

        Raises:
            CoinbaseError: the request failed; the orders stay marked.
        """
        wanted = {t.order_id: t for t in self._tracked.values()
                  if t.cancel_wanted and not t.cancel_accepted and t.order_id}
        if not wanted:
            return
        results = self.rest.cancel_orders(list(wanted))
        accepted = 0
        for result in results:
            tracked = wanted.get(str(result.get("order_id")))
            if result.get("success") is True and tracked is not None:
                tracked.cancel_accepted = True
                accepted += 1
            else:
                log.warning("venue: cancel of %s refused: %s", result.get("order_id"),
                            result.get("failure_reason"))
        log.info("venue: cancel (%s) accepted for %d of %d orders", detail, accepted,
                 len(wanted))
        self._last_poll = float("-inf")  # see the cancellations at the next batch

    def _orders(self, raw_orders: Iterable[dict]) -> list[VenueOrder]:
        """Parsed orders; an unreadable one is logged and skipped (polled again
        next time), never a reason to stop reading the others."""
        venues = []
        for raw in raw_orders:
            try:
                venues.append(parse_order(raw))
            except ShapeError as exc:
                self._failed(exc)
        return venues

    def _look_up(self, tracked: _Tracked, ts_ns: int, events: list[VenueEvent]) -> None:
        """Find an UNKNOWN order by its client order id among the product's
        orders created since shortly before it was sent."""
        created_s = tracked.order.created_ns / 1e9 or tracked.sent_wall_s
        # From its creation (journaled), not its sending: an order adopted
        # after a restart was sent long before the restart.
        since = datetime.fromtimestamp(min(created_s, tracked.sent_wall_s) - LOOKUP_MARGIN_S,
                                       UTC)
        coid = tracked.order.client_order_id
        for raw in self.rest.list_orders(product_ids=[tracked.order.product_id],
                                         start_date=since.strftime("%Y-%m-%dT%H:%M:%SZ")):
            if raw.get("client_order_id") == coid:
                venue = parse_order(raw)  # the status before the fills, as in _poll
                tracked.order_id = venue.order_id
                self._by_venue_id[venue.order_id] = coid
                self.stats.unknown_resolved += 1
                log.info("venue: UNKNOWN order %s found as %s (%s)", coid, venue.order_id,
                         venue.status.value)
                events.extend(self._new_fills(self.rest.list_fills(order_ids=[venue.order_id])))
                events.extend(self._apply(tracked, venue, ts_ns, force=True))
                return
        waited = self._clock() - tracked.sent_mono
        if waited >= self.unknown_timeout_s:
            events.extend(self._end(
                tracked, OrderStatus.REJECTED, ts_ns,
                f"not listed by the venue {waited:.0f} s after sending: never placed"))

    def _apply(self, tracked: _Tracked, venue: VenueOrder, ts_ns: int, *,
               force: bool = False) -> list[VenueEvent]:
        if venue.status.is_terminal:
            if not self._fills_complete(tracked, venue):
                now = self._clock()
                if tracked.ended_at_venue is None:
                    tracked.ended_at_venue = now
                    log.info("venue: %s ended %s; waiting for its fills to be listed",
                             tracked.order.client_order_id, venue.status.value)
                if now - tracked.ended_at_venue < FILLS_GRACE_S:
                    return []
                log.error("venue: %s ended %s with %s filled, but only %d fills (%s) are "
                          "listed after %.0f s; ending it, the balances reconcile the rest",
                          tracked.order.client_order_id, venue.status.value, venue.filled_base,
                          tracked.booked_fills, tracked.booked_base, FILLS_GRACE_S)
            return self._end(tracked, venue.status, ts_ns, venue.detail, venue.filled_base)
        if not force and (venue.status, venue.filled_base) == (tracked.status,
                                                              tracked.filled_base):
            return []
        check_transition(tracked.status, venue.status, tracked.order.client_order_id)
        tracked.status, tracked.filled_base = venue.status, venue.filled_base
        return [self._update(tracked.order, venue.status, ts_ns, venue.filled_base,
                             venue.detail, order_id=tracked.order_id)]

    @staticmethod
    def _fills_complete(tracked: _Tracked, venue: VenueOrder) -> bool:
        if venue.fill_count is not None:
            return tracked.booked_fills >= venue.fill_count
        # A fill sized in quote is converted to base: allow its rounding.
        return venue.filled_base - tracked.booked_base <= venue.filled_base * FILL_TOLERANCE

    def _new_fills(self, raw_fills: Iterable[dict]) -> list[VenueEvent]:
        """The fills not seen before, oldest first. Every page is read and
        parsed before any is marked seen, so a failure midway loses none.
        Entries that are not fills, or cannot be read, are skipped (logged
        and counted; the balances reconcile what they moved)."""
        found: dict[str, Fill] = {}
        for raw in list(raw_fills):
            entry = str(raw.get("entry_id") or raw.get("trade_id"))
            coid = self._by_venue_id.get(str(raw.get("order_id")))
            if coid is None:
                self._foreign.add(entry)
                continue
            if entry in self._fill_ids or entry in self._skipped:
                continue
            kind = raw.get("trade_type", "FILL")
            try:
                if kind != "FILL":
                    raise ShapeError(f"trade_type {kind!r} is not a fill")
                fill = parse_fill(raw, coid)
            except ShapeError as exc:
                self._skipped.add(entry)
                self.stats.skipped_entries += 1
                log.error("venue: fill entry %s of %s skipped: %s", entry, coid, exc)
                continue
            found[fill.fill_id] = fill
        self.stats.foreign_fills = len(self._foreign)
        self._fill_ids.update(found)
        for fill in found.values():
            tracked = self._tracked.get(fill.client_order_id)
            if tracked is not None:
                tracked.booked_fills += 1
                tracked.booked_base += fill.base_size
        fills = sorted(found.values(), key=lambda f: f.ts_ns)
        if fills:
            self._last_fill_ns = max(self._last_fill_ns, fills[-1].ts_ns)
        return list(fills)

    def _end(self, tracked: _Tracked, status: OrderStatus, ts_ns: int, detail: str,
             filled: Decimal | None = None) -> list[VenueEvent]:
        coid = tracked.order.client_order_id
        check_transition(tracked.status, status, coid)
        self._tracked.pop(coid, None)
        return [self._update(tracked.order, status, ts_ns,
                             tracked.filled_base if filled is None else filled, detail,
                             order_id=tracked.order_id)]

    def _track(self, order: Order, order_id: str, status: OrderStatus, filled: Decimal,
               wall: float, mono: float) -> None:
        self._tracked[order.client_order_id] = _Tracked(order, order_id, status, filled, wall,
                                                        mono)
        if order_id:
            self._by_venue_id[order_id] = order.client_order_id

    def _unknown(self, order: Order, ts_ns: int, wall: float, mono: float,
                 why: str) -> OrderUpdate:
        self.stats.unknown_orders += 1
        self._track(order, "", OrderStatus.UNKNOWN, ZERO, wall, mono)
        log.warning("venue: order %s is UNKNOWN (%s); it will be looked up, not re-sent",
                    order.client_order_id, why)
        return self._update(order, OrderStatus.UNKNOWN, ts_ns, detail=why)

    def _failed(self, exc: Exception) -> None:
        self.stats.requests_failed += 1
        self.stats.last_error = str(exc)
        if isinstance(exc, Unavailable):
            self._venue_down = True
        log.warning("venue: %s", exc)
        if self._on_error is not None:
            self._on_error(exc)

    def _update(self, order: Order, status: OrderStatus, ts_ns: int, filled: Decimal = ZERO,
                detail: str = "", *, order_id: str = "") -> OrderUpdate:
        return OrderUpdate(sender=self._sender, ts_ns=ts_ns,
                           client_order_id=order.client_order_id, product_id=order.product_id,
                           status=status, filled_base=filled, detail=detail,
                           exchange_order_id=order_id)

