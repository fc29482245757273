"""The paper exchange: timing, slippage, tick rounding, sizing, fees, volume caps."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoj_actors.config import Config, PaperConfig, ProductRules
from cryptoj_actors.execution.paper import ASSUMPTIONS, PaperExchange
from cryptoj_actors.messages import Fill, MarketBatch, OrderUpdate
from cryptoj_actors.model import (
    Bar,
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    Trade,
)

D = Decimal
BTC = "BTC-USD"
ETH = "ETH-USD"
HOUR = 3_600_000_000_000
T0 = 1_600_000_000 * 1_000_000_000


def bar(product: str = BTC, n: int = 1, *, open: str = "40000.01", volume: str = "100") -> Bar:
    """The bar that closes batch ``n`` (it starts at ``T0 + (n - 1) h``)."""
    return Bar(product_id=product, start_ns=T0 + (n - 1) * HOUR, interval_ns=HOUR, open=D(open),
               high=D(open) + 500, low=D(open) - 500, close=D(open) + 1, volume=D(volume))


def trade(product: str = BTC, n: int = 1, *, price: str = "41000", size: str = "10",
          at: int = 0, side: Side = Side.BUY, tid: str = "t") -> Trade:
    """A trade inside the hour that batch ``n`` closes, ``at`` ns after its start."""
    return Trade(product_id=product, time_ns=T0 + (n - 1) * HOUR + at, price=D(price),
                 size=D(size), side=side, trade_id=tid)


def batch(seq: int, *events) -> MarketBatch:
    return MarketBatch(sender="feed", ts_ns=T0 + seq * HOUR, seq=seq, events=tuple(events))


def mbuy(coid: str = "b1", quote: str = "1000", product: str = BTC, seq: int = 1,
         order_type: OrderType = OrderType.MARKET) -> Order:
    return Order(client_order_id=coid, product_id=product, side=Side.BUY, order_type=order_type,
                 quote_size=D(quote), decision_seq=seq)


def msell(coid: str = "s1", base: str = "0.015", product: str = BTC, seq: int = 1) -> Order:
    return Order(client_order_id=coid, product_id=product, side=Side.SELL,
                 order_type=OrderType.MARKET, base_size=D(base), decision_seq=seq)


def exchange(**paper) -> PaperExchange:
    return PaperExchange(PaperConfig(**paper), Config().rules)


def fills(events) -> list[Fill]:
    return [e for e in events if isinstance(e, Fill)]


def updates(events) -> list[OrderUpdate]:
    return [e for e in events if isinstance(e, OrderUpdate)]


def half_even_fee(size: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """size * price * rate rounded half-even to 1e-12, computed without decimal rounding."""
    return D(round(Fraction(size) * Fraction(price) * Fraction(rate) * 10**12)).scaleb(-12)


# --- timing -----------------------------------------------------------------------------


def test_order_never_fills_on_its_decision_batch_and_fills_on_the_next():
    ex = exchange()
    opened = ex.submit(mbuy(seq=1), ts_ns=T0 + HOUR)
    assert opened == OrderUpdate(sender="executor", ts_ns=T0 + HOUR, client_order_id="b1",
                                 product_id=BTC, status=OrderStatus.OPEN, filled_base=D(0))
    assert ex.on_market(batch(1, bar(n=1))) == []
    assert ex.open_orders == 1
    events = ex.on_market(batch(2, bar(n=2)))
    assert [type(e) for e in events] == [Fill, OrderUpdate]
    f, u = events
    assert f.ts_ns == T0 + HOUR  # the next bar's open instant
    assert f.fill_id == "b1-fill" and f.final is True and f.liquidity is Liquidity.TAKER
    assert u.status is OrderStatus.FILLED and u.filled_base == f.base_size
    assert u.ts_ns == T0 + 2 * HOUR
    assert ex.open_orders == 0
    assert ex.on_market(batch(3, bar(n=3))) == []


def test_earlier_batches_never_fill_a_later_decision():
    ex = exchange()
    ex.submit(mbuy(seq=5), ts_ns=0)
    for seq in (3, 4, 5):
        assert ex.on_market(batch(seq, bar(n=seq))) == []
    assert len(fills(ex.on_market(batch(6, bar(n=6))))) == 1


# --- price ------------------------------------------------------------------------------


def test_buy_fills_at_next_open_slipped_up_and_rounded_up_to_the_tick():
    ex = exchange()
    ex.submit(mbuy(quote="1000"), 0)
    (f, u) = ex.on_market(batch(2, bar(n=2, open="40000.01")))
    # 40000.01 * 1.0005 = 40020.010005 -> up to 40020.02
    assert f.price == D("40020.02")
    # floor(1000 / 1.012 / 40020.02, 1e-8) = 0.02469119
    assert f.base_size == D("0.02469119")
    # 0.02469119 * 40020.02 = 988.1419176238; * 0.012 = 11.8577030114856
    assert f.fee == D("11.857703011486")
    assert f.base_size * f.price + f.fee == D("999.999620635286")
    assert (f.side, f.product_id, f.client_order_id) == (Side.BUY, BTC, "b1")
    assert u == OrderUpdate(sender="executor", ts_ns=T0 + 2 * HOUR, client_order_id="b1",
                            product_id=BTC, status=OrderStatus.FILLED,
                            filled_base=D("0.02469119"), detail="")


def test_sell_fills_at_next_open_slipped_down_and_rounded_down_to_the_tick():
    ex = exchange()
    ex.submit(msell(base="0.015"), 0)
    (f, u) = ex.on_market(batch(2, bar(n=2, open="40000.01")))
    # 40000.01 * 0.9995 = 39980.009995 -> down to 39980.00
    assert f.price == D("39980.00")
    assert f.base_size == D("0.015")
    assert f.fee == D("7.196400000000")  # 599.7 * 0.012
    assert u.status is OrderStatus.FILLED and u.filled_base == D("0.015")


def test_price_already_on_a_tick_is_not_moved_by_rounding():
    ex = exchange(slippage_bps=D("0"))
    ex.submit(mbuy(), 0)
    ex.submit(msell(), 0)
    f_buy, _, f_sell, _ = ex.on_market(batch(2, bar(n=2, open="40000.00")))
    assert f_buy.price == D("40000.00") and f_sell.price == D("40000.00")


def test_sell_price_never_below_one_tick():
    ex = exchange(slippage_bps=D("10000"))  # 100 % slippage would price at 0
    ex.submit(msell(base="1"), 0)
    f, _ = ex.on_market(batch(2, bar(n=2, open="5")))
    assert f.price == D("0.01")


def test_price_tick_comes_from_the_product_rules():
    rules = {BTC: ProductRules(quote_increment=D("0.5"), base_increment=D("0.001"))}
    ex = PaperExchange(PaperConfig(), lambda p: rules.get(p, ProductRules()))
    ex.submit(mbuy(quote="1000"), 0)
    f, _ = ex.on_market(batch(2, bar(n=2, open="100")))
    # 100 * 1.0005 = 100.05 -> 100.5; floor(1000 / 1.012 / 100.5, 0.001) = 9.832
    assert f.price == D("100.5")
    assert f.base_size == D("9.832")


# --- sizing and fees ----------------------------------------------------------------------


def test_fee_is_rounded_half_even_to_the_ledger_quantum():
    ex = exchange(slippage_bps=D("0"), taker_fee_rate=D("0.005"))
    ex.submit(msell("s1", base="0.00000001"), 0)
    ex.submit(msell("s2", base="0.00000001", product=ETH), 0)
    events = ex.on_market(batch(2, bar(n=2, open="0.25", volume="1"),
                                bar(ETH, n=2, open="0.35", volume="1")))
    f1, f2 = fills(events)
    # 1e-8 * 0.25 * 0.005 = 1.25e-11 -> 1.2e-11 (to even); half-up would give 1.3e-11
    assert f1.fee == D("0.000000000012")
    # 1e-8 * 0.35 * 0.005 = 1.75e-11 -> 1.8e-11
    assert f2.fee == D("0.000000000018")


def test_quote_too_small_for_one_increment_expires_without_fill():
    ex = exchange()
    ex.submit(mbuy(quote="0.0004"), 0)
    (u,) = ex.on_market(batch(2, bar(n=2, open="40000")))
    assert u.status is OrderStatus.EXPIRED
    assert u.filled_base == 0
    assert u.detail == "quote size buys less than one base increment"


@settings(max_examples=300, deadline=None)
@given(quote=st.integers(1, 10**9).map(lambda n: D(n) / 100),            # 0.01 .. 1e7
       open_=st.integers(1, 10**9).map(lambda n: D(n) / 100),            # 0.01 .. 1e7
       rate=st.integers(0, 999).map(lambda n: D(n) / 10000),             # 0 .. 9.99 %
       slip=st.integers(0, 200).map(D))                                  # 0 .. 200 bps
def test_quote_sized_buy_never_spends_more_than_its_quote(quote, open_, rate, slip):
    ex = exchange(taker_fee_rate=rate, slippage_bps=slip)
    ex.submit(mbuy(quote=str(quote)), 0)
    events = ex.on_market(batch(2, bar(n=2, open=str(open_), volume="1e12")))
    inc = D("0.00000001")
    tick = D("0.01")
    slipped = Fraction(open_) * (1 + Fraction(slip) / 10000)
    expected_price = D(-((-slipped * 100) // 1)) / 100  # ceiling to the tick
    f = fills(events)
    if not f:
        (u,) = events
        assert u.status is OrderStatus.EXPIRED and u.filled_base == 0
        # not even one increment fits
        assert inc * expected_price + half_even_fee(inc, expected_price, rate) > quote - D("1e-9")
        return
    (f,), (u,) = f, updates(events)
    assert f.price == expected_price
    assert f.price % tick == 0
    assert f.base_size > 0 and f.base_size % inc == 0
    assert f.fee == half_even_fee(f.base_size, f.price, rate)
    assert f.base_size * f.price + f.fee <= quote
    # and it is (up to fee rounding) the most that fits
    more = f.base_size + inc
    assert more * f.price + half_even_fee(more, f.price, rate) > quote - D("1e-9")
    assert u.status is OrderStatus.FILLED and u.filled_base == f.base_size


@settings(max_examples=100, deadline=None)
@given(base=st.integers(1, 10**10).map(lambda n: D(n) / 10**8),
       open_=st.integers(1, 10**9).map(lambda n: D(n) / 100),
       rate=st.integers(0, 999).map(lambda n: D(n) / 10000))
def test_base_sized_sell_fills_its_whole_size(base, open_, rate):
    ex = exchange(taker_fee_rate=rate, slippage_bps=D("0"))
    ex.submit(msell(base=str(base)), 0)
    f, u = ex.on_market(batch(2, bar(n=2, open=str(open_), volume="1e12")))
    assert f.base_size == base and f.price == open_
    assert f.fee == half_even_fee(base, open_, rate)
    assert u.status is OrderStatus.FILLED and u.filled_base == base


# --- liquidity ---------------------------------------------------------------------------------


def test_volume_participation_cap_gives_partial_fill_then_expired():
    ex = exchange()
    ex.submit(msell(base="1"), 0)
    ex.submit(mbuy(quote="100000", product=ETH), 0)
    events = ex.on_market(batch(2, bar(n=2, open="40000", volume="0.123456789"),
                                bar(ETH, n=2, open="2000", volume="5")))
    assert [type(e) for e in events] == [Fill, OrderUpdate, Fill, OrderUpdate]
    f, u, fe, ue = events
    # 10 % of 0.123456789 floored to 1e-8
    assert f.base_size == D("0.01234567")
    assert f.final is True
    assert u.status is OrderStatus.EXPIRED
    assert u.filled_base == D("0.01234567")
    assert u.detail == "immediate-or-cancel remainder: no more liquidity in the market data"
    assert fe.base_size == D("0.5") and fe.side is Side.BUY
    assert ue.status is OrderStatus.EXPIRED and ue.filled_base == D("0.5")
    assert ex.open_orders == 0


def test_zero_volume_bar_expires_the_order_without_fill():
    ex = exchange()
    ex.submit(mbuy(), 0)
    events = ex.on_market(batch(2, bar(n=2, volume="0")))
    assert events == [OrderUpdate(sender="executor", ts_ns=T0 + 2 * HOUR, client_order_id="b1",
                                  product_id=BTC, status=OrderStatus.EXPIRED, filled_base=D(0),
                                  detail="the market data shows too little volume (within the "
                                         "participation limit)")]
    assert ex.open_orders == 0


def test_product_missing_from_the_next_batch_keeps_the_order_resting():
    ex = exchange()
    ex.submit(mbuy(product=BTC, seq=1), 0)
    assert ex.on_market(batch(2, bar(ETH, n=2))) == []
    assert ex.on_market(batch(3)) == []
    assert ex.open_orders == 1
    events = ex.on_market(batch(4, bar(ETH, n=4), bar(BTC, n=4, open="30000")))
    f, u = events
    assert f.price == D("30015.00")  # 30000 * 1.0005
    assert f.ts_ns == T0 + 3 * HOUR
    assert u.status is OrderStatus.FILLED and u.ts_ns == T0 + 4 * HOUR


@pytest.mark.parametrize("order_of_events", ["bar_first", "trade_first"])
def test_trades_preferred_over_bar_for_the_same_product(order_of_events):
    ex = exchange()
    ex.submit(mbuy(quote="1000"), 0)
    ex.submit(msell(base="2"), 0)
    b = bar(n=2, open="40000", volume="0")  # the bar alone would fill nothing
    t = trade(n=2, price="40900", size="30", at=7)
    events = ex.on_market(batch(2, *((b, t) if order_of_events == "bar_first" else (t, b))))
    f_buy, u_buy, f_sell, u_sell = events
    assert f_buy.price == D("40920.45")  # 40900 * 1.0005
    assert f_sell.price == D("40879.55")  # 40900 * 0.9995
    assert f_buy.ts_ns == f_sell.ts_ns == t.time_ns
    assert f_sell.base_size == D("2")  # 2 <= 10 % of the trades' 30
    assert u_buy.status is u_sell.status is OrderStatus.FILLED


def test_earliest_trade_prices_and_all_trades_cap_the_fill():
    ex = exchange(slippage_bps=D("0"))
    ex.submit(msell(base="5"), 0)
    events = ex.on_market(batch(2,
                                trade(n=2, price="41500", size="4", at=30, tid="b"),
                                trade(n=2, price="41000", size="1.5", at=10, tid="a"),
                                trade(ETH, n=2, price="2000", size="1000", at=5, tid="e"),
                                trade(n=2, price="42000", size="2.5", at=20, side=Side.SELL,
                                      tid="c")))
    f, u = events
    assert f.price == D("41000")          # the first trade in time, not in the list
    assert f.ts_ns == T0 + HOUR + 10
    assert f.base_size == D("0.8")        # 10 % of 4 + 1.5 + 2.5 (BTC only)
    assert u.status is OrderStatus.EXPIRED and u.filled_base == D("0.8")


def test_first_bar_of_a_product_is_used():
    ex = exchange(slippage_bps=D("0"))
    ex.submit(mbuy(), 0)
    f, _ = ex.on_market(batch(2, bar(n=2, open="41000"), bar(n=3, open="42000")))
    assert f.price == D("41000")


# --- rejections and ends ---------------------------------------------------------------------


def test_limit_orders_are_rejected_with_a_reason():
    ex = exchange()
    u = ex.submit(mbuy(order_type=OrderType.LIMIT), ts_ns=77)
    assert u == OrderUpdate(sender="executor", ts_ns=77, client_order_id="b1", product_id=BTC,
                            status=OrderStatus.REJECTED, filled_base=D(0),
                            detail="LIMIT orders are not simulated by the paper exchange")
    assert ex.open_orders == 0
    assert ex.on_market(batch(2, bar(n=2))) == []


@pytest.mark.parametrize("order,detail", [
    (Order(client_order_id="x", product_id=BTC, side=Side.BUY, order_type=OrderType.MARKET,
           base_size=D("1")), "a market buy needs a positive quote_size"),
    (Order(client_order_id="x", product_id=BTC, side=Side.BUY, order_type=OrderType.MARKET,
           quote_size=D("0")), "a market buy needs a positive quote_size"),
    (Order(client_order_id="x", product_id=BTC, side=Side.SELL, order_type=OrderType.MARKET,
           quote_size=D("100")), "a market sell needs a positive base_size"),
    (Order(client_order_id="x", product_id=BTC, side=Side.SELL, order_type=OrderType.MARKET,
           base_size=D("-1")), "a market sell needs a positive base_size"),
])
def test_malformed_market_orders_are_rejected(order, detail):
    ex = exchange()
    u = ex.submit(order, 1)
    assert (u.status, u.detail) == (OrderStatus.REJECTED, detail)
    assert ex.open_orders == 0


def test_duplicate_resting_client_order_id_is_rejected():
    ex = exchange()
    assert ex.submit(mbuy("b1"), 0).status is OrderStatus.OPEN
    u = ex.submit(mbuy("b1", quote="5"), 0)
    assert (u.status, u.detail) == (OrderStatus.REJECTED, "duplicate client_order_id b1")
    assert ex.open_orders == 1
    f, _ = ex.on_market(batch(2, bar(n=2)))
    assert f.base_size == D("0.02469119")  # the first order, not the rejected one


@pytest.mark.parametrize("status", [OrderStatus.EXPIRED, OrderStatus.CANCELLED])
def test_cancel_all_ends_every_resting_order(status):
    ex = exchange()
    ex.submit(mbuy("b1"), 0)
    ex.submit(msell("s1", product=ETH), 0)
    ex.submit(mbuy("b2", order_type=OrderType.LIMIT), 0)  # rejected, never resting
    assert ex.open_orders == 2
    ups = ex.cancel_all(999, "the end", status=status)
    assert sorted(ups, key=lambda u: u.client_order_id) == [
        OrderUpdate(sender="executor", ts_ns=999, client_order_id="b1", product_id=BTC,
                    status=status, filled_base=D(0), detail="the end"),
        OrderUpdate(sender="executor", ts_ns=999, client_order_id="s1", product_id=ETH,
                    status=status, filled_base=D(0), detail="the end"),
    ]
    assert ex.open_orders == 0
    assert ex.on_market(batch(2, bar(n=2), bar(ETH, n=2))) == []
    assert ex.cancel_all(1000, "again", status=status) == []


def test_a_halt_keeps_reduce_only_exits_resting():
    ex = exchange()
    ex.submit(mbuy("b1"), 0)
    ex.submit(replace(msell("s1", product=ETH), reduce_only=True), 0)
    [cancelled] = ex.cancel_all(999, "halted", keep_reduce_only=True)
    assert (cancelled.client_order_id, cancelled.status) == ("b1", OrderStatus.CANCELLED)
    assert ex.open_orders == 1


def test_sender_is_stamped_on_every_message():
    ex = PaperExchange(PaperConfig(), Config().rules, sender="paper")
    assert ex.submit(mbuy(), 0).sender == "paper"
    assert all(e.sender == "paper" for e in ex.on_market(batch(2, bar(n=2))))


def test_assumptions_are_listed():
    assert len(ASSUMPTIONS) == 5
    assert all(isinstance(a, str) and a for a in ASSUMPTIONS)


def book(n: int, asks, bids, valid: bool = True) -> MarketBatch:
    from cryptoj_actors.model import BookUpdate
    update = BookUpdate(product_id=BTC, time_ns=T0 + n * HOUR,
                        asks=tuple((D(p), D(s)) for p, s in asks),
                        bids=tuple((D(p), D(s)) for p, s in bids), valid=valid)
    return MarketBatch(sender="feed", ts_ns=T0 + n * HOUR, seq=n, events=(update,))


def test_a_market_buy_walks_the_book_level_by_level_within_its_quote():
    ex = exchange()
    ex.submit(mbuy("b1", quote="3000"), 0)
    events = ex.on_market(book(2, asks=[("1000", "1"), ("1001", "1"), ("1005", "5")],
                               bids=[("999", "1")]))
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.price, f.fill_id) for f in fills] == [
        (D("1000"), "b1-fill"), (D("1001"), "b1-fill2"), (D("1005"), "b1-fill3")]
    assert [f.final for f in fills] == [False, False, True]
    spent = sum(f.base_size * f.price + f.fee for f in fills)
    assert spent <= D("3000") and fills[0].base_size == D("1")  # the best level taken whole
    assert events[-1].status is OrderStatus.FILLED


def test_a_market_sell_bigger_than_the_book_takes_it_all_and_expires_the_rest():
    ex = exchange()
    ex.submit(msell("s1", base="3"), 0)
    events = ex.on_market(book(2, asks=[("1001", "1")], bids=[("1000", "1"), ("999", "0.5")]))
    fills = [e for e in events if isinstance(e, Fill)]
    assert [(f.base_size, f.price) for f in fills] == [(D("1"), D("1000")), (D("0.5"), D("999"))]
    assert (events[-1].status, events[-1].filled_base) == (OrderStatus.EXPIRED, D("1.5"))


def test_an_invalid_book_offers_nothing():
    ex = exchange()
    ex.submit(msell("s1", base="1"), 0)
    assert ex.on_market(book(2, asks=[], bids=[], valid=False)) == []
    assert ex.open_orders == 1
