"""The report's cross-checks see a ledger that disagrees with its fills."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from cryptoj_actors.config import Config
from cryptoj_actors.messages import Fill
from cryptoj_actors.model import Liquidity, Side
from cryptoj_actors.portfolio.ledger import Ledger
from cryptoj_actors.report.build import build_report
from cryptoj_actors.report.metrics import EquityPoint, TradeRecord
from cryptoj_actors.report.results import PortfolioResults, RunResults

HOUR = 3_600_000_000_000


def results_after(fills: list[Fill], recorded: list[Fill]) -> RunResults:
    """The ledger books ``fills``; the fill record (trades.csv) holds ``recorded``."""
    ledger = Ledger(D("10000"))
    ledger.mark("BTC-USD", D("50000"))
    for fill in fills:
        ledger.apply_fill(fill)
    snap = ledger.snapshot(sender="portfolio", ts_ns=HOUR, seq=1)
    point = EquityPoint(time_ns=HOUR, equity=snap.equity, cash=snap.cash,
                        realized_pnl=snap.realized_pnl, unrealized_pnl=snap.unrealized_pnl,
                        fees=snap.fees, gross_exposure=D(0),
                        weights=(("BTC-USD", snap.positions[0].notional / snap.equity),))
    trades = tuple(TradeRecord(time_ns=f.ts_ns, product_id=f.product_id, side=f.side.value,
                               base_size=f.base_size, price=f.price, fee=f.fee,
                               client_order_id=f.client_order_id, realized_pnl=D(0),
                               reason="rebalance") for f in recorded)
    portfolio = PortfolioResults(snapshot=snap, equity=(point, replace(point, time_ns=2 * HOUR)),
                                 trades=trades, denials=(), order_status={},
                                 starting_cash=D("10000"))
    return RunResults(portfolio=portfolio, risk_denials=(), risk_state_changes=(),
                      status="finished", reason="", dead_letters={})


BUY = Fill(sender="executor", ts_ns=HOUR, fill_id="f1", client_order_id="o1",
           product_id="BTC-USD", side=Side.BUY, base_size=D("0.01"), price=D("50000"),
           fee=D("6"), liquidity=Liquidity.TAKER)


def checks(results: RunResults) -> dict:
    return build_report(results=results, config=Config(), interval_ns=HOUR,
                        products=("BTC-USD",), inputs=[])["cross_checks"]


def test_a_ledger_that_matches_its_fills_passes():
    assert all(checks(results_after([BUY], [BUY])).values())


def test_a_fill_booked_twice_is_caught_though_the_identities_hold():
    result = checks(results_after([BUY, replace(BUY, fill_id="f1-again")], [BUY]))
    assert result["pnl_identity"] and result["equity_equals_cash_plus_positions"]
    assert result["ledger_matches_fills"] is False
