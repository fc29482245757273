"""The Coinbase order client against a Coinbase-protocol REST venue on
127.0.0.1 that checks every JWT (a key made here): orders placed once and
never repeated, unknown outcomes resolved by looking the order up, retries
within the rules, reconciliation after a restart."""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from decimal import Decimal

import jwt
import pytest

from cryptoj_actors.adapters.coinbase.credentials import parse_credentials
from cryptoj_actors.adapters.coinbase.execution import FILLS_GRACE_S, CoinbaseExchange
from cryptoj_actors.adapters.coinbase.rest import (
    AuthenticationError,
    NotFound,
    RestClient,
    Unavailable,
)
from cryptoj_actors.config import CoinbaseConfig
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.messages import Fill, MarketBatch, OrderUpdate, VenueBalances
from cryptoj_actors.model import Order, OrderStatus, OrderType, Side
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.portfolio.reconcile import apply_differences, balance_differences
from tests.conftest import load_script, wait_until

server_script = load_script("exchange_server")
Fault = server_script.Fault

BID, ASK = Decimal("114120.50"), Decimal("114120.51")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key():
    return server_script.make_key()


@pytest.fixture
def server(key):
    name, _, public = key
    venue = server_script.Venue(balances={"USD": Decimal("10000"), "BTC": Decimal("0")},
                                prices={"BTC-USD": (BID, ASK)})
    srv = server_script.ExchangeServer(venue, name, public).start()
    yield srv
    srv.stop()


def settings(url: str, **overrides) -> CoinbaseConfig:
    base = CoinbaseConfig(rest_url=url, timeout_s=0.5, max_retries=3, retry_initial_s=0.01,
                          retry_max_s=0.02)
    return replace(base, **overrides)


@pytest.fixture
def client(server, key):
    name, pem, _ = key
    rest = RestClient(settings(server.url), parse_credentials(name, pem, "test"))
    yield rest
    rest.close()


def buy(coid: str = "o-1", quote: str = "250.00", **kw) -> Order:
    return Order(client_order_id=coid, product_id="BTC-USD", side=Side.BUY,
                 order_type=OrderType.MARKET, quote_size=Decimal(quote), **kw)


def limit_buy(coid: str) -> Order:
    """A buy resting well below the market (the venue's ask is 114,120.51)."""
    return Order(client_order_id=coid, product_id="BTC-USD", side=Side.BUY,
                 order_type=OrderType.LIMIT, base_size=Decimal("0.001"),
                 limit_price=Decimal("100000.00"))


def halt_while_cancels_fail(server, exchange: CoinbaseExchange) -> Fault:
    """Ask for the halt's cancels while the venue answers 500 to every one;
    the fault returned stops failing when its ``times`` is set to 0."""
    failing = Fault("POST", "/orders/batch_cancel", "500", times=100)
    server.add_fault(failing)
    exchange.cancel_all(0, "halted")
    return failing


def poll_until_ended(exchange: CoinbaseExchange, clock: FakeClock | None = None) -> list:
    events = []
    for _ in range(5):
        if clock is not None:
            clock.now += 1
        events += exchange.poll(0)
        if not exchange.open_orders:
            break
    return events


# --- authentication -------------------------------------------------------------------


def test_every_private_request_carries_a_fresh_es256_jwt_the_venue_accepts(server, client, key):
    client.accounts()
    client.accounts()
    seen = server.requests("GET", "/accounts")
    assert len(seen) >= 2 and all(s.authorized for s in seen)
    claims = seen[0].claims
    assert claims["iss"] == "cdp" and claims["sub"] == key[0]
    assert claims["exp"] - claims["nbf"] == 120
    assert claims["uri"] == f"GET 127.0.0.1:{server.port}/api/v3/brokerage/accounts"
    assert len(server.nonces) == len(server.seen)  # a fresh nonce every request

    token = client.credentials.jwt("GET", "api.coinbase.com", "/api/v3/brokerage/accounts")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == key[0] and len(header["nonce"]) >= 16


