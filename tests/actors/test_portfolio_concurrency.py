"""The portfolio actor alone owns the ledger: orders sent from many threads at
once can never spend the same cash or break the position limit together."""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from pathlib import Path

import pykka
import pytest

from cryptoj_actors.actors.portfolio import PortfolioActor
from cryptoj_actors.config import Config
from cryptoj_actors.messages import Fill, MarketBatch, OrderBatch, RiskDecisions
from cryptoj_actors.model import Bar, Liquidity, Order, OrderType, Side
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.runtime import RunInfo, Runtime
from tests.actors.recorder import Recorder

PRICES = {"BTC-USD": Decimal("8051.23"), "ETH-USD": Decimal("176.59"), "LTC-USD": Decimal("53.52")}
LIMIT = Decimal("0.10")


@pytest.fixture
def system(tmp_path: Path):
    rt = Runtime(config=Config(), run=RunInfo("conc", "replay", tmp_path, tmp_path / "run"))
    refs = {role: Recorder.start(rt, role) for role in ("executor", "risk", "feed", "supervisor")}
    for role, ref in refs.items():
        rt.directory.register(role, ref)
    portfolio = PortfolioActor.start(rt, ledger=Ledger(Decimal("10000"), LIMIT),
                                     products=tuple(PRICES))
    rt.directory.register("portfolio", portfolio)
    bars = tuple(Bar(product_id=p, start_ns=0, interval_ns=3600 * 10**9, open=px, high=px,
                     low=px, close=px, volume=Decimal(1000)) for p, px in PRICES.items())
    portfolio.tell(MarketBatch(sender="executor", ts_ns=3600 * 10**9, seq=1, events=bars))
    yield rt, portfolio, refs
    pykka.ActorRegistry.stop_all()


def test_concurrent_orders_never_overspend_or_break_the_limit(system):
    rt, portfolio, refs = system
    threads, per_thread = 16, 40
    sent: list[Order] = []
    lock = threading.Lock()

    def send_orders(worker: int) -> None:
        rng = random.Random(worker)
        for i in range(per_thread):
            order = Order(client_order_id=f"t{worker}-{i}", product_id=rng.choice(list(PRICES)),
                          side=Side.BUY, order_type=OrderType.MARKET,
                          quote_size=Decimal(rng.randint(50, 700)), decision_seq=1)
            with lock:
                sent.append(order)
            portfolio.tell(RiskDecisions(sender="risk", ts_ns=0, seq=1 + worker * 1000 + i,
                                         approved=(order,)))

    workers = [threading.Thread(target=send_orders, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results = portfolio.proxy().results().get(timeout=30)  # after every queued message
    reserved = [o for m in refs["executor"].proxy().messages().get(timeout=10)
                if isinstance(m, OrderBatch) for o in m.orders]
    denied = results.denials
    assert len(reserved) + len(denied) == threads * per_thread
    assert {d.reason_code for d in denied} <= {"POSITION_LIMIT", "INSUFFICIENT_FUNDS"}
    assert len(denied) > threads * per_thread // 2  # the demand far exceeds the limits

    snap = results.snapshot
    assert snap.available_cash >= 0
    for pos in snap.positions:
        assert pos.reserved_quote <= LIMIT * snap.equity, pos.product_id
    assert sum(o.quote_size for o in reserved) == snap.cash - snap.available_cash

    # Now every reserved order fills at once, from many threads: the positions
    # stay inside the limit and cash never goes negative.
    def fill(orders: list[Order]) -> None:
        for order in orders:
            price = PRICES[order.product_id]
            fee = (order.quote_size * Decimal("0.01")).quantize(Decimal("0.01"))
            size = ((order.quote_size - fee) / price).quantize(Decimal("0.00000001"),
                                                               rounding="ROUND_DOWN")
            portfolio.tell(Fill(sender="executor", ts_ns=0, fill_id=f"{order.client_order_id}-f",
                                client_order_id=order.client_order_id,
                                product_id=order.product_id, side=Side.BUY, base_size=size,
                                price=price, fee=fee, liquidity=Liquidity.TAKER, final=True))

    chunks = [reserved[i::8] for i in range(8)]
    fillers = [threading.Thread(target=fill, args=(c,)) for c in chunks]
    for f in fillers:
        f.start()
    for f in fillers:
        f.join()
    after = portfolio.proxy().results().get(timeout=30).snapshot
    assert after.cash >= 0 and after.available_cash == after.cash
    for pos in after.positions:
        assert pos.notional <= LIMIT * after.equity, pos.product_id
    assert after.equity == after.cash + sum(p.notional for p in after.positions)
    assert len(portfolio.proxy().results().get(timeout=30).trades) == len(reserved)
