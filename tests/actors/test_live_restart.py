"""A live (paper) system started again takes up where the last one stopped:
the ledger and open orders from the journal, risk's day baseline, halt and
cooldowns from its state file."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pykka
import pytest

from cryptoj_actors.actors.portfolio import PortfolioActor
from cryptoj_actors.actors.risk import RiskActor
from cryptoj_actors.config import Config
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.ids import OrderIds
from cryptoj_actors.messages import Fill
from cryptoj_actors.model import (
    Liquidity,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TradingLevel,
)
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.risk.policy import RiskPolicy
from cryptoj_actors.runtime import LIVE_LEDGER, RunInfo, Runtime
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def stop_everything():
    yield
    pykka.ActorRegistry.stop_all()


def live_runtime(state: Path) -> Runtime:
    return Runtime(config=Config(), run=RunInfo("live-2", "live", state, state / "runs" / "2"))


def test_the_portfolio_restores_the_ledger_and_open_orders_from_the_journal(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3", LIVE_LEDGER)
    buy = Order(client_order_id="b1", product_id="BTC-USD", side=Side.BUY,
                order_type=OrderType.MARKET, quote_size=D("600"), reason="rebalance")
    sell = Order(client_order_id="s1", product_id="BTC-USD", side=Side.SELL,
                 order_type=OrderType.MARKET, base_size=D("0.002"), reduce_only=True,
                 reason="stop_loss")
    journal.record_order(buy)
    journal.record_fill(Fill(sender="executor", ts_ns=1, fill_id="b1-fill", client_order_id="b1",
                             product_id="BTC-USD", side=Side.BUY, base_size=D("0.01"),
                             price=D("50000"), fee=D("6"), liquidity=Liquidity.TAKER))
    journal.update_order("b1", OrderStatus.FILLED, D("0.01"), 1)
    journal.record_order(sell)  # sent, then the process died
    journal.close()

    rt = live_runtime(tmp_path)
    portfolio = PortfolioActor.start(rt, ledger=Ledger(D("10000"), D("0.10")),
                                     products=("BTC-USD",))
    snap = portfolio.proxy().results().get(timeout=10).snapshot
    [btc] = snap.positions
    assert (snap.cash, snap.fees, btc.base_size, btc.cost_basis) == (D("9494"), D("6"),
                                                                   D("0.01"), D("500"))
    assert btc.reserved_base == D("0.002")  # the open sell holds its base again


def test_risk_takes_up_its_day_baseline_halt_and_cooldowns(tmp_path):
    first = RiskPolicy(Config().risk, Config().rules, OrderIds(False))
    first.restore_state({"day": 20000, "start_of_day_equity": "10000",
                         "daily": {"level": "REDUCING", "reason": "daily loss limit: drill",
                                   "since_ns": 5},
                         "halt": None, "equity_peak": "10500",
                         "cooldown_until": {"ETH-USD": 2**62}})
    (tmp_path / "risk_state.json").write_text(json.dumps(first.saved_state()))

    rt = live_runtime(tmp_path)
    risk = RiskActor.start(rt, policy=RiskPolicy(Config().risk, Config().rules, OrderIds(False)))
    restored = risk.proxy().policy.get(timeout=10)
    assert restored.saved_state() == first.saved_state()
    assert restored.state.level is TradingLevel.REDUCING
    assert restored.start_of_day_equity == D("10000")


def test_a_damaged_risk_state_stops_risk_rather_than_trade_blind(tmp_path):
    (tmp_path / "risk_state.json").write_text('{"day": "yesterday"}')
    rt = live_runtime(tmp_path)
    risk = RiskActor.start(rt, policy=RiskPolicy(Config().risk, Config().rules, OrderIds(False)))
    wait_until(lambda: not risk.is_alive(), timeout=5)


def test_orders_the_paper_venue_held_expire_at_a_restart_with_the_fills_they_had(tmp_path):
    """The paper venue lived in the process that ended: an order it still held
    (here killed between its fill and its end) expires, and is never matched
    again under a fill id it already used."""
    from cryptoj_actors.actors.executor import ExecutorActor
    from cryptoj_actors.execution.paper import PaperExchange

    journal = Journal(tmp_path / "journal.sqlite3", LIVE_LEDGER)
    buy = Order(client_order_id="b1", product_id="BTC-USD", side=Side.BUY,
                order_type=OrderType.MARKET, quote_size=D("600"), decision_seq=86_401)
    journal.record_order(buy)
    journal.update_order("b1", OrderStatus.OPEN, D(0), 1)
    journal.record_fill(Fill(sender="executor", ts_ns=2, fill_id="b1-fill", client_order_id="b1",
                             product_id="BTC-USD", side=Side.BUY, base_size=D("0.01"),
                             price=D("50000"), fee=D("6"), liquidity=Liquidity.TAKER))
    journal.update_order("b1", OrderStatus.PARTIALLY_FILLED, D("0.01"), 2)

    rt = live_runtime(tmp_path)
    exchange = PaperExchange(Config().paper, Config().rules)
    ExecutorActor.start(rt, exchange=exchange).proxy().orders_through.get(timeout=10)
    assert journal.order_status("b1") == (OrderStatus.EXPIRED, D("0.01"))
    assert exchange.open_orders == 0 and journal.open_orders() == []
    journal.close()
