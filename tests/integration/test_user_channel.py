"""Coinbase's ``user`` channel: the client against the loopback venue's own
channel (a real websocket on 127.0.0.1, fed by the venue's matching, every
subscribe's JWT checked), with its faults: a gap, a stall, a drop, a refused
key, malformed frames."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from websockets.sync.server import serve

from cryptoj_actors.adapters.coinbase.credentials import parse_credentials
from cryptoj_actors.adapters.coinbase.user_channel import (
    News,
    UserChannel,
    parse_user_frame,
)
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.health.telemetry import Telemetry
from tests.conftest import load_script, wait_until

exchange_server = load_script("exchange_server")


class Rings:
    def __init__(self) -> None:
        self.polls = 0
        self.reconciles = 0
        self.lock = threading.Lock()

    def __call__(self, *, reconcile: bool = False) -> None:
        with self.lock:
            if reconcile:
                self.reconciles += 1
            else:
                self.polls += 1


@pytest.fixture
def venue_and_key():
    name, pem, public = exchange_server.make_key()
    venue = exchange_server.Venue(balances={"USD": Decimal("10000")},
                                  prices={"BTC-USD": (Decimal("100000"), Decimal("100001"))})
    return venue, name, pem, public


def buy(venue, coid: str) -> None:
    answer = venue.create({"client_order_id": coid, "product_id": "BTC-USD", "side": "BUY",
                           "order_configuration": {"market_market_ioc": {"quote_size": "100"}}})
    assert answer["success"], answer


@contextmanager
def connected(venue_and_key, faults=None, *, pem: str | None = None,
              stale_after_s: float = 5.0) -> Iterator[tuple]:
    """The venue's user channel served, and a client on it signing with
    ``pem`` (the venue's key by default): (server, channel, telemetry, rings)."""
    venue, name, venue_pem, public = venue_and_key
    server = exchange_server.UserChannelServer(venue, name, public, faults=faults).start()
    telemetry, rings = Telemetry(), Rings()
    channel = UserChannel(server.url, parse_credentials(name, pem or venue_pem, "test"),
                          ("BTC-USD",), stale_after_s=stale_after_s,
                          backoff=Backoff(0.01, 0.05), telemetry=telemetry)
    channel.start(rings)
    try:
        yield server, channel, telemetry, rings
    finally:
        channel.stop()
        server.stop()


def test_a_subscription_rings_to_reconcile_and_every_order_change_to_poll(venue_and_key):
    venue = venue_and_key[0]
    with connected(venue_and_key) as (server, channel, telemetry, rings):
        # The opening snapshot; it may come before the second subscribe is read.
        wait_until(lambda: rings.reconciles == 1 and channel.fresh
                   and len(server.subscriptions) == 2)
        subscribed = {m["channel"]: m for m in server.subscriptions}
        assert set(subscribed) == {"user", "heartbeats"}
        assert subscribed["user"]["product_ids"] == ["BTC-USD"]
        # A fresh JWT for each subscribe (the server refuses a nonce twice).
        assert subscribed["user"]["jwt"] != subscribed["heartbeats"]["jwt"]
        buy(venue, "o-1")
        wait_until(lambda: rings.polls >= 1 and telemetry.user_channel_events["orders"] >= 1)
        assert telemetry.user_channel_state == "up"
        wait_until(lambda: telemetry.user_channel_events["frames"] >= 5)  # heartbeats, 1 a second
        assert rings.polls == 1 and telemetry.user_channel_events["gaps"] == 0


def test_a_sequence_gap_rings_for_a_poll(venue_and_key):
    faults = exchange_server.UserFaults(skip_seq=3)
    with connected(venue_and_key, faults) as (_, _, telemetry, rings):
        # subscriptions, subscriptions, snapshot, then a heartbeat after the gap
        wait_until(lambda: telemetry.user_channel_events["gaps"] == 1 and rings.polls == 1,
                   timeout=10)


def test_a_stalled_channel_goes_stale_and_is_reconnected(venue_and_key):
    faults = exchange_server.UserFaults(stall_after=4)
    with connected(venue_and_key, faults, stale_after_s=1.0) as (
            server, channel, telemetry, rings):
        wait_until(lambda: rings.reconciles == 1)
        # Nobody watches but the test here (in the system, the venue worker).
        wait_until(lambda: (channel.watch(), server.connections >= 2)[1], timeout=10)
        wait_until(lambda: rings.reconciles == 2)  # the new subscription reconciles
        assert telemetry.user_channel_events["reconnects"] >= 1


def test_a_dropped_connection_reconnects_and_reconciles(venue_and_key):
    faults = exchange_server.UserFaults(drop_after=3)
    with connected(venue_and_key, faults) as (server, channel, telemetry, rings):
        # Each connection is dropped after 3 frames, so the state flickers:
        # what must hold is that every one was reopened and reconciled.
        wait_until(lambda: server.connections >= 3 and rings.reconciles >= 3)
        assert telemetry.user_channel_events["reconnects"] >= 2


def test_a_refused_key_is_logged_and_the_channel_is_never_fresh(venue_and_key, caplog):
    _, other_pem, _ = exchange_server.make_key()  # signed by a key the venue does not know
    with connected(venue_and_key, pem=other_pem) as (_, channel, telemetry, rings):
        wait_until(lambda: telemetry.user_channel_events["errors"] >= 1)
        assert "authentication failure" in caplog.text
        assert not channel.fresh  # open, but refused: the orders must not be polled slowly
        assert rings.reconciles == 0 and rings.polls == 0
        assert telemetry.user_channel_state != "up"


def test_a_refusal_that_keeps_the_connection_open_is_not_fresh(venue_and_key):
    # A venue may answer a refused subscribe with an error and leave the
    # socket open: the channel must not count as fresh (orders would then be
    # polled only every user_poll_interval_s) until the stale watch drops it.
    released = threading.Event()

    def refuse(connection) -> None:
        connection.recv()
        connection.send('{"type":"error","message":"authentication failure"}')
        released.wait(10)

    _, name, pem, _ = venue_and_key
    telemetry, rings = Telemetry(), Rings()
    with serve(refuse, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        channel = UserChannel(f"ws://127.0.0.1:{server.socket.getsockname()[1]}",
                              parse_credentials(name, pem, "test"), ("BTC-USD",),
                              stale_after_s=5.0, backoff=Backoff(0.01, 0.05),
                              telemetry=telemetry)
        channel.start(rings)
        try:
            wait_until(lambda: telemetry.user_channel_events["errors"] >= 1)
            assert not channel.fresh
        finally:
            released.set()
            channel.stop()
            server.shutdown()


def test_a_frame_without_a_sequence_number_keeps_the_count(venue_and_key):
    # The channel's callbacks driven directly: a server that omits the
    # number is not one the loopback venue plays.
    _, name, pem, _ = venue_and_key
    telemetry, rings = Telemetry(), Rings()
    channel = UserChannel("ws://127.0.0.1:9", parse_credentials(name, pem, "test"),
                          ("BTC-USD",), stale_after_s=5.0, backoff=Backoff(0.01, 0.05),
                          telemetry=telemetry)
    channel._ring = rings
    for raw in (b'{"channel":"heartbeats","sequence_num":1,"events":[]}',
                b'{"channel":"heartbeats","events":[]}',
                b'{"channel":"heartbeats","sequence_num":2,"events":[]}'):
        channel._on_message(None, raw)
    assert telemetry.user_channel_events["gaps"] == 0
    channel._on_message(None, b'{"channel":"heartbeats","events":[]}')
    channel._on_message(None, b'{"channel":"heartbeats","sequence_num":4,"events":[]}')
    assert telemetry.user_channel_events["gaps"] == 1 and rings.polls == 1


@pytest.mark.parametrize("raw", [
    b"not json", b"[1, 2]", b'{"channel": "user", "events": "x"}',
    b'{"channel": "user", "sequence_num": "7", "events": []}',
    b'{"channel": "user", "events": [{"type": "update", "orders": [{"status": "OPEN"}]}]}',
    b'{"channel": "user", "events": [{"type": "update", "orders": {}}]}',
    b'\xff\xfe',
])
def test_a_malformed_frame_is_refused_with_a_value_error(raw):
    with pytest.raises(ValueError):
        parse_user_frame(raw)


def test_frames_are_read_as_coinbase_sends_them():
    snapshot = parse_user_frame(
        b'{"channel":"user","client_id":"","timestamp":"2026-12-02T18:00:00.000000Z",'
        b'"sequence_num":2,"events":[{"type":"snapshot","orders":[{"order_id":"v1",'
        b'"client_order_id":"c1","status":"OPEN","cumulative_quantity":"0"}]}]}')
    assert (snapshot.sequence, snapshot.news, snapshot.client_order_ids) == (
        2, News.SNAPSHOT, ("c1",))
    update = parse_user_frame(b'{"channel":"user","sequence_num":3,"events":[{"type":"update",'
                              b'"orders":[{"client_order_id":"c1","status":"FILLED"}]}]}')
    assert update.news is News.ORDERS
    beat = parse_user_frame(b'{"channel":"heartbeats","sequence_num":4,"events":[]}')
    assert (beat.sequence, beat.news) == (4, None)
    error = parse_user_frame(b'{"type":"error","message":"authentication failure"}')
    assert error.error == "authentication failure"
