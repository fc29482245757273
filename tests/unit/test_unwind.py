"""Gradual unwinding: largest risk first, in slices, with a market-exit fallback."""

from __future__ import annotations

from decimal import Decimal as D

from cryptoj_actors.messages import PortfolioSnapshot
from cryptoj_actors.model import PositionView
from cryptoj_actors.risk.unwind import Slice, Unwinder


def position(product: str, size: str, mark: str, open_sell: str = "0") -> PositionView:
    return PositionView(product_id=product, base_size=D(size), cost_basis=D(0),
                        mark_price=D(mark), realized_pnl=D(0), reserved_base=D(open_sell),
                        reserved_quote=D(0))


def book(*positions: PositionView) -> PortfolioSnapshot:
    return PortfolioSnapshot(sender="portfolio", ts_ns=0, version=1, seq=1, cash=D(1000),
                             available_cash=D(1000), equity=D(2000), realized_pnl=D(0),
                             unrealized_pnl=D(0), fees=D(0), positions=positions)


def test_largest_notional_goes_first_in_slices_of_the_starting_size():
    u = Unwinder(D("0.25"), max_attempts=3)
    start = book(position("BTC-USD", "0.01", "50000"), position("ETH-USD", "2", "300"))
    u.start("drill", start)
    assert u.next_slice(start, busy=set()) == Slice("ETH-USD", D("0.5"), False)  # 600 > 500
    # the slice is open: the same product waits, the next one in line goes
    waiting = book(position("BTC-USD", "0.01", "50000"), position("ETH-USD", "2", "300", "0.5"))
    assert u.next_slice(waiting, busy=set()) == Slice("BTC-USD", D("0.0025"), False)


def test_an_exited_product_is_skipped_and_the_last_slice_takes_the_rest():
    u = Unwinder(D("0.4"), max_attempts=3)
    start = book(position("BTC-USD", "1", "100"), position("ETH-USD", "1", "50"))
    u.start("drill", start)
    assert u.next_slice(start, busy={"BTC-USD"}).product_id == "ETH-USD"
    later = book(position("BTC-USD", "0.2", "100"))  # ETH closed meanwhile
    assert u.next_slice(later, busy=set()) == Slice("BTC-USD", D("0.2"), True)


def test_unfilled_slices_fall_back_to_one_market_order():
    u = Unwinder(D("0.25"), max_attempts=2)
    stuck = book(position("LTC-USD", "8", "50"))
    u.start("drill", stuck)
    for _ in range(2):  # two slices expire unfilled (no liquidity): size unchanged
        assert u.next_slice(stuck, busy=set()) == Slice("LTC-USD", D("2"), False)
    assert u.next_slice(stuck, busy=set()) == Slice("LTC-USD", D("8"), True)


def test_a_filled_slice_resets_the_count_and_stop_forgets_everything():
    u = Unwinder(D("0.5"), max_attempts=1)
    u.start("drill", book(position("LTC-USD", "8", "50")))
    assert u.next_slice(book(position("LTC-USD", "8", "50")), set()).base_size == D("4")
    assert u.next_slice(book(position("LTC-USD", "4", "50")), set()) == Slice("LTC-USD", D("4"),
                                                                                True)
    u.stop()
    assert not u.active and u.next_slice(book(position("LTC-USD", "4", "50")), set()) is None
