"""A product whose bars stop (a gap in the data) is unreliable in a replay
until its next bar: its value would rest on an old mark."""

from __future__ import annotations

from decimal import Decimal

from cryptoj_actors.marketdata.bars.align import AlignedBars
from cryptoj_actors.marketdata.replay import BarReplaySource, stale_products
from cryptoj_actors.model import Bar

MINUTE = 60_000_000_000


def bar(product: str, minute: int) -> Bar:
    one = Decimal(1)
    return Bar(product_id=product, start_ns=minute * MINUTE, interval_ns=MINUTE, open=one,
               high=one, low=one, close=one, volume=one)


def aligned() -> AlignedBars:
    # BTC trades every minute; ETH stops after minute 1 and comes back at minute 9.
    slices = tuple((m * MINUTE, tuple(b for b in (bar("BTC-USD", m),
                                                  bar("ETH-USD", m) if m in (0, 1, 9) else None)
                                      if b is not None)) for m in range(10))
    return AlignedBars(products=("BTC-USD", "ETH-USD"), interval_ns=MINUTE, start_ns=0,
                       end_ns=9 * MINUTE, slices=slices, notes=())


def test_a_product_without_a_bar_for_more_than_the_limit_is_unreliable_until_its_next():
    stale = stale_products(aligned(), 3)
    assert [("ETH-USD" in s) for s in stale] == [False, False, False, False, False,
                                                 True, True, True, True, False]
    assert not any("BTC-USD" in s for s in stale)
    assert stale_products(aligned(), None) == [()] * 10


def test_the_replayed_batches_name_the_stale_product():
    source = BarReplaySource(aligned(), stale_bars=3)
    batches = [source.next_batch(seq, 0) for seq in range(1, 11)]
    assert [b.unreliable for b in batches][4:6] == [(), ("ETH-USD",)]
    assert BarReplaySource(aligned()).next_batch(1, 0).unreliable == ()