def test_a_wrong_key_gets_401_and_no_secret_shows_in_the_error(server):
    other_name, other_pem, _ = server_script.make_key()
    rest = RestClient(settings(server.url), parse_credentials(other_name, other_pem, "test"))
    with pytest.raises(AuthenticationError) as err:
        rest.accounts()
    text = str(err.value)
    assert "HTTP 401" in text and "Unauthorized" in text
    assert "PRIVATE KEY" not in text and "Bearer" not in text and other_pem[40:80] not in text
    assert "PRIVATE KEY" not in repr(rest.credentials)


def test_public_endpoints_need_no_key(server):
    rest = RestClient(settings(server.url))
    assert int(rest.server_time()["epochSeconds"]) > 1_700_000_000
    assert [p["product_id"] for p in rest.public_products()] == ["BTC-USD"]
    with pytest.raises(AuthenticationError, match="no API key configured"):
        rest.accounts()


def test_an_order_a_product_and_the_best_bid_and_ask_are_read_in_coinbase_shapes(client):
    placed = client.create_order({"client_order_id": "o-9", "product_id": "BTC-USD",
                                  "side": "BUY", "order_configuration": {
                                      "market_market_ioc": {"quote_size": "100.00"}}})
    order = client.get_order(placed["success_response"]["order_id"])
    assert (order["client_order_id"], order["status"]) == ("o-9", "FILLED")
    with pytest.raises(NotFound):
        client.get_order("no-such-order")
    product = client.product("BTC-USD")
    assert product["base_increment"] == "0.00000001" and product["status"] == "online"
    (book,) = client.best_bid_ask(["BTC-USD"])
    assert (book["bids"][0]["price"], book["asks"][0]["price"]) == (str(BID), str(ASK))


# --- orders ---------------------------------------------------------------------------


