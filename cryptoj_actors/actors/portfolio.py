"""The portfolio actor: the only writer of the ledger.

Per market batch (relayed by the executor after it matched the batch):
mark the positions, record an equity point, and send risk the batch with the
snapshot marked on it. Per risk verdict: reserve the approved orders (the
final check on cash, position and the position limit, serialized here), send
the reserved ones to the executor. Fills and
order updates come from the executor; every fill is booked, every ended
order's reservation released. The venue's balances (live, when the order
client reconciles) are compared with the ledger: every difference is logged
and appended to ``reconciliation.jsonl`` in the run directory, and applied
as a transfer when no order was open (:mod:`cryptoj_actors.portfolio.reconcile`).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from decimal import Decimal

import orjson

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.clock import NS_PER_SECOND, utc_day
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.messages import (
    EndOfData,
    Fill,
    MarkedBatch,
    MarketBatch,
    OrderBatch,
    OrderDenied,
    OrderUpdate,
    PortfolioSnapshot,
    RiskDecisions,
    VenueBalances,
)
from cryptoj_actors.model import Bar, MarketEvent, Ticker, Trade
from cryptoj_actors.portfolio.curve import EquityCurve
from cryptoj_actors.portfolio.ledger import Ledger, ReservationError
from cryptoj_actors.portfolio.reconcile import (
    BalanceDifference,
    apply_differences,
    balance_differences,
)
from cryptoj_actors.portfolio.recovery import rebuild_ledger
from cryptoj_actors.portfolio.sketch import CurveSketch
from cryptoj_actors.report.metrics import EquityPoint, TradeRecord
from cryptoj_actors.report.metrics import snapshot as performance_snapshot
from cryptoj_actors.report.results import PortfolioResults
from cryptoj_actors.report.running import RunningPerformance
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

#: The running performance is published for the status view at most this
#: often (seconds; and at the end): fresh enough to watch, rarely enough to be
#: free. Display only: when it is published changes no result.
PUBLISH_INTERVAL_S = 0.5
#: Fills the status board keeps, the latest last (the dashboard's list).
RECENT_FILLS = 20
#: A product the ledger holds nothing of yet: (notional, mark price).
_UNHELD: tuple[Decimal, Decimal | None] = (Decimal(0), None)


def _mark_price(event: MarketEvent) -> Decimal | None:
    """What a market event says a product is worth (quote per base): a bar's
    close, a trade's or ticker's price, a valid book's mid."""
    if isinstance(event, Bar):
        return event.close
    if isinstance(event, (Trade, Ticker)):
        return event.price
    return event.mid


