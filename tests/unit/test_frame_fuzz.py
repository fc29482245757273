"""No frame, however malformed, fails the market code: the real recorded
Advanced Trade frames with every field replaced by arbitrary JSON, truncated
and reordered, go through the parser and the live market state, and each is
either applied or counted by kind and skipped."""

from __future__ import annotations

import json
import logging
import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoj_actors.adapters.coinbase import advanced_trade
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.live_market import LiveMarket
from tests.conftest import DATA_DIR

CAPTURE = DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm" / "advanced_md_stream.jsonl"
FRAMES_PER_EXAMPLE = 40
EXAMPLES = 260  # 10,400 frames
SECOND = 1_000_000_000

_real: list[dict] = []


def real_frames() -> list[dict]:
    """The recorded frames, small ones kept whole and snapshots cut to 5 levels
    a side (the mutations, not the size, are the point)."""
    if not _real:
        for line in CAPTURE.read_text(encoding="utf-8").splitlines():
            frame = json.loads(line.partition("\t")[2])
            for event in frame.get("events", []):
                if isinstance(event.get("updates"), list):
                    event["updates"] = event["updates"][:10]
            _real.append(frame)
    return _real


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "nan", "Infinity", "-inf", "1e999999999", "1e-400", "-0", "0",
                     "", " ", "1e30", "1e31", "0.000000000000000000000000000001",
                     "2026-09-30T02:39:53Z", "9999-99-99T99:99:99Z", "BTC-USD", "bid", "offer",
                     "BUY", "SELL", "snapshot", "update", "l2_data", "market_trades", "ticker",
                     "candles", "heartbeats", "\u0000", "\u202e\U0001f4a5"]),
    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: dict keys and list indexes, depth first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)  # a list
    copy[head] = replaced(copy[head], rest, new)
    return copy


def deep(levels: int) -> str:
    return '{"channel": "l2_data", "events": ' + "[" * levels + "]" * levels + "}"


def mutate(rng: random.Random, pool: list[object]) -> str:
    """One frame: a real one with one to three places replaced by values of
    ``pool``, its keys perhaps reordered, and perhaps truncated or replaced
    by a deeply nested one."""
    frame: object = rng.choice(real_frames())
    for _ in range(rng.randint(1, 3)):
        frame = replaced(frame, rng.choice(paths(frame)), rng.choice(pool))
    if isinstance(frame, dict) and rng.random() < 0.5:
        items = list(frame.items())
        rng.shuffle(items)
        frame = dict(items)
    text = json.dumps(frame, allow_nan=True)
    how = rng.random()
    if how < 0.15:
        text = text[:rng.randrange(max(1, len(text)))]
    elif how < 0.2:
        text = deep(rng.choice([10, 500, 2000, 100_000]))
    return text


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(json_values, min_size=6, max_size=6), st.integers(0, 2**32))
def check_frames(pool: list[object], seed: int) -> None:
    # Hypothesis draws the substituted values and a seed for the choices; the
    # frames are made from them here (drawing each frame whole costs most of
    # the time, and a seed replays the same frames).
    rng = random.Random(seed)
    frames = [mutate(rng, pool) for _ in range(FRAMES_PER_EXAMPLE)]
    market = LiveMarket(advanced_trade, ("BTC-USD", "ETH-USD"), SECOND, 5 * SECOND)
    telemetry = Telemetry()
    now = time.time_ns()
    for i, raw in enumerate(frames):
        market.take(raw, now + i, telemetry)  # must not raise
    market.next_batch(1, now + len(frames))
    assert telemetry.feed_messages["frames"] + telemetry.feed_messages["invalid"] == len(frames)
    assert sum(market.counts.values()) >= telemetry.feed_messages["invalid"]


def test_ten_thousand_mutated_real_frames_fail_nothing(advanced_ws_capture, caplog):
    caplog.set_level(logging.ERROR, logger="cryptoj_actors.marketdata.live_market")
    started = time.monotonic()
    check_frames()
    assert EXAMPLES * FRAMES_PER_EXAMPLE >= 10_000
    assert time.monotonic() - started < 30


def test_a_channel_or_product_id_of_the_wrong_type_is_counted_not_raised():
    # The two frames that used to kill the feed actor (and so halt live trading).
    market = LiveMarket(advanced_trade, ("BTC-USD",), SECOND, 5 * SECOND)
    telemetry = Telemetry()
    for raw in ('{"channel":[],"events":[]}', '{"channel":{},"events":[]}',
                '{"channel":"l2_data","sequence_num":0,"events":[{"type":"update",'
                '"product_id":[],"updates":[]}]}',
                '{"channel":"l2_data","sequence_num":1,"events":[{"type":"snapshot",'
                '"product_id":{"a":1},"updates":[]}]}',
                '{"channel":"market_trades","sequence_num":2,"events":[{"trades":[{"trade_id":"1",'
                '"product_id":"BTC-USD","price":"1","size":"1","side":[],"time":"2026-09-30T02:39:53Z"}]}]}',
                '{"channel":"candles","sequence_num":3,"events":[{"candles":[{"start":1e400,'
                '"product_id":"BTC-USD","open":"1","high":"1","low":"1","close":"1","volume":"1"}]}]}'):
        market.take(raw, time.time_ns(), telemetry)
    # Each counted by kind; the book frames also resubscribe (their numbers are spent).
    assert dict(market.counts) == {"unknown_channel": 2, "bad_value": 3, "not_json": 1}
    assert telemetry.feed_messages["frames"] + telemetry.feed_messages["invalid"] == 6
