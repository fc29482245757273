"""The live market state on real recorded Coinbase Advanced Trade frames."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from cryptoj_actors.adapters.coinbase import advanced_trade as at
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.marketdata.frames import Channel
from cryptoj_actors.marketdata.live_market import FrameOutcome, LiveMarket
from cryptoj_actors.marketdata.orderbook import OrderBook
from cryptoj_actors.model import BookUpdate, Trade

PRODUCTS = ("BTC-USD", "ETH-USD")
SECOND = NS_PER_SECOND


@pytest.fixture(scope="module")
def frames(advanced_ws_capture: Path) -> list[str]:
    return [line.split("\t", 1)[1] for line in advanced_ws_capture.read_text().splitlines()]


def market() -> LiveMarket:
    return LiveMarket(at, PRODUCTS, bar_interval_ns=SECOND, stale_after_ns=5 * SECOND)


def feed(m: LiveMarket, frames: list[str], start_ns: int = 0) -> list[FrameOutcome]:
    return [m.on_frame(f, start_ns + i * 1000) for i, f in enumerate(frames)]


def direct_books(frames: list[str]) -> dict[str, OrderBook]:
    """The books built by applying every l2_data event in order, nothing else."""
    books = {p: OrderBook(p) for p in PRODUCTS}
    for raw in frames:
        frame = at.parse_frame(raw)
        if frame.channel is Channel.BOOK:
            for e in at.book_events(frame):
                getattr(books[e.product_id], f"apply_{e.kind}")(e.changes, e.time_ns)
    return books


def test_the_whole_capture_builds_two_valid_books(frames):
    m = market()
    assert set(feed(m, frames)) == {FrameOutcome.OK}
    direct = direct_books(frames)
    for product in PRODUCTS:
        book = m.books[product]
        assert book.valid and not book.crossed
        assert dict(book.bids) == dict(direct[product].bids)
        assert dict(book.asks) == dict(direct[product].asks)
    assert m.books["BTC-USD"].best_bid < m.books["BTC-USD"].best_ask
    assert m.counts == {}


def test_the_first_update_deletes_a_level_the_cut_snapshot_never_had(frames):
    m = market()
    feed(m, frames[:2])
    first = json.loads(frames[1])["events"][0]["updates"][0]
    assert (first["price_level"], first["new_quantity"]) == ("72867.6", "0")
    assert m.books["BTC-USD"].valid and D("72867.6") not in m.books["BTC-USD"].bids


def test_a_sequence_gap_invalidates_every_book_until_fresh_snapshots(frames):
    m = market()
    feed(m, frames[:40])
    assert m.on_frame(frames[41], 10**9) is FrameOutcome.RESYNC  # frame 40 was lost
    assert all(not b.valid for b in m.books.values())
    assert m.unreliable(10**9) == PRODUCTS and m.counts["gap"] == 1
    m.reset_connection("resubscribed")  # the socket layer resubscribes: a new counter
    assert set(feed(m, frames, start_ns=2 * 10**9)) == {FrameOutcome.OK}
    assert all(b.valid for b in m.books.values())


def test_a_repeated_or_older_frame_is_dropped_and_counted(frames):
    m = market()
    feed(m, frames[:20])
    assert m.on_frame(frames[19], 10**9) is FrameOutcome.DROPPED
    assert m.on_frame(frames[5], 10**9) is FrameOutcome.DROPPED
    assert m.counts["sequence_repeat"] == 2 and all(b.valid for b in m.books.values())


def test_a_heartbeat_counter_gap_counts_as_a_gap(frames):
    m = market()
    beats = [i for i, f in enumerate(frames) if f.startswith('{"channel":"heartbeats"')]
    feed(m, frames[:beats[1]])
    skipped = json.loads(frames[beats[1]])
    skipped["events"][0]["heartbeat_counter"] += 5
    assert m.on_frame(json.dumps(skipped), 10**9) is FrameOutcome.RESYNC


@pytest.mark.parametrize("bad, kind", [
    ("{", "not_json"), ("[1, 2]", "not_object"), ('{"channel": "nope", "events": []}',
                                                   "unknown_channel"),
    ('{"channel": "market_trades", "events": [{"trades": [{"price": "1"}]}]}', "missing_field"),
    ('{"channel": "market_trades", "timestamp": "2026-09-30T02:40:00Z", "events": [{"trades": '
     '[{"product_id": "BTC-USD", "trade_id": "1", "price": "1", "size": "1e999999999", '
     '"side": "BUY", "time": "2026-09-30T02:40:00Z"}]}]}', "bad_value"),
    ('{"channel": "market_trades", "timestamp": "2026-09-30T02:40:00Z", "events": [{"trades": '
     '[{"product_id": "BTC-USD", "trade_id": "1", "price": "1", "size": "1", '
     '"side": "BUY", "time": "2026-09-30T02:40:00.abcZ"}]}]}', "bad_value"),
])
def test_bad_input_is_counted_by_kind_and_skipped(frames, bad, kind):
    m = market()
    feed(m, frames[:30])
    assert m.on_frame(bad, 10**9) is FrameOutcome.INVALID
    assert m.counts[kind] == 1 and all(b.valid for b in m.books.values())


def test_a_rejected_book_frame_invalidates_its_book_and_resubscribes(frames):
    m = market()
    feed(m, frames[:30])
    bad = ('{"channel": "l2_data", "sequence_num": 30, "timestamp": "2026-09-30T02:40:00Z", '
           '"events": [{"type": "update", "product_id": "BTC-USD", "updates": ['
           '{"side": "bid", "price_level": "100", "new_quantity": "0"}, '
           '{"side": "offer", "price_level": "-5", "new_quantity": "1"}]}]}')
    assert m.on_frame(bad, 10**9) is FrameOutcome.RESYNC  # none of its changes could be applied
    assert m.counts["bad_value"] == 1
    assert not m.books["BTC-USD"].valid and m.books["ETH-USD"].valid
    assert "BTC-USD" in m.unreliable(10**9)


def test_a_book_that_becomes_crossed_resubscribes_and_is_counted_once(frames):
    m = market()
    feed(m, frames[:30])
    book = m.books["BTC-USD"]
    cross = {"channel": "l2_data", "sequence_num": m.last_seq + 1,
             "timestamp": "2026-09-30T02:40:00Z", "events": [{
                 "type": "update", "product_id": "BTC-USD", "updates": [{
                     "side": "bid", "event_time": "2026-09-30T02:40:00Z",
                     "price_level": str(book.best_ask + 1), "new_quantity": "1"}]}]}
    assert m.on_frame(json.dumps(cross), 10**9) is FrameOutcome.RESYNC
    assert not book.valid and m.counts["crossed_book"] == 1
    again = {**cross, "sequence_num": m.last_seq + 1}
    assert m.on_frame(json.dumps(again), 10**9) is FrameOutcome.OK  # already invalid: not again
    assert m.counts["crossed_book"] == 1


def test_silence_makes_products_unreliable_and_batches_say_so(frames):
    m = market()
    feed(m, frames)
    now = m.last_frame_ns
    batch = m.next_batch(1, now)
    assert batch.unreliable == ()
    books = [e for e in batch.events if isinstance(e, BookUpdate)]
    assert {b.product_id for b in books} == set(PRODUCTS) and all(b.valid for b in books)
    assert books[0].bids[0][0] == m.books[books[0].product_id].best_bid
    trades = [e for e in batch.events if isinstance(e, Trade)]
    assert len({t.trade_id for t in trades}) == len(trades) > 0
    assert m.next_batch(2, now) is None  # nothing new since
    assert m.unreliable(now + 6 * SECOND) == PRODUCTS and m.stale(now + 6 * SECOND)


def test_a_batch_arrives_with_its_oldest_frame_of_news_not_a_heartbeat(frames):
    """Tick-to-order starts at the frame that brought the batch something: a
    heartbeat before it (no market event) is no tick."""
    m = market()
    feed(m, frames[:30])
    m.next_batch(1, 10**9)
    beat = next(f for f in frames[30:] if f.startswith('{"channel":"heartbeats"'))
    news = next(f for f in frames[30:] if f.startswith('{"channel":"l2_data"'))
    seq = max(json.loads(f)["sequence_num"] for f in frames[:30])
    m.on_frame(json.dumps({**json.loads(beat), "sequence_num": seq + 1}), 2 * 10**9)
    m.on_frame(json.dumps({**json.loads(news), "sequence_num": seq + 2}), 3 * 10**9)
    assert m.next_batch(2, 4 * 10**9).received_ns == 3 * 10**9


def test_a_frame_of_invalid_utf8_is_counted_and_skipped(frames):
    """The socket hands frames over as bytes, unvalidated: the parser's own
    check counts invalid UTF-8 as not JSON."""
    m = market()
    feed(m, frames[:30])
    assert m.on_frame(b'{"channel": "l2_data\xff\xfe", "events": []}', 10**9) is \
        FrameOutcome.INVALID
    assert m.counts["not_json"] == 1 and all(b.valid for b in m.books.values())


@pytest.mark.parametrize(("price", "size", "named"), [
    ("abc", "1", "price_level"), (100.5, "1", "price_level"), ("100", "NaN", "new_quantity"),
    ("100", True, "new_quantity"), ("100", None, "new_quantity"),
])
def test_level_texts_parsed_before_do_not_let_a_bad_level_through(frames, price, size, named):
    # Level2 prices and sizes are parsed through a cache of texts seen before:
    # a valid text in it must not make a bad value (of another type) pass.
    m = market()
    feed(m, frames)
    bad = {"channel": "l2_data", "timestamp": "2026-09-30T02:40:00Z", "events": [{
        "type": "update", "product_id": "BTC-USD", "updates": [
            {"side": "bid", "price_level": "100", "new_quantity": "1"},
            {"side": "bid", "price_level": price, "new_quantity": size}]}]}
    with pytest.raises(at.FrameError, match=named) as raised:
        at.book_events(at.parse_frame(json.dumps(bad)))
    assert raised.value.kind == "bad_value"
    same = at.book_events(at.parse_frame(json.dumps({**bad, "events": [{
        **bad["events"][0], "updates": bad["events"][0]["updates"][:1]}]})))
    assert same[0].changes == [("bid", D(100), D(1))]