class PortfolioActor(RoleActor):
    role = "portfolio"

    def __init__(self, runtime: Runtime, generation: int = 0, *, ledger: Ledger,
                 products: tuple[str, ...], periods_per_year: float = 8766.0) -> None:
        super().__init__(runtime, generation)
        self.ledger = ledger
        self.products = products
        self.performance = RunningPerformance(
            risk_free_rate=runtime.config.report.risk_free_rate,
            periods_per_year=periods_per_year) if runtime.config.ui.live_metrics else None
        live = runtime.run.mode == "live"
        self.equity = EquityCurve(runtime.config.feed.bar_interval_s * NS_PER_SECOND
                                  if live else None)
        self.trades: list[TradeRecord] = []
        self.denials: list[OrderDenied] = []
        self.transfers: list[BalanceDifference] = []
        self._reasons: dict[str, str] = {}
        self._seq = 0
        self._ts_ns = 0
        self._day: int | None = None
        self._published = 0.0
        self._sketch = CurveSketch()
        self._recent: deque[TradeRecord] = deque(maxlen=RECENT_FILLS)
        self._alert_fills = live and runtime.config.alerts.fills

    def handlers(self) -> dict[type, Handler]:
        return {MarketBatch: self.on_batch, RiskDecisions: self.on_decisions, Fill: self.on_fill,
                OrderUpdate: self.on_update, VenueBalances: self.on_balances,
                EndOfData: self.on_end}

    def started(self) -> None:
        run = self.rt.run
        if run.mode != "live":
            return  # a replay starts from its first batch, with a fresh ledger
        journal = Journal(run.state.journal, run.ledger_id)
        try:
            self.ledger = rebuild_ledger(journal, self.ledger.starting_cash,
                                         self.rt.config.risk.max_position_fraction)
            self._reasons = {o.client_order_id: o.reason for o in journal.open_orders()}
            fills = len(journal.fills())
        finally:
            journal.close()
        self.rt.board.open_orders = self.ledger.open_orders()
        if fills:
            log.warning("portfolio: ledger restored from the journal (%d fills): cash %s, %s",
                        fills, self.ledger.cash, ", ".join(
                            f"{p.base_size} {p.product_id}" for p in self.ledger.snapshot(
                                sender=self.role, ts_ns=0, seq=0).positions if p.base_size)
                        or "flat")

    def on_batch(self, batch: MarketBatch) -> None:
        for event in batch.events:
            price = _mark_price(event)
            if price is not None:
                self.ledger.mark(event.product_id, price)
        self._seq, self._ts_ns = batch.seq, batch.ts_ns
        snapshot = self.ledger.snapshot(sender=self.role, ts_ns=batch.ts_ns, seq=batch.seq)
        board = self.rt.board
        day = utc_day(batch.ts_ns)
        if day != self._day:  # today's PnL counts from the equity at the day's start
            self._day = day
            last = self.equity.last
            board.day_start_equity = last.equity if last is not None else snapshot.equity
        board.snapshot = snapshot
        point = self._point(snapshot)
        self.equity.add(point)
        self._sketch.add(point.time_ns, point.equity)
        if self.performance is not None:
            self.performance.add_point(point.time_ns, point.equity, point.gross_exposure)
        now = time.monotonic()
        if now - self._published >= PUBLISH_INTERVAL_S:
            self._published = now
            board.curve = self._sketch.points()
            if self.performance is not None:
                board.performance = performance_snapshot(self.performance)
        self.send("risk", MarkedBatch(sender=self.role, ts_ns=batch.ts_ns, batch=batch,
                                      snapshot=snapshot))

    def on_decisions(self, decisions: RiskDecisions) -> None:
        reserved = []
        for order in decisions.approved:
            try:
                self.ledger.reserve(order)
            except ReservationError as exc:
                self.rt.telemetry.denials["reserve", exc.reason_code] += 1
                self.denials.append(OrderDenied(
                    sender=self.role, ts_ns=decisions.ts_ns,
                    client_order_id=order.client_order_id, product_id=order.product_id,
                    side=order.side, reason_code=exc.reason_code, detail=exc.detail,
                    seq=decisions.seq))
                log.warning("portfolio: denied %s", exc)
                continue
            self._reasons[order.client_order_id] = order.reason
            reserved.append(order)
        if reserved:
            self.rt.board.open_orders = self.ledger.open_orders()
        self.send("executor", OrderBatch(sender=self.role, ts_ns=decisions.ts_ns,
                                         seq=decisions.seq, orders=tuple(reserved)))

    def on_fill(self, fill: Fill) -> None:
        result = self.ledger.apply_fill(fill)
        self.rt.board.fills += 1
        self.rt.telemetry.fills[fill.liquidity.value] += 1
        if self._alert_fills:
            self.send("notifier", fill)
        if self.performance is not None:
            self.performance.add_trade(fill.side.value, result.realized_pnl, fill.fee)
        trade = TradeRecord(
            time_ns=fill.ts_ns, product_id=fill.product_id, side=fill.side.value,
            base_size=fill.base_size, price=fill.price, fee=fill.fee,
            client_order_id=fill.client_order_id, realized_pnl=result.realized_pnl,
            reason=self._reasons.get(fill.client_order_id, "external"),
            liquidity=fill.liquidity.value.lower())
        self.trades.append(trade)
        self._recent.append(trade)
        board = self.rt.board
        board.recent_fills = tuple(self._recent)
        board.open_orders = self.ledger.open_orders()

    def on_update(self, update: OrderUpdate) -> None:
        if update.status.is_terminal:
            self.rt.telemetry.orders[update.status.value] += 1
            self.ledger.release(update.client_order_id)
            self.rt.board.open_orders = self.ledger.open_orders()
            self._reasons.pop(update.client_order_id, None)
            if update.detail:
                log.info("portfolio: order %s %s: %s", update.client_order_id,
                         update.status.value, update.detail)

    def on_balances(self, balances: VenueBalances) -> None:
        snapshot = self.ledger.snapshot(sender=self.role, ts_ns=balances.ts_ns, seq=self._seq)
        differences = balance_differences(snapshot, balances, self.products)
        if not differences:
            log.info("portfolio: reconciled: the venue's balances match the ledger")
            return
        if balances.settled:
            differences = apply_differences(self.ledger, differences)
            self.transfers.extend(d for d in differences if d.applied)
        self.rt.telemetry.errors["portfolio.reconcile"] += len(differences)
        with open(self.rt.run.files.reconciliation, "ab") as out:
            for d in differences:
                log.warning("portfolio: the venue holds %s %s, the ledger %s: %s", d.venue,
                            d.currency, d.ledger, "applied" if d.applied else
                            d.note or "reported (orders were open)")
                out.write(orjson.dumps({
                    "time_ns": balances.ts_ns, "currency": d.currency,
                    "product_id": d.product_id, "ledger": str(d.ledger), "venue": str(d.venue),
                    "applied": d.applied, "value": str(d.value), "note": d.note}) + b"\n")

    def on_end(self, end: EndOfData) -> None:
        self.ledger.check_invariants()
        if self.performance is not None and self.performance.points:
            self.rt.board.performance = performance_snapshot(self.performance)
        self.send("supervisor", end)

    def results(self) -> PortfolioResults:
        """The run so far (called through a proxy, in this actor's thread)."""
        snapshot = self.ledger.snapshot(sender=self.role, ts_ns=self._ts_ns, seq=self._seq)
        return PortfolioResults(snapshot=snapshot, equity=tuple(self.equity.points),
                                trades=tuple(self.trades), denials=tuple(self.denials),
                                order_status=dict(self.rt.telemetry.orders),
                                starting_cash=self.ledger.starting_cash,
                                transfers=tuple(self.transfers))

    def _point(self, s: PortfolioSnapshot) -> EquityPoint:
        # Once an hour on the replay's critical path: one pass over the
        # positions (in the snapshot's order, which the sum keeps), one over
        # the products.
        held: dict[str, tuple[Decimal, Decimal | None]] = {}
        gross = Decimal(0)
        for p in s.positions:
            notional = p.notional
            held[p.product_id] = (notional, p.mark_price)
            gross += abs(notional)
        equity = s.equity
        weights, marks = [], []
        for product in self.products:
            notional, price = held.get(product, _UNHELD)
            weights.append((product, notional / equity if equity else Decimal(0)))
            marks.append((product, price))
        return EquityPoint(time_ns=s.ts_ns, equity=equity, cash=s.cash,
                           realized_pnl=s.realized_pnl, unrealized_pnl=s.unrealized_pnl,
                           fees=s.fees, gross_exposure=gross / equity if equity else Decimal(0),
                           weights=tuple(weights), marks=tuple(marks))
