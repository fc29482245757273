"""The risk policy (cryptoj_actors.risk.policy.RiskPolicy.decide).

Snapshots are built through a real :class:`Ledger`, so cash, positions,
reservations and equity are always consistent with each other.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from cryptoj_actors.clock import NS_PER_HOUR, NS_PER_SECOND, from_datetime
from cryptoj_actors.config import ProductRules, RiskConfig
from cryptoj_actors.ids import OrderIds
from cryptoj_actors.messages import Fill, MarkedBatch, MarketBatch, TradingState
from cryptoj_actors.model import (
    DenyReason,
    Liquidity,
    Order,
    OrderIntent,
    OrderType,
    Side,
    TradingLevel,
)
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.risk.policy import Decision, RiskPolicy

D = Decimal
BTC, ETH, LTC = "BTC-USD", "ETH-USD", "LTC-USD"
# 2021-03-01T01:00:00Z: a bar close, one hour into a UTC day.
T0 = from_datetime(datetime(2021, 3, 1, 1, 0, tzinfo=timezone.utc))
H = NS_PER_HOUR
S = NS_PER_SECOND


# --- helpers --------------------------------------------------------------------


class Book:
    """A ledger with helpers to open positions and reserve open orders."""

    def __init__(self, cash: str = "10000") -> None:
        self.ledger = Ledger(D(cash))
        self._n = 0

    def _coid(self) -> str:
        self._n += 1
        return f"setup-{self._n}"

    def mark(self, product_id: str, price: str) -> Book:
        self.ledger.mark(product_id, D(price))
        return self

    def buy(self, product_id: str, size: str, price: str) -> Book:
        """Buy ``size`` at ``price`` with no fee (reserved, then filled), and mark there."""
        coid = self._coid()
        self.ledger.mark(product_id, D(price))
        self.ledger.reserve(Order(client_order_id=coid, product_id=product_id, side=Side.BUY,
                                  order_type=OrderType.MARKET, quote_size=D(size) * D(price)))
        self._fill(coid, product_id, Side.BUY, size, price)
        return self

    def sell(self, product_id: str, size: str, price: str) -> Book:
        coid = self._coid()
        self.ledger.reserve(Order(client_order_id=coid, product_id=product_id, side=Side.SELL,
                                  order_type=OrderType.MARKET, base_size=D(size)))
        self._fill(coid, product_id, Side.SELL, size, price)
        return self

    def _fill(self, coid: str, product_id: str, side: Side, size: str, price: str) -> None:
        self.ledger.apply_fill(Fill(
            sender="test", ts_ns=0, fill_id=f"{coid}-fill", client_order_id=coid,
            product_id=product_id, side=side, base_size=D(size), price=D(price), fee=D(0),
            liquidity=Liquidity.TAKER, final=True))

    def open_buy(self, product_id: str, quote: str) -> Book:
        self.ledger.reserve(Order(client_order_id=self._coid(), product_id=product_id,
                                  side=Side.BUY, order_type=OrderType.MARKET, quote_size=D(quote)))
        return self

    def open_sell(self, product_id: str, base: str) -> Book:
        self.ledger.reserve(Order(client_order_id=self._coid(), product_id=product_id,
                                  side=Side.SELL, order_type=OrderType.MARKET, base_size=D(base)))
        return self

    def marked(self, seq: int = 1, ts_ns: int = T0) -> MarkedBatch:
        snapshot = self.ledger.snapshot(sender="portfolio", ts_ns=ts_ns, seq=seq)
        batch = MarketBatch(sender="feed", ts_ns=ts_ns, seq=seq, events=())
        return MarkedBatch(sender="portfolio", ts_ns=ts_ns, batch=batch, snapshot=snapshot)


# Most tests trim at the hard limit itself; the trim band has its own test.
AT_LIMIT = RiskConfig(position_trim_fraction=RiskConfig().max_position_fraction)


def policy(config: RiskConfig | None = None,
           rules: dict[str, ProductRules] | None = None) -> RiskPolicy:
    table = rules or {}
    return RiskPolicy(config or AT_LIMIT, lambda p: table.get(p, ProductRules()),
                      OrderIds(deterministic=True))


def intent(product_id: str, weight: str, threshold: str = "0.015",
           reason: str = "") -> OrderIntent:
    return OrderIntent(product_id=product_id, target_weight=D(weight),
                       rebalance_threshold=D(threshold), reason=reason)


def codes(decision: Decision) -> list[tuple[str, str, str]]:
    return [(d.product_id, d.side.value, d.reason_code) for d in decision.denied]


def halted(reason: str = "operator halt") -> TradingState:
    return TradingState(sender="supervisor", ts_ns=T0, level=TradingLevel.HALTED,
                        reason=reason, since_ns=T0)


def imposed(level: TradingLevel, reason: str = "imposed") -> TradingState:
    return TradingState(sender="supervisor", ts_ns=T0, level=level, reason=reason, since_ns=T0)


# --- sizing ---------------------------------------------------------------------


def test_buy_is_sized_in_quote_floored_to_quote_increment():
    # ETH at a non-round mark makes equity 10000.16913472.
    book = Book().buy(ETH, "0.123456", "1000").mark(ETH, "1001.37").mark(BTC, "50000")
    marked = book.marked(seq=7, ts_ns=T0)
    assert marked.snapshot.equity == D("10000.16913472")
    decision = policy().decide(marked, [intent(BTC, "0.05")])
    assert decision.denied == ()
    assert decision.state_changes == ()
    # 0.05 * 10000.16913472 = 500.008456736: floored to 500.00 (rounding would give 500.01).
    assert decision.approved == (Order(
        client_order_id="rp-0000007-0", product_id=BTC, side=Side.BUY,
        order_type=OrderType.MARKET, base_size=None, quote_size=D("500.00"),
        limit_price=None, reduce_only=False, decision_seq=7, created_ns=T0,
        reason="rebalance"),)


def test_buy_covers_only_the_drift_from_the_current_weight():
    book = Book().buy(BTC, "0.01", "50000")  # 500 of 10000: weight 0.05
    decision = policy().decide(book.marked(), [intent(BTC, "0.0651", reason="trend")])
    [order] = decision.approved
    assert order.side is Side.BUY
    assert order.quote_size == D("151.00")  # (0.0651 - 0.05) * 10000
    assert order.reason == "trend"


def test_several_intents_for_a_product_in_one_batch_give_one_order_for_the_latest():
    # A live batch can hold several bars of a product, each with its intent;
    # sized against the same snapshot, each would buy the whole drift again.
    book = Book().mark(BTC, "50000").mark(ETH, "2000")
    intents = [intent(BTC, "0.05"), intent(ETH, "0.03"), intent(BTC, "0.04"),
               intent(BTC, "0.06")]
    decision = policy().decide(book.marked(), intents)
    assert [(o.product_id, o.quote_size) for o in decision.approved] == [
        (BTC, D("600.00")), (ETH, D("300.00"))]


@pytest.mark.parametrize("target", ["0.05", "0.06", "0.065", "0.035", "0.04"])
def test_drift_within_threshold_gives_nothing(target):
    book = Book().buy(BTC, "0.01", "50000")  # weight exactly 0.05, equity 10000
    decision = policy().decide(book.marked(), [intent(BTC, target, "0.015")])
    assert decision == Decision(approved=(), denied=(), state_changes=())


def test_drift_just_over_threshold_trades():
    book = Book().buy(BTC, "0.01", "50000")
    decision = policy().decide(book.marked(), [intent(BTC, "0.0349", "0.015")])
    [order] = decision.approved
    assert order.side is Side.SELL
    assert order.base_size == D("0.00302")  # 0.0151 * 10000 / 50000


def test_open_sells_count_as_already_sold_in_the_current_weight():
    # 0.01 BTC held, 0.004 of it in an open sell: committed weight 0.03.
    book = Book().buy(BTC, "0.01", "50000").open_sell(BTC, "0.004")
    assert policy().decide(book.marked(), [intent(BTC, "0.03")]).approved == ()
    [order] = policy().decide(book.marked(), [intent(BTC, "0.05")]).approved
    assert (order.side, order.quote_size) == (Side.BUY, D("200.00"))


def test_target_zero_sells_the_whole_free_position():
    book = Book().buy(BTC, "0.01", "50000").open_sell(BTC, "0.003")
    decision = policy().decide(book.marked(seq=3), [intent(BTC, "0")])
    assert decision.denied == ()
    assert decision.approved == (Order(
        client_order_id="rp-0000003-0", product_id=BTC, side=Side.SELL,
        order_type=OrderType.MARKET, base_size=D("0.007"), quote_size=None,
        reduce_only=True, decision_seq=3, created_ns=T0, reason="rebalance"),)


def test_target_zero_closes_even_a_position_within_the_threshold():
    book = Book().buy(BTC, "0.001", "50000")  # weight 0.005, below the 0.015 threshold
    [order] = policy().decide(book.marked(), [intent(BTC, "0")]).approved
    assert (order.side, order.base_size, order.reduce_only) == (Side.SELL, D("0.001"), True)


def test_target_zero_with_an_unsellable_remnant_does_nothing():
    # 0.00001 BTC at 50000 is worth 0.50, below the 1.00 minimum notional: it is flat.
    book = Book().buy(BTC, "0.00001", "50000")
    decision = policy().decide(book.marked(), [intent(BTC, "0")])
    assert decision == Decision(approved=(), denied=(), state_changes=())


def test_target_zero_without_a_position_does_nothing():
    book = Book().mark(BTC, "50000")
    assert policy().decide(book.marked(), [intent(BTC, "0")]) == Decision((), (), ())


def test_partial_sell_is_floored_to_base_increment():
    book = Book("100000").buy(BTC, "0.15", "50000")  # weight 0.075, equity 100000
    decision = policy().decide(book.marked(), [intent(BTC, "0.033333333")])
    [order] = decision.approved
    # drift -0.041666667 * 100000 / 50000 = 0.083333334 BTC, floored to 1e-8
    assert (order.side, order.base_size, order.reduce_only) == (Side.SELL, D("0.08333333"), True)
    assert order.quote_size is None


def test_partial_sell_respects_a_coarse_base_increment():
    rules = {BTC: ProductRules(base_increment=D("0.001"), min_base_size=D("0.001"))}
    book = Book("100000").buy(BTC, "0.15", "50000")
    [order] = policy(rules=rules).decide(book.marked(), [intent(BTC, "0.033333333")]).approved
    assert order.base_size == D("0.083")


@pytest.mark.parametrize(
    ("rules", "target", "size"),
    [
        # remainder 0.00008 BTC = 4.00 quote, below min_notional 10: sell everything
        (ProductRules(min_notional=D("10")), "0.00004", "0.1"),
        # remainder 0.0005 BTC, below min_base_size 0.001: sell everything
        (ProductRules(min_base_size=D("0.001")), "0.00025", "0.1"),
        # remainder 0.0004 BTC = 20.00 quote, above both minimums: a partial sell
        (ProductRules(min_notional=D("10")), "0.0002", "0.0996"),
    ],
)
def test_partial_sell_never_leaves_a_remainder_below_the_minimums(rules, target, size):
    book = Book("100000").buy(BTC, "0.1", "50000")  # weight 0.05
    decision = policy(rules={BTC: rules}).decide(book.marked(), [intent(BTC, target, "0.00001")])
    assert decision.denied == ()
    [order] = decision.approved
    assert (order.side, order.base_size) == (Side.SELL, D(size))
    remainder = D("0.1") - order.base_size
    assert remainder == 0 or (remainder >= rules.min_base_size
                              and remainder * D("50000") >= rules.min_notional)


def test_no_positive_equity_gives_nothing():
    # A ledger cannot reach zero equity with a positive mark; edit a snapshot instead.
    marked = Book().mark(BTC, "50000").marked()
    broke = replace(marked.snapshot, equity=D(0), cash=D(0), available_cash=D(0))
    marked = replace(marked, snapshot=broke)
    assert policy().decide(marked, [intent(BTC, "0.05")]) == Decision((), (), ())


# --- denials --------------------------------------------------------------------


def test_halted_denies_buys_and_strategy_sells_but_not_stop_loss_exits():
    book = (Book().buy(BTC, "0.01", "50000").buy(ETH, "1", "100").mark(ETH, "90")
            .mark(LTC, "100"))
    p = policy()
    p.impose(halted("operator halt"))
    assert p.state.level is TradingLevel.HALTED
    decision = p.decide(book.marked(seq=5), [intent(BTC, "0"), intent(LTC, "0.05")])
    # the stop-loss exit of ETH (mark 90 <= 95) comes first and passes
    [exit_order] = decision.approved
    assert (exit_order.product_id, exit_order.side, exit_order.reason) == (ETH, Side.SELL,
                                                                           "stop_loss")
    assert exit_order.reduce_only and exit_order.base_size == D("1")
    assert codes(decision) == [(BTC, "SELL", "TRADING_HALTED"), (LTC, "BUY", "TRADING_HALTED")]
    assert [d.detail for d in decision.denied] == ["operator halt", "operator halt"]
    assert [d.client_order_id for d in decision.denied] == ["rp-0000005-1", "rp-0000005-2"]
    assert all(d.seq == 5 and d.ts_ns == T0 and d.sender == "risk" for d in decision.denied)


def test_halted_still_trims_a_position_over_the_limit():
    book = Book().buy(BTC, "0.03", "30000").mark(BTC, "40000.01")
    p = policy()
    p.impose(halted())
    [order] = p.decide(book.marked(), []).approved
    assert (order.reason, order.side) == ("limit_trim", Side.SELL)


def test_imposing_active_lifts_a_halt():
    book = Book().mark(BTC, "50000")
    p = policy()
    p.impose(halted())
    assert codes(p.decide(book.marked(seq=1), [intent(BTC, "0.05")])) == [
        (BTC, "BUY", "TRADING_HALTED")]
    p.impose(imposed(TradingLevel.ACTIVE, "resume"))
    assert p.state.level is TradingLevel.ACTIVE
    [order] = p.decide(book.marked(seq=2, ts_ns=T0 + H), [intent(BTC, "0.05")]).approved
    assert order.quote_size == D("500.00")


def test_reducing_denies_buys_and_passes_sells():
    book = Book().buy(BTC, "0.01", "50000").mark(ETH, "100")
    p = policy()
    p.impose(imposed(TradingLevel.REDUCING, "health degraded"))
    decision = p.decide(book.marked(seq=2), [intent(BTC, "0.02"), intent(ETH, "0.05")])
    [sell] = decision.approved
    assert (sell.product_id, sell.side, sell.base_size) == (BTC, Side.SELL, D("0.006"))
    assert sell.client_order_id == "rp-0000002-0"
    assert codes(decision) == [(ETH, "BUY", "TRADING_REDUCING")]
    assert decision.denied[0].detail == "health degraded"
    assert decision.denied[0].client_order_id == "rp-0000002-1"


def test_position_limit_counts_open_buy_reservations():
    # 500 held + 400 in an open buy = 900 committed of 10000 equity.
    book = Book().buy(BTC, "0.01", "50000").open_buy(BTC, "400")
    # A buy of 100.00 reaches exactly 10 %: allowed.
    [order] = policy().decide(book.marked(), [intent(BTC, "0.10", "0.005")]).approved
    assert order.quote_size == D("100.00")
    # A buy of 101.00: 500 + 400 + 101 > 1000, although position + order alone is 601.
    decision = policy().decide(book.marked(), [intent(BTC, "0.1001", "0.005")])
    assert decision.approved == ()
    assert codes(decision) == [(BTC, "BUY", "POSITION_LIMIT")]
    assert decision.denied[0].detail == "BTC-USD would exceed 10.00% of equity"


def test_position_limit_denies_a_target_above_the_limit():
    book = Book().mark(BTC, "50000")
    decision = policy().decide(book.marked(), [intent(BTC, "0.12")])
    assert codes(decision) == [(BTC, "BUY", "POSITION_LIMIT")]


def test_min_notional_denial():
    rules = {BTC: ProductRules(min_notional=D("10"))}
    book = Book().mark(BTC, "50000")
    decision = policy(rules=rules).decide(book.marked(), [intent(BTC, "0.0009", "0.0001")])
    assert decision.approved == ()
    assert codes(decision) == [(BTC, "BUY", "MIN_NOTIONAL")]
    assert decision.denied[0].detail == "notional 9.00 below the minimum 10"


def test_min_size_denial():
    rules = {BTC: ProductRules(min_base_size=D("0.001"))}
    book = Book().mark(BTC, "50000")
    decision = policy(rules=rules).decide(book.marked(), [intent(BTC, "0.004", "0.001")])
    # 40.00 quote buys 0.0008 BTC, under 0.001
    assert codes(decision) == [(BTC, "BUY", "MIN_SIZE")]


def test_no_mark_denial():
    book = Book().mark(BTC, "50000")
    decision = policy().decide(book.marked(seq=9), [intent("DOGE-USD", "0.05"),
                                                    intent(BTC, "0.05")])
    assert codes(decision) == [("DOGE-USD", "BUY", "NO_MARK")]
    assert decision.denied[0].detail == "no mark price for DOGE-USD yet"
    assert decision.denied[0].client_order_id == "rp-0000009-0"
    [order] = decision.approved
    assert order.client_order_id == "rp-0000009-1"


def test_insufficient_funds_counts_buys_earlier_in_the_same_decision():
    config = RiskConfig(max_position_fraction=D("1"), position_trim_fraction=D("1"))
    book = Book().mark(BTC, "50000").mark(ETH, "100")
    decision = policy(config).decide(book.marked(), [intent(BTC, "0.6"), intent(ETH, "0.6")])
    [order] = decision.approved
    assert (order.product_id, order.quote_size) == (BTC, D("6000.00"))
    assert codes(decision) == [(ETH, "BUY", "INSUFFICIENT_FUNDS")]
    words = decision.denied[0].detail.split()
    # (the quote size is numerically 6000.00; floor_to_increment may keep a shorter exponent)
    assert words[:2] == ["buy", "of"] and D(words[2]) == D("6000")
    assert words[3:] == ["exceeds", "available", "cash", "4000.00"]


def test_insufficient_funds_counts_open_buys_in_the_snapshot():
    config = RiskConfig(max_position_fraction=D("1"), position_trim_fraction=D("1"))
    book = Book().mark(BTC, "50000").mark(ETH, "100").open_buy(ETH, "9500")
    decision = policy(config).decide(book.marked(), [intent(BTC, "0.06")])
    assert codes(decision) == [(BTC, "BUY", "INSUFFICIENT_FUNDS")]


# --- order rate -------------------------------------------------------------------


def three_buys() -> list[OrderIntent]:
    return [intent(BTC, "0.05"), intent(ETH, "0.05"), intent(LTC, "0.05")]


def test_order_rate_limits_new_orders_per_window_of_market_time():
    config = replace(AT_LIMIT, max_orders=2, order_rate_window_s=60)
    book = Book().mark(BTC, "50000").mark(ETH, "2000").mark(LTC, "100")
    p = policy(config)
    first = p.decide(book.marked(seq=1, ts_ns=T0), three_buys())
    assert [o.product_id for o in first.approved] == [BTC, ETH]
    assert codes(first) == [(LTC, "BUY", "ORDER_RATE")]
    assert first.denied[0].detail == "2 orders in the last 60 s"
    # 59 s later both orders are still in the window
    second = p.decide(book.marked(seq=2, ts_ns=T0 + 59 * S), three_buys())
    assert second.approved == ()
    assert [c[2] for c in codes(second)] == ["ORDER_RATE"] * 3
    # 60 s later they have left it
    third = p.decide(book.marked(seq=3, ts_ns=T0 + 60 * S), three_buys())
    assert [o.product_id for o in third.approved] == [BTC, ETH]
    assert codes(third) == [(LTC, "BUY", "ORDER_RATE")]


def test_orders_an_earlier_generation_sent_still_count_against_the_rate():
    """A restarted risk takes up the orders sent in the window (from the
    journal): a restart does not open a fresh window."""
    config = replace(AT_LIMIT, max_orders=2, order_rate_window_s=60)
    book = Book().mark(BTC, "50000").mark(ETH, "2000").mark(LTC, "100")
    p = policy(config)
    p.count_orders_sent([T0 - 30 * S, T0 - 10 * S])
    decision = p.decide(book.marked(seq=1, ts_ns=T0), three_buys())
    assert not decision.approved
    assert [c[2] for c in codes(decision)] == ["ORDER_RATE"] * 3


def test_order_rate_applies_to_strategy_sells():
    config = replace(AT_LIMIT, max_orders=1, order_rate_window_s=60)
    book = Book().buy(BTC, "0.01", "50000").buy(ETH, "0.25", "2000")
    decision = policy(config).decide(book.marked(), [intent(BTC, "0"), intent(ETH, "0")])
    assert [o.product_id for o in decision.approved] == [BTC]
    assert codes(decision) == [(ETH, "SELL", "ORDER_RATE")]


def test_exits_are_never_denied_for_rate_and_use_the_budget_first():
    config = replace(AT_LIMIT, max_orders=1, order_rate_window_s=60)
    # BTC and ETH are both 10 % under their entry: two stop-loss exits.
    book = (Book().buy(BTC, "0.01", "50000").mark(BTC, "45000")
            .buy(ETH, "0.25", "2000").mark(ETH, "1800").mark(LTC, "100"))
    decision = policy(config).decide(book.marked(), [intent(LTC, "0.05")])
    assert [(o.product_id, o.reason) for o in decision.approved] == [
        (BTC, "stop_loss"), (ETH, "stop_loss")]
    assert codes(decision) == [(LTC, "BUY", "ORDER_RATE")]


# --- daily loss limit --------------------------------------------------------------


LOOSE = RiskConfig(max_position_fraction=D("1"), position_trim_fraction=D("1"), stop_loss=D("0.5"))


def test_daily_loss_limit_moves_to_reducing_and_back_on_the_next_utc_day():
    book = Book().buy(BTC, "0.1", "50000").mark(ETH, "100")  # 5000 in BTC, equity 10000
    p = policy(LOOSE)
    first = p.decide(book.marked(seq=1, ts_ns=T0), [])
    assert first.state_changes == ()
    assert p.start_of_day_equity == D("10000")
    assert p.state.level is TradingLevel.ACTIVE

    book.mark(BTC, "45000")  # equity 9500: 5 % down
    ts2 = T0 + H
    second = p.decide(book.marked(seq=2, ts_ns=ts2), [intent(ETH, "0.05")])
    assert second.state_changes == (TradingState(
        sender="risk", ts_ns=ts2, level=TradingLevel.REDUCING,
        reason="daily loss limit: equity 9500.00 is 5.00% below start-of-day 10000.00",
        since_ns=ts2),)
    assert p.state == second.state_changes[0]
    # the intents of the very batch that crossed the limit are already judged by it
    assert codes(second) == [(ETH, "BUY", "TRADING_REDUCING")]

    # later the same day: still REDUCING, no new change; sells pass, buys do not
    book.mark(BTC, "44000")
    third = p.decide(book.marked(seq=3, ts_ns=T0 + 5 * H), [intent(BTC, "0"),
                                                            intent(ETH, "0.05")])
    assert third.state_changes == ()
    assert [(o.product_id, o.side) for o in third.approved] == [(BTC, Side.SELL)]
    assert codes(third) == [(ETH, "BUY", "TRADING_REDUCING")]
    assert p.start_of_day_equity == D("10000")

    # the first batch of the next UTC day (00:00) lifts it
    ts4 = from_datetime(datetime(2021, 3, 2, 0, 0, tzinfo=timezone.utc))
    fourth = p.decide(book.marked(seq=4, ts_ns=ts4), [intent(ETH, "0.05")])
    assert fourth.state_changes == (TradingState(
        sender="risk", ts_ns=ts4, level=TradingLevel.ACTIVE, reason="new UTC day 2021-03-02",
        since_ns=ts4),)
    assert p.state.level is TradingLevel.ACTIVE
    assert p.start_of_day_equity == D("9400")
    assert [(o.product_id, o.side) for o in fourth.approved] == [(ETH, Side.BUY)]


def test_daily_loss_exactly_at_the_limit_does_not_trigger():
    book = Book().buy(BTC, "0.1", "50000")
    p = policy(LOOSE)
    p.decide(book.marked(seq=1, ts_ns=T0), [])
    book.mark(BTC, "48000")  # equity 9800: exactly 2 % down
    assert p.decide(book.marked(seq=2, ts_ns=T0 + H), []).state_changes == ()
    assert p.state.level is TradingLevel.ACTIVE
    book.mark(BTC, "47999.99")  # equity 9799.999
    [change] = p.decide(book.marked(seq=3, ts_ns=T0 + 2 * H), []).state_changes
    assert change.level is TradingLevel.REDUCING


def test_start_of_day_is_the_first_mark_of_each_day():
    book = Book().buy(BTC, "0.1", "50000")
    p = policy(LOOSE)
    book.mark(BTC, "49000")  # 9900
    p.decide(book.marked(seq=1, ts_ns=T0), [])
    assert p.start_of_day_equity == D("9900")
    book.mark(BTC, "60000")  # a rise during the day does not move the reference
    p.decide(book.marked(seq=2, ts_ns=T0 + H), [])
    assert p.start_of_day_equity == D("9900")
    next_day = from_datetime(datetime(2021, 3, 2, 0, 0, tzinfo=timezone.utc))
    quiet = p.decide(book.marked(seq=3, ts_ns=next_day), [])
    assert quiet.state_changes == ()  # ACTIVE stays ACTIVE without a change
    assert p.start_of_day_equity == D("11000")


@pytest.mark.parametrize(
    ("external", "daily_reducing", "expected"),
    [
        (TradingLevel.ACTIVE, False, TradingLevel.ACTIVE),
        (TradingLevel.REDUCING, False, TradingLevel.REDUCING),
        (TradingLevel.HALTED, False, TradingLevel.HALTED),
        (TradingLevel.ACTIVE, True, TradingLevel.REDUCING),
        (TradingLevel.REDUCING, True, TradingLevel.REDUCING),
        (TradingLevel.HALTED, True, TradingLevel.HALTED),
    ],
)
def test_state_is_the_more_severe_of_imposed_and_daily(external, daily_reducing, expected):
    book = Book().buy(BTC, "0.1", "50000")
    p = policy(LOOSE)
    p.decide(book.marked(seq=1, ts_ns=T0), [])
    if daily_reducing:
        book.mark(BTC, "45000")
        p.decide(book.marked(seq=2, ts_ns=T0 + H), [])
    p.impose(imposed(external, "external"))
    assert p.state.level is expected
    if external.severity > (1 if daily_reducing else 0):
        assert p.state.reason == "external"
    elif daily_reducing:
        assert p.state.reason.startswith("daily loss limit: ")


# --- stop-loss ---------------------------------------------------------------------


def test_stop_loss_sells_the_free_position_and_skips_the_products_intents():
    book = Book().buy(BTC, "0.01", "50000").open_sell(BTC, "0.004").mark(BTC, "47500")
    p = policy()
    decision = p.decide(book.marked(seq=4), [intent(BTC, "0.08")])
    assert decision.denied == ()
    assert decision.approved == (Order(
        client_order_id="rp-0000004-0", product_id=BTC, side=Side.SELL,
        order_type=OrderType.MARKET, base_size=D("0.006"), reduce_only=True, decision_seq=4,
        created_ns=T0, reason="stop_loss"),)


@pytest.mark.parametrize(("mark", "stops"), [("95", True), ("94.99", True), ("95.01", False),
                                             ("100", False)])
def test_stop_loss_boundary(mark, stops):
    # entry 100, stop 5 %: a mark of exactly 95 triggers
    book = Book().buy(BTC, "1", "100").mark(BTC, mark)
    decision = policy().decide(book.marked(), [])
    assert [o.reason for o in decision.approved] == (["stop_loss"] if stops else [])


def test_stop_loss_uses_the_average_entry_price():
    # bought 1 at 100 and 1 at 90: average 95, stop at 90.25
    book = Book().buy(BTC, "1", "100").buy(BTC, "1", "90")
    assert policy().decide(book.mark(BTC, "90.26").marked(), []).approved == ()
    [order] = policy().decide(book.mark(BTC, "90.25").marked(), []).approved
    assert (order.reason, order.base_size) == ("stop_loss", D("2"))


def test_stop_loss_cooldown_denies_buys_until_it_ends():
    book = Book().buy(BTC, "0.01", "50000").mark(BTC, "47000")
    p = policy()
    [exit_order] = p.decide(book.marked(seq=1, ts_ns=T0), []).approved
    assert exit_order.reason == "stop_loss"
    book.sell(BTC, "0.01", "47000")  # the exit filled

    decision = p.decide(book.marked(seq=2, ts_ns=T0 + H), [intent(BTC, "0.05")])
    assert decision.approved == ()
    assert codes(decision) == [(BTC, "BUY", "STOP_LOSS_COOLDOWN")]
    assert decision.denied[0].detail == (
        "BTC-USD stopped out; no buys until 2021-03-02T01:00:00Z")
    # other products are not affected
    book.mark(ETH, "100")
    assert len(p.decide(book.marked(seq=3, ts_ns=T0 + 2 * H),
                        [intent(ETH, "0.05")]).approved) == 1
    # one second before the end: still denied; at the end: allowed
    last = T0 + 86_400 * S
    assert codes(p.decide(book.marked(seq=4, ts_ns=last - S), [intent(BTC, "0.05")])) == [
        (BTC, "BUY", "STOP_LOSS_COOLDOWN")]
    [order] = p.decide(book.marked(seq=5, ts_ns=last), [intent(BTC, "0.05")]).approved
    assert (order.product_id, order.side) == (BTC, Side.BUY)


def test_stop_loss_cooldown_does_not_block_sells():
    book = (Book().buy(BTC, "0.01", "50000").mark(BTC, "47000"))
    p = policy()
    p.decide(book.marked(seq=1, ts_ns=T0), [])
    book.sell(BTC, "0.005", "47000")  # half of the exit filled (IOC remainder expired)
    book.mark(BTC, "50000")  # recovered above the stop
    [order] = p.decide(book.marked(seq=2, ts_ns=T0 + H), [intent(BTC, "0")]).approved
    assert (order.side, order.base_size, order.reason) == (Side.SELL, D("0.005"), "rebalance")


def test_stop_loss_with_everything_already_reserved_does_nothing():
    book = Book().buy(BTC, "0.01", "50000").open_sell(BTC, "0.01").mark(BTC, "40000")
    p = policy()
    assert p.decide(book.marked(seq=1, ts_ns=T0), []) == Decision((), (), ())
    # and no cooldown was started
    book.mark(ETH, "100")
    book.ledger.release("setup-2")
    book.sell(BTC, "0.01", "40000")
    [order] = p.decide(book.marked(seq=2, ts_ns=T0 + H), [intent(BTC, "0.05")]).approved
    assert order.side is Side.BUY


def test_an_unsellable_remnant_under_water_does_not_block_the_product_forever():
    # e.g. what an IOC sell cut by the volume-participation cap leaves behind
    book = Book().buy(BTC, "0.00001", "50000").mark(BTC, "47000")
    p = policy()
    p.decide(book.marked(seq=1, ts_ns=T0), [])
    later = T0 + 86_400 * S + H  # well after any cooldown
    decision = p.decide(book.marked(seq=2, ts_ns=later), [intent(BTC, "0.05")])
    assert [(o.product_id, o.side) for o in decision.approved] == [(BTC, Side.BUY)]


# --- limit trim ----------------------------------------------------------------------


def test_limit_trim_sells_down_to_the_limit():
    # 0.03 BTC bought at 30000 (9 %), then marked at 40000.02:
    # notional 1200.0006, equity 10300.0006, limit 1030.00006, excess 170.00054,
    # which is 0.0042500113... BTC: rounded UP to 0.00425002 (nearest would be ...01).
    book = Book().buy(BTC, "0.03", "30000").mark(BTC, "40000.02")
    marked = book.marked(seq=6)
    decision = policy().decide(marked, [intent(BTC, "0.08")])
    assert decision.denied == ()
    assert decision.approved == (Order(
        client_order_id="rp-0000006-0", product_id=BTC, side=Side.SELL,
        order_type=OrderType.MARKET, base_size=D("0.00425002"), reduce_only=True,
        decision_seq=6, created_ns=T0, reason="limit_trim"),)
    mark = D("40000.02")
    limit = D("0.10") * marked.snapshot.equity
    remainder = D("0.03") - D("0.00425002")
    assert remainder * mark <= limit
    # and it is the smallest such sell
    assert (remainder + D("0.00000001")) * mark > limit


def test_no_limit_trim_when_open_sells_already_cover_the_excess():
    # 0.03 BTC at 60000 is 16.5 % of equity, but 0.025 of it is in an open sell:
    # what stays committed (300 of 10900) is far inside the limit
    book = Book().buy(BTC, "0.03", "30000").open_sell(BTC, "0.025").mark(BTC, "60000")
    assert policy().decide(book.marked(), []).approved == ()


def test_a_position_past_the_trim_band_is_trimmed_back_to_it():
    # default config: hard limit 10 %, trim band 9 %; 0.019 BTC at 50000 is 950 of 10000
    book = Book().buy(BTC, "0.019", "50000")
    [trim] = policy(RiskConfig()).decide(book.marked(), []).approved
    assert trim.reason == "limit_trim" and trim.reduce_only
    remainder = D("0.019") - trim.base_size
    assert remainder * D("50000") <= D("900") < (remainder + D("0.00000001")) * D("50000")


def test_a_position_exactly_at_the_limit_is_not_trimmed():
    book = Book().buy(BTC, "0.02", "50000")  # 1000 of 10000
    assert policy().decide(book.marked(), []) == Decision((), (), ())


def test_limit_trim_counts_open_sells():
    book = Book().buy(BTC, "0.03", "30000").mark(BTC, "40000.01")
    p = policy()
    [trim] = p.decide(book.marked(seq=1, ts_ns=T0), []).approved
    # the trim is reserved by the portfolio but has not filled yet (e.g. no data
    # for BTC in the next batch, or a live order still working)
    book.ledger.reserve(trim)
    again = p.decide(book.marked(seq=2, ts_ns=T0 + H), [])
    assert again.approved == ()


# --- client order ids and determinism --------------------------------------------------


def test_client_order_ids_are_seq_and_index_with_denials_counted():
    book = (Book().buy(ETH, "1", "100").mark(ETH, "90")  # stop-loss exit first
            .mark(BTC, "50000").mark(LTC, "100"))
    decision = policy().decide(book.marked(seq=1234567), [
        intent(BTC, "0.05"), intent("DOGE-USD", "0.05"), intent(LTC, "0.05")])
    assert [o.client_order_id for o in decision.approved] == [
        "rp-1234567-0", "rp-1234567-1", "rp-1234567-3"]
    assert [d.client_order_id for d in decision.denied] == ["rp-1234567-2"]


def test_an_intent_within_threshold_takes_no_index():
    book = Book().buy(BTC, "0.01", "50000").mark(ETH, "100")
    decision = policy().decide(book.marked(seq=42), [intent(BTC, "0.05"), intent(ETH, "0.05")])
    assert [o.client_order_id for o in decision.approved] == ["rp-0000042-0"]


def test_two_policies_decide_identically():
    def run() -> list[Decision]:
        p = policy()
        book = Book().buy(BTC, "0.01", "50000").mark(ETH, "2000").mark(LTC, "100")
        out = [p.decide(book.marked(seq=1, ts_ns=T0), three_buys())]
        book.mark(BTC, "47000")
        out.append(p.decide(book.marked(seq=2, ts_ns=T0 + H), three_buys()))
        return out

    first, second = run(), run()
    assert first == second
    assert [o.client_order_id for o in first[1].approved] == [
        "rp-0000002-0", "rp-0000002-1", "rp-0000002-2"]
    assert [o.reason for o in first[1].approved] == ["stop_loss", "rebalance", "rebalance"]


def test_deny_reason_codes():
    assert {r.value for r in DenyReason} == {
        "TRADING_HALTED", "TRADING_REDUCING", "POSITION_LIMIT", "STOP_LOSS_COOLDOWN",
        "MIN_SIZE", "MIN_NOTIONAL", "ORDER_RATE", "INSUFFICIENT_FUNDS", "INSUFFICIENT_POSITION",
        "DUPLICATE_ORDER", "INVALID_ORDER", "NO_MARK", "STALE_DATA"}


def test_unreliable_data_refuses_new_exposure_but_lets_positions_be_sold():
    book = Book().buy(BTC, "0.01", "50000").mark(ETH, "3000")
    marked = book.marked()
    stale = replace(marked, batch=replace(marked.batch, unreliable=(ETH, BTC)))
    decision = policy().decide(stale, [intent(ETH, "0.05"), intent(BTC, "0")])
    assert codes(decision) == [(ETH, "BUY", "STALE_DATA")]
    assert [(o.product_id, o.side) for o in decision.approved] == [(BTC, Side.SELL)]

