"""The risk policy: turns intents into sized orders, or denies them, and
watches the book for stop-losses, limit breaches and the daily loss limit.

Plain and synchronous; the risk actor feeds it one market batch at a time
(the ledger snapshot marked on that batch plus the strategy's intents for it)
and forwards what it decides. Every refusal is an :class:`OrderDenied` with a
:class:`DenyReason` code.

Rules (defaults from the design notes, all in ``[risk]`` of the config):

* **Position limit**: a product's committed exposure (marked position plus
  open buys plus the new order, in quote) stays within
  ``max_position_fraction`` of equity (10 %). A position that grows past
  ``position_trim_fraction`` (9 %) through price moves alone is trimmed back
  to it by a reduce-only sell (``limit_trim``), so one bar's move rarely
  carries it past the hard limit (an excess smaller than the exchange's
  minimum order is left alone).
* **Daily loss limit**: when equity falls ``daily_loss_limit`` (2 %) below the
  equity at the first mark of the UTC day, trading is ``REDUCING`` for the rest
  of that day: only orders that reduce exposure pass.
* **Stop-loss**: when a long position's mark falls ``stop_loss`` (5 %) below
  its average entry price, the whole position is closed by a reduce-only market
  sell, and new buys of that product are refused for ``stop_loss_cooldown_s``.
  The check runs on the marks the ledger holds (bar closes in replay), so the
  exit fills at the next market data, never at the stop price itself.
* **Minimum size and notional** per product (Coinbase ``base_min_size`` and
  ``quote_min_size``), sizes rounded down to ``base_increment`` and
  ``quote_increment``.
* **Order rate**: at most ``max_orders`` new orders per
  ``order_rate_window_s`` of market time. Exits (stop-loss, trims, unwind
  slices) are never refused for rate: they are counted, and they use the
  budget first.
* **Stale data**: a product the feed marks unreliable (no fresh frame, or an
  invalid book after a sequence gap) takes no new exposure until fresh data
  comes: buys are refused (``STALE_DATA``), sells pass.
* **Drawdown**: when equity falls ``max_drawdown`` (20 %) below its peak,
  trading is ``HALTED`` until an operator resumes it, and with
  ``unwind_on_drawdown`` the book is unwound gradually
  (:mod:`cryptoj_actors.risk.unwind`).

Trading levels: ``HALTED`` refuses every order except the policy's own exits;
``REDUCING`` refuses buys (spot is long-only, so every sell reduces exposure).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from cryptoj_actors.clock import NS_PER_SECOND, iso, utc_day
from cryptoj_actors.config import ProductRules, RiskConfig
from cryptoj_actors.ids import OrderIds
from cryptoj_actors.messages import (
    MarkedBatch,
    OrderDenied,
    PortfolioSnapshot,
    TradingState,
)
from cryptoj_actors.model import (
    DenyReason,
    Order,
    OrderIntent,
    OrderType,
    PositionView,
    Side,
    TradingLevel,
)
from cryptoj_actors.money import ZERO, floor_to_increment
from cryptoj_actors.risk.limits import position_limit_exceeded
from cryptoj_actors.risk.unwind import Unwinder
from cryptoj_actors.state.trading import TradingLevels

#: The sources of the policy's trading levels (:class:`TradingLevels`).
DRAWDOWN, DAILY_LOSS, IMPOSED = "drawdown", "daily_loss", "imposed"

@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided on one market batch."""

    approved: tuple[Order, ...]
    denied: tuple[OrderDenied, ...]
    state_changes: tuple[TradingState, ...]


@dataclass(slots=True)
class _Work:
    """The decision being built; per-batch scratch state."""

    seq: int
    ts_ns: int
    snapshot: PortfolioSnapshot
    approved: list[Order] = field(default_factory=list)
    denied: list[OrderDenied] = field(default_factory=list)
    states: list[TradingState] = field(default_factory=list)
    exited: set[str] = field(default_factory=set)
    spent_quote: Decimal = ZERO
    unreliable: frozenset[str] = frozenset()