def test_a_market_buy_is_placed_once_and_its_fill_and_end_come_from_the_venue(server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    update = exchange.submit(buy(), 0)
    assert update.status is OrderStatus.OPEN and update.exchange_order_id
    events = poll_until_ended(exchange)
    fills = [e for e in events if isinstance(e, Fill)]
    ends = [e for e in events if isinstance(e, OrderUpdate)]
    venue_fill = server.venue.fills[0]
    assert len(fills) == 1 and fills[0].fill_id == venue_fill["entry_id"]
    assert fills[0].price == ASK and fills[0].base_size == Decimal(venue_fill["size"])
    assert fills[0].fee == Decimal(venue_fill["commission"]) and fills[0].fee > 0
    assert ends[-1].status is OrderStatus.FILLED and ends[-1].filled_base == fills[0].base_size
    assert events.index(fills[0]) < events.index(ends[-1])  # the fill before the end
    assert exchange.poll(0) == []  # nothing twice
    assert len(server.requests("POST", "/orders")) == 1
    body = server.requests("POST", "/orders")[0].body
    assert body == {"client_order_id": "o-1", "product_id": "BTC-USD", "side": "BUY",
                    "order_configuration": {"market_market_ioc": {"quote_size": "250.00"}}}


def test_a_refusal_with_success_false_is_rejected_with_the_venues_reason(client):
    exchange = CoinbaseExchange(client)
    update = exchange.submit(buy(quote="50000.00"), 0)
    assert update.status is OrderStatus.REJECTED
    assert "INSUFFICIENT_FUND" in update.detail and "Insufficient balance" in update.detail
    assert exchange.open_orders == 0


def test_429_on_create_is_retried_and_the_order_is_placed_once(server, client):
    server.add_fault(Fault("POST", "/orders", "429", times=2))
    update = CoinbaseExchange(client).submit(buy(), 0)
    assert update.status is OrderStatus.OPEN
    assert len(server.requests("POST", "/orders")) == 3 and len(server.venue.orders) == 1


@pytest.mark.parametrize("fault", [
    Fault("POST", "/orders", "500", after=True),
    Fault("POST", "/orders", "drop", after=True),
    Fault("POST", "/orders", "slow", after=True, delay_s=1.0),
], ids=["500-after-placing", "dropped-after-placing", "answer-after-the-time-out"])
def test_a_lost_answer_makes_the_order_unknown_until_the_venue_shows_it(server, client, fault):
    server.add_fault(fault)
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    update = exchange.submit(buy(), 0)
    assert update.status is OrderStatus.UNKNOWN and not update.exchange_order_id
    events = poll_until_ended(exchange)
    assert [type(e).__name__ for e in events] == ["Fill", "OrderUpdate"]
    assert events[-1].status is OrderStatus.FILLED
    assert events[-1].exchange_order_id == next(iter(server.venue.orders))
    assert len(server.requests("POST", "/orders")) == 1  # never sent again
    assert exchange.stats.unknown_orders == exchange.stats.unknown_resolved == 1


def test_an_order_the_venue_never_got_ends_only_after_the_lookup_time_out(server, client):
    server.add_fault(Fault("POST", "/orders", "drop"))  # dropped before it took effect
    clock = FakeClock()
    exchange = CoinbaseExchange(client, poll_interval_s=0, unknown_timeout_s=30, clock=clock)
    assert exchange.submit(buy(), 0).status is OrderStatus.UNKNOWN
    clock.now += 10
    assert exchange.poll(0) == [] and exchange.open_orders == 1  # still looking
    clock.now += 25
    (ended,) = exchange.poll(0)
    assert ended.status is OrderStatus.REJECTED and "never placed" in ended.detail
    assert len(server.requests("POST", "/orders")) == 1 and not server.venue.orders


def test_a_refused_connection_rejects_the_order_it_never_sent(key):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rest = RestClient(settings(f"http://127.0.0.1:{port}", max_retries=0),
                      parse_credentials(key[0], key[1], "test"))
    update = CoinbaseExchange(rest).submit(buy(), 0)
    assert update.status is OrderStatus.REJECTED and "not sent" in update.detail


def test_reads_are_retried_on_500_and_429_and_give_up_as_unavailable(server, client):
    server.add_fault(Fault("GET", "/accounts", "500", times=2))
    server.add_fault(Fault("GET", "/accounts", "429", times=1))
    assert {a["currency"] for a in client.accounts()} == {"USD", "BTC"}
    assert client.retries == 3
    server.add_fault(Fault("GET", "/accounts", "500", times=10))
    with pytest.raises(Unavailable, match="HTTP 500"):
        client.accounts()


def test_limit_and_stop_limit_orders_rest_and_a_halt_cancels_them_at_the_venue(server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    limit = limit_buy("l-1")
    server.venue.balances["BTC"] = Decimal("0.01")
    stop = Order(client_order_id="s-1", product_id="BTC-USD", side=Side.SELL,
                 order_type=OrderType.STOP_LIMIT, base_size=Decimal("0.002"),
                 limit_price=Decimal("108000.00"), stop_price=Decimal("108500.00"),
                 reduce_only=True)
    assert exchange.submit(limit, 0).status is OrderStatus.OPEN
    assert exchange.submit(stop, 0).status is OrderStatus.OPEN
    bodies = [s.body["order_configuration"] for s in server.requests("POST", "/orders")]
    assert bodies[1] == {"stop_limit_stop_limit_gtc": {
        "base_size": "0.002", "limit_price": "108000.00", "stop_price": "108500.00",
        "stop_direction": "STOP_DIRECTION_STOP_DOWN"}}
    exchange.cancel_all(0, "halted", keep_reduce_only=True)  # the exit stays
    (ended,) = exchange.poll(0)
    assert ended.client_order_id == "l-1" and ended.status is OrderStatus.CANCELLED
    assert exchange.open_orders == 1


def test_an_order_ended_at_the_venue_waits_for_its_fills_to_be_listed(server, client):
    server.venue.fills_delay_s = 0.5  # the status counts the fill before the fills list it
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    exchange.submit(buy(), 0)
    assert exchange.poll(0) == [] and exchange.open_orders == 1  # FILLED, but no fill yet
    events = []

    def ended() -> bool:
        events.extend(exchange.poll(0))
        return not exchange.open_orders

    wait_until(ended, timeout=5)
    fill, end = events
    assert isinstance(fill, Fill) and fill.client_order_id == "o-1"
    assert end.status is OrderStatus.FILLED and end.filled_base == fill.base_size


def test_fills_never_listed_end_the_order_after_the_grace_loudly(server, client, caplog):
    server.venue.fills_delay_s = 3600
    clock = FakeClock()
    exchange = CoinbaseExchange(client, poll_interval_s=0, clock=clock)
    exchange.submit(buy(), 0)
    assert exchange.poll(0) == []
    clock.now += FILLS_GRACE_S
    (end,) = exchange.poll(0)
    assert end.status is OrderStatus.FILLED and exchange.open_orders == 0
    assert "the balances reconcile the rest" in caplog.text


def test_entries_that_are_not_fills_are_skipped_and_counted(server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    exchange.submit(buy(), 0)
    with server.venue.lock:
        (real,) = server.venue.fills
        server.venue.fills.append({**real, "entry_id": "reversal-1", "trade_type": "REVERSAL"})
        server.venue.fills.append({**real, "entry_id": "bad-1", "price": "abc"})
    events = exchange.poll(0)
    assert [type(e).__name__ for e in events] == ["Fill", "OrderUpdate"]
    assert events[0].fill_id == real["entry_id"]
    assert exchange.stats.skipped_entries == 2


def test_a_cancel_that_failed_is_sent_again_until_the_order_ends(server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    exchange.submit(limit_buy("l-2"), 0)
    failing = halt_while_cancels_fail(server, exchange)
    assert exchange.poll(0) == [] and exchange.open_orders == 1  # still resting there
    failing.times = 0  # the venue answers again
    events = poll_until_ended(exchange)
    assert events[-1].status is OrderStatus.CANCELLED and exchange.open_orders == 0


def test_a_resume_withdraws_the_cancels_the_venue_has_not_accepted(server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    exchange.submit(limit_buy("l-3"), 0)
    halt_while_cancels_fail(server, exchange).times = 0
    exchange.resume()  # the operator resumed before the venue took the cancel
    calls = len(server.requests("POST", "/orders/batch_cancel"))
    assert exchange.poll(0) == [] and exchange.open_orders == 1  # it trades on
    assert len(server.requests("POST", "/orders/batch_cancel")) == calls


# --- reconciliation -------------------------------------------------------------------


def test_an_order_sent_long_before_a_restart_is_still_found_by_its_id(server, client,
                                                                     tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3", "live-coinbase", mode="live")
    an_hour_ago = time.time() - 3600
    order = buy("o-old", created_ns=int(an_hour_ago * 1e9))
    journal.record_order(order)  # sent, then the process died before the answer
    server.venue.create({"client_order_id": "o-old", "product_id": "BTC-USD", "side": "BUY",
                         "order_configuration": {"market_market_ioc": {"quote_size": "250.00"}}})
    with server.venue.lock:
        (placed,) = server.venue.orders.values()
        placed["created_time"] = server_script._rfc3339(an_hour_ago)
    events = CoinbaseExchange(client).recover(journal)
    ends = {e.client_order_id: e.status for e in events if isinstance(e, OrderUpdate)}
    assert ends == {"o-old": OrderStatus.FILLED}
    assert [e.client_order_id for e in events if isinstance(e, Fill)] == ["o-old"]
    journal.close()


def test_a_restart_takes_up_open_orders_without_sending_them_again(server, client, tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3", "live-coinbase", mode="live")
    sent, pending = buy("o-sent"), buy("o-pending", quote="100.00")
    for order in (sent, pending):
        journal.record_order(order)
    # Before the crash: o-sent was placed and its id journaled; o-pending was
    # placed too, but the process died before the answer was journaled.
    first = CoinbaseExchange(client)
    journal.set_exchange_order_id("o-sent", first.submit(sent, 0).exchange_order_id)
    journal.update_order("o-sent", OrderStatus.OPEN, Decimal(0), 0)
    server.venue.create({"client_order_id": "o-pending", "product_id": "BTC-USD", "side": "BUY",
                         "order_configuration": {"market_market_ioc": {"quote_size": "100.00"}}})
    posts = len(server.requests("POST", "/orders"))

    events = CoinbaseExchange(client).recover(journal)
    fills = {e.client_order_id for e in events if isinstance(e, Fill)}
    ends = {e.client_order_id: e.status for e in events if isinstance(e, OrderUpdate)}
    assert fills == {"o-sent", "o-pending"}
    assert ends == {"o-sent": OrderStatus.FILLED, "o-pending": OrderStatus.FILLED}
    assert isinstance(events[-1], VenueBalances) and events[-1].settled
    assert len(server.requests("POST", "/orders")) == posts  # nothing re-sent
    journal.close()


def test_the_ledger_matches_the_venue_after_fills_and_takes_a_deposit_as_a_transfer(
        server, client):
    exchange = CoinbaseExchange(client, poll_interval_s=0)
    ledger = Ledger(Decimal("10000"))
    order = buy()
    ledger.reserve(order)
    exchange.submit(order, 0)
    for event in poll_until_ended(exchange):
        if isinstance(event, Fill):
            ledger.apply_fill(event)
        else:
            ledger.release(event.client_order_id)
    ledger.mark("BTC-USD", BID)
    (balances,) = [e for e in exchange.reconcile(0) if isinstance(e, VenueBalances)]
    snapshot = ledger.snapshot(sender="t", ts_ns=0, seq=0)
    assert balance_differences(snapshot, balances, ["BTC-USD"]) == []

    server.venue.balances["USD"] += Decimal("500")  # a deposit made outside the system
    (balances,) = [e for e in exchange.reconcile(0) if isinstance(e, VenueBalances)]
    (diff,) = balance_differences(ledger.snapshot(sender="t", ts_ns=0, seq=0), balances,
                                  ["BTC-USD"])
    assert diff.currency == "USD" and diff.difference == Decimal("500")
    (applied,) = apply_differences(ledger, [diff])
    assert applied.applied and ledger.transfers == Decimal("500")
    ledger.check_invariants()
    assert balance_differences(ledger.snapshot(sender="t", ts_ns=0, seq=0), balances,
                               ["BTC-USD"]) == []


def test_an_unreachable_venue_is_counted_and_reconciled_when_it_answers(server, client):
    errors = []
    exchange = CoinbaseExchange(client, poll_interval_s=0, on_error=errors.append)
    exchange.submit(buy(), 0)
    server.add_fault(Fault("GET", "/orders/historical/fills", "500", times=4))  # 1 + 3 retries
    assert exchange.poll(0) == [] and errors and exchange.stats.requests_failed == 1
    events = exchange.on_market(MarketBatch(sender="feed", ts_ns=0, seq=1, events=()))
    assert [type(e).__name__ for e in events] == ["Fill", "OrderUpdate", "VenueBalances"]
    assert exchange.stats.reconciliations == 1


# --- polling while the user channel is fresh ------------------------------------------


def market_batch(connection: int = 1) -> MarketBatch:
    return MarketBatch(sender="feed", ts_ns=0, seq=1, events=(), connection=connection)


def test_a_fresh_user_channel_slows_the_clocks_polls_but_not_for_an_unknown_order(
        server, client):
    """A resting order is polled every ``user_poll_interval_s`` while the
    channel is fresh (its news rings for the rest), every ``poll_interval_s``
    while it is stale; an UNKNOWN order, which no news names, always fast."""
    clock, fresh = FakeClock(), [True]
    exchange = CoinbaseExchange(client, poll_interval_s=1, user_poll_interval_s=15,
                                clock=clock, user_channel_fresh=lambda: fresh[0])
    exchange.submit(limit_buy("rest-1"), 0)
    exchange.poll(0)
    lists = lambda: len(server.requests("GET", "/orders/historical/batch"))  # noqa: E731
    before = lists()
    clock.now += 2
    exchange.on_market(market_batch())
    assert lists() == before  # fresh: the next clock poll is 15 s away
    clock.now += 14
    exchange.on_market(market_batch())
    assert lists() == before + 1
    fresh[0] = False  # stale: every second again
    clock.now += 1
    exchange.on_market(market_batch())
    assert lists() == before + 2

    fresh[0] = True
    server.add_fault(Fault("POST", "/orders", "drop"))
    assert exchange.submit(limit_buy("lost-1"), 0).status is OrderStatus.UNKNOWN
    clock.now += 1
    exchange.on_market(market_batch())
    assert lists() == before + 4  # the UNKNOWN order's lookup and the poll, at 1 s