class RiskPolicy:
    """Risk limits, sizing and the trading level for one portfolio.

    Args:
        config: the ``[risk]`` section.
        rules: product id -> trading rules (sizes, increments, minimums).
        order_ids: makes client order ids (deterministic in replay).
        sender: the role stamped on the messages it makes.
    """

    def __init__(self, config: RiskConfig, rules: Callable[[str], ProductRules],
                 order_ids: OrderIds, sender: str = "risk") -> None:
        self.config = config
        self._rules = rules
        self._ids = order_ids
        self._sender = sender
        self._day: int | None = None
        self.start_of_day_equity: Decimal | None = None
        #: The policy's own levels (the drawdown halt, the daily loss limit)
        #: and the one imposed from outside (supervisor, operator).
        self.levels = TradingLevels.start((DRAWDOWN, DAILY_LOSS, IMPOSED), TradingState(
            sender=sender, ts_ns=0, level=TradingLevel.ACTIVE, reason="start", since_ns=0))
        self.equity_peak: Decimal | None = None
        self.unwinder = Unwinder(config.unwind_slice_fraction, config.unwind_max_attempts)
        self._cooldown_until: dict[str, int] = {}
        self._recent_orders: deque[int] = deque()
        self._unwind_requested = ""

    # --- trading level -----------------------------------------------------------

    @property
    def state(self) -> TradingState:
        """The effective trading state: the most severe of the policy's own
        (drawdown halt, daily loss) and the one imposed from outside
        (supervisor, operator)."""
        return self.levels.effective

    def impose(self, state: TradingState) -> None:
        """Apply a trading state from the supervisor. ``ACTIVE`` after a halt
        is the operator's resume: it also lifts the policy's own halt and
        ends an unwind (the equity peak restarts from the next mark)."""
        if state.level is TradingLevel.ACTIVE and self.levels.halted(IMPOSED):
            self.levels = self.levels.resume(state)
            self._restart_after_halt()
        self.levels = self.levels.set(IMPOSED, state)

    def _restart_after_halt(self) -> None:
        self.equity_peak = None
        self.unwinder.stop()

    def start_unwind(self, reason: str) -> None:
        """Unwind the whole book from the next batch on (an operator's order)."""
        self._unwind_requested = reason

    # --- persistence (live) ---------------------------------------------------------

    def saved_state(self) -> dict[str, object]:
        """What must survive a restart of a live system, JSON-ready: the UTC day
        and its start-of-day equity, the daily-loss state, the policy's own
        halt, the equity peak and the stop-loss cooldowns (Decimals as text)."""
        def level(s: TradingState) -> dict[str, object]:
            return {"level": s.level.value, "reason": s.reason, "since_ns": s.since_ns}
        return {
            "day": self._day,
            "start_of_day_equity": None if self.start_of_day_equity is None
            else str(self.start_of_day_equity),
            "daily": level(self.levels.of(DAILY_LOSS)),
            "halt": level(self.levels.of(DRAWDOWN)) if self.levels.halted(DRAWDOWN) else None,
            "equity_peak": None if self.equity_peak is None else str(self.equity_peak),
            "cooldown_until": dict(self._cooldown_until),
        }

    def count_orders_sent(self, created_ns: Iterable[int]) -> None:
        """Take up the orders an earlier generation sent (their decision
        times, ns), so that a restart does not open a fresh order-rate window:
        the orders within it still count."""
        self._recent_orders = deque(sorted(created_ns))

    def restore_state(self, state: dict[str, Any]) -> None:
        """Take up a :meth:`saved_state` of an earlier start.

        Raises:
            ValueError: the state is malformed.
        """
        def level(raw: dict[str, Any] | None) -> TradingState | None:
            if raw is None:
                return None
            return TradingState(sender=self._sender, ts_ns=int(raw["since_ns"]),
                                level=TradingLevel(raw["level"]), reason=str(raw["reason"]),
                                since_ns=int(raw["since_ns"]))
        try:
            self._day = None if state["day"] is None else int(state["day"])
            sod = state["start_of_day_equity"]
            self.start_of_day_equity = None if sod is None else Decimal(sod)
            for source, key in ((DAILY_LOSS, "daily"), (DRAWDOWN, "halt")):
                restored = level(state[key])
                if restored is not None:
                    self.levels = self.levels.set(source, restored)
            peak = state["equity_peak"]
            self.equity_peak = None if peak is None else Decimal(peak)
            self._cooldown_until = {str(k): int(v) for k, v in state["cooldown_until"].items()}
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ValueError(f"not a risk state: {exc!r}") from None

    # --- the decision ------------------------------------------------------------

    def decide(self, marked: MarkedBatch, intents: Sequence[OrderIntent]) -> Decision:
        """Decide on one market batch: exits first, then the strategy's intents.

        ``marked.snapshot`` must be the ledger marked on ``marked.batch``.
        """
        w = _Work(seq=marked.batch.seq, ts_ns=marked.batch.ts_ns, snapshot=marked.snapshot,
                  unreliable=frozenset(marked.batch.unreliable))
        self._roll_day(w)
        self._check_daily_loss(w)
        self._check_drawdown(w)
        for pos in w.snapshot.positions:
            self._check_exit(w, pos)
        self._unwind(w)
        # Every intent is sized against this batch's snapshot, so a second one
        # for a product (a live batch can hold several of its bars) would buy
        # the target again: one per product, the latest.
        latest = {intent.product_id: intent for intent in intents}
        for intent in latest.values():
            if intent.product_id not in w.exited:
                self._size_intent(w, intent)
        return Decision(tuple(w.approved), tuple(w.denied), tuple(w.states))

    def _check_drawdown(self, w: _Work) -> None:
        equity = w.snapshot.equity
        if self.equity_peak is None or equity > self.equity_peak:
            self.equity_peak = equity
        requested, self._unwind_requested = self._unwind_requested, ""
        if requested:
            self.unwinder.start(requested, w.snapshot)
        if self.levels.halted(DRAWDOWN) or not self.equity_peak:
            return
        drawdown = (self.equity_peak - equity) / self.equity_peak
        if drawdown >= self.config.max_drawdown:
            reason = (f"drawdown limit: equity {equity:.2f} is {drawdown:.2%} below its peak "
                      f"{self.equity_peak:.2f}")
            halt = TradingState(sender=self._sender, ts_ns=w.ts_ns, level=TradingLevel.HALTED,
                                reason=reason, since_ns=w.ts_ns)
            self.levels = self.levels.set(DRAWDOWN, halt)
            w.states.append(halt)
            if self.config.unwind_on_drawdown:
                self.unwinder.start(reason, w.snapshot)

    def _unwind(self, w: _Work) -> None:
        if not self.unwinder.active:
            return
        planned = self.unwinder.next_slice(w.snapshot, w.exited)
        if planned is None:
            return
        pos = w.snapshot.position(planned.product_id)
        assert pos is not None
        rules = self._rules(pos.product_id)
        size = floor_to_increment(planned.base_size, rules.base_increment)
        remainder = pos.base_size - size
        if remainder and (remainder < rules.min_base_size
                          or remainder * pos.mark_price < rules.min_notional):
            size = pos.base_size  # the last slice takes the remnant too
        self._exit(w, pos, size, rules,
                   "unwind_fallback" if planned.fallback and size == pos.base_size else "unwind")

    def _roll_day(self, w: _Work) -> None:
        day = utc_day(w.ts_ns)
        if self._day is not None and day <= self._day:
            return  # days only move forward, whatever a late timestamp says
        self._day = day
        self.start_of_day_equity = w.snapshot.equity
        if self.levels.of(DAILY_LOSS).level is not TradingLevel.ACTIVE:
            self._set_daily(w, TradingLevel.ACTIVE, f"new UTC day {iso(w.ts_ns)[:10]}")

    def _check_daily_loss(self, w: _Work) -> None:
        sod = self.start_of_day_equity
        if self.levels.of(DAILY_LOSS).level is not TradingLevel.ACTIVE or not sod:
            return
        floor = sod * (1 - self.config.daily_loss_limit)
        if w.snapshot.equity < floor:
            loss = (sod - w.snapshot.equity) / sod
            self._set_daily(w, TradingLevel.REDUCING,
                            f"daily loss limit: equity {w.snapshot.equity:.2f} is {loss:.2%} "
                            f"below start-of-day {sod:.2f}")

    def _set_daily(self, w: _Work, level: TradingLevel, reason: str) -> None:
        daily = TradingState(sender=self._sender, ts_ns=w.ts_ns, level=level, reason=reason,
                             since_ns=w.ts_ns)
        self.levels = self.levels.set(DAILY_LOSS, daily)
        w.states.append(daily)

    def _check_exit(self, w: _Work, pos: PositionView) -> None:
        free = pos.base_size - pos.reserved_base
        if free <= 0 or pos.mark_price <= 0:
            return
        rules = self._rules(pos.product_id)
        if free < rules.min_base_size or free * pos.mark_price < rules.min_notional:
            return  # a remnant below the exchange minimums cannot be sold: treated as flat
        # mark <= avg entry * (1 - stop), without dividing the cost basis
        if pos.notional <= pos.cost_basis * (1 - self.config.stop_loss):
            self._cooldown_until[pos.product_id] = (
                w.ts_ns + self.config.stop_loss_cooldown_s * NS_PER_SECOND)
            self._exit(w, pos, free, rules, "stop_loss")
            return
        trim_to = self.config.position_trim_fraction * w.snapshot.equity
        excess = (pos.notional - pos.reserved_base * pos.mark_price) - trim_to  # open sells count
        if excess > 0:
            # Round the size up: a trim that leaves the position a hair over
            # the limit would have to be repeated on the next batch.
            steps = (excess / pos.mark_price / rules.base_increment).to_integral_value(ROUND_CEILING)
            size = min(free, steps * rules.base_increment)
            if size >= rules.min_base_size and size * pos.mark_price >= rules.min_notional:
                self._exit(w, pos, size, rules, "limit_trim")
            # else: over the band by less than the exchange's smallest order;
            # the hard limit is still far (the band sits below it)

    def _exit(self, w: _Work, pos: PositionView, size: Decimal, rules: ProductRules,
              reason: str) -> None:
        w.exited.add(pos.product_id)
        order = self._order(w, pos.product_id, Side.SELL, base_size=size, reduce_only=True,
                            reason=reason)
        denial = self._size_denial(w, order, size, size * pos.mark_price, rules)
        if denial:
            w.denied.append(denial)
        else:
            self._approve(w, order)

    def _size_intent(self, w: _Work, intent: OrderIntent) -> None:
        pos = w.snapshot.position(intent.product_id)
        if pos is None or pos.mark_price <= 0:
            order = self._order(w, intent.product_id, Side.BUY, reason="rebalance")
            w.denied.append(self._deny(w, order, DenyReason.NO_MARK,
                                       f"no mark price for {intent.product_id} yet"))
            return
        equity = w.snapshot.equity
        if equity <= 0:
            return
        rules = self._rules(pos.product_id)
        mark = pos.mark_price
        free = pos.base_size - pos.reserved_base
        committed = pos.notional + pos.reserved_quote - pos.reserved_base * mark
        drift = intent.target_weight - committed / equity
        closing = intent.target_weight == 0 and free > 0
        if not closing and abs(drift) <= intent.rebalance_threshold:
            return
        reason = intent.reason or "rebalance"
        if closing or drift < 0:
            size = free if closing else min(
                free, floor_to_increment(-drift * equity / mark, rules.base_increment))
            remainder = free - size
            if remainder and (remainder < rules.min_base_size
                              or remainder * mark < rules.min_notional):
                size = free  # never leave an unsellable remnant behind
            if closing and size * mark < rules.min_notional:
                return  # a remnant below the exchange minimum cannot be sold: it is flat
            order = self._order(w, pos.product_id, Side.SELL, base_size=size, reduce_only=True,
                                reason=reason)
            self._check_and_approve(w, order, size, size * mark, rules)
        else:
            quote = floor_to_increment(drift * equity, rules.quote_increment)
            order = self._order(w, pos.product_id, Side.BUY, quote_size=quote, reason=reason)
            self._check_and_approve(w, order, quote / mark, quote, rules, pos)

    def _check_and_approve(self, w: _Work, order: Order, base: Decimal, notional: Decimal,
                           rules: ProductRules, pos: PositionView | None = None) -> None:
        denial = self._policy_denial(w, order, pos) or self._size_denial(
            w, order, base, notional, rules) or self._rate_denial(w, order)
        if denial:
            w.denied.append(denial)
        else:
            self._approve(w, order)

    def _policy_denial(self, w: _Work, order: Order, pos: PositionView | None
                       ) -> OrderDenied | None:
        level = self.state.level
        if level is TradingLevel.HALTED:
            return self._deny(w, order, DenyReason.TRADING_HALTED, self.state.reason)
        if order.side is Side.SELL:
            return None
        if level is TradingLevel.REDUCING:
            return self._deny(w, order, DenyReason.TRADING_REDUCING, self.state.reason)
        if order.product_id in w.unreliable:
            return self._deny(w, order, DenyReason.STALE_DATA,
                              f"{order.product_id}: market data stale or book invalid")
        until = self._cooldown_until.get(order.product_id, 0)
        if w.ts_ns < until:
            return self._deny(w, order, DenyReason.STOP_LOSS_COOLDOWN,
                              f"{order.product_id} stopped out; no buys until {iso(until)}")
        assert pos is not None and order.quote_size is not None
        if position_limit_exceeded(
            position_notional=pos.notional, open_buy_quote=pos.reserved_quote,
            order_quote=order.quote_size, equity=w.snapshot.equity,
            max_fraction=self.config.max_position_fraction,
        ):
            return self._deny(w, order, DenyReason.POSITION_LIMIT,
                              f"{order.product_id} would exceed "
                              f"{self.config.max_position_fraction:.2%} of equity")
        available = w.snapshot.available_cash - w.spent_quote
        if order.quote_size > available:
            return self._deny(w, order, DenyReason.INSUFFICIENT_FUNDS,
                              f"buy of {order.quote_size} exceeds available cash {available:.2f}")
        return None

    def _size_denial(self, w: _Work, order: Order, base: Decimal, notional: Decimal,
                     rules: ProductRules) -> OrderDenied | None:
        if base <= 0 or base < rules.min_base_size:
            return self._deny(w, order, DenyReason.MIN_SIZE,
                              f"size {base:.8f} below the minimum {rules.min_base_size}")
        if notional < rules.min_notional:
            return self._deny(w, order, DenyReason.MIN_NOTIONAL,
                              f"notional {notional:.2f} below the minimum {rules.min_notional}")
        return None

    def _rate_denial(self, w: _Work, order: Order) -> OrderDenied | None:
        window_start = w.ts_ns - self.config.order_rate_window_s * NS_PER_SECOND
        recent = self._recent_orders
        while recent and recent[0] <= window_start:
            recent.popleft()
        if len(recent) >= self.config.max_orders:
            return self._deny(w, order, DenyReason.ORDER_RATE,
                              f"{len(recent)} orders in the last "
                              f"{self.config.order_rate_window_s} s")
        return None

    def _approve(self, w: _Work, order: Order) -> None:
        self._recent_orders.append(w.ts_ns)
        if order.quote_size is not None:
            w.spent_quote += order.quote_size
        w.approved.append(order)

    def _order(self, w: _Work, product_id: str, side: Side, *, base_size: Decimal | None = None,
               quote_size: Decimal | None = None, reduce_only: bool = False,
               reason: str) -> Order:
        index = len(w.approved) + len(w.denied)
        return Order(client_order_id=self._ids.new(w.seq, index), product_id=product_id,
                     side=side, order_type=OrderType.MARKET, base_size=base_size,
                     quote_size=quote_size, reduce_only=reduce_only, decision_seq=w.seq,
                     created_ns=w.ts_ns, reason=reason)

    def _deny(self, w: _Work, order: Order, reason: DenyReason, detail: str) -> OrderDenied:
        return OrderDenied(sender=self._sender, ts_ns=w.ts_ns,
                           client_order_id=order.client_order_id, product_id=order.product_id,
                           side=order.side, reason_code=reason.value, detail=detail, seq=w.seq)
