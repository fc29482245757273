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
                               reason="rebalance", liquidity=f.liquidity.value.lower())
                   for f in recorded)
    before = replace(point, time_ns=0, weights=(("BTC-USD", D(0)),))  # the decision's mark
    portfolio = PortfolioResults(snapshot=snap, equity=(before, replace(point, time_ns=2 * HOUR)),
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


def point(time_ns: int, equity: str, weight: str) -> EquityPoint:
    return EquityPoint(time_ns=time_ns, equity=D(equity), cash=D(0), realized_pnl=D(0),
                       unrealized_pnl=D(0), fees=D(0), gross_exposure=D(weight),
                       weights=(("BTC-USD", D(weight)),))


def trade(time_ns: int, side: str, base: str, price: str, fee: str = "0",
          reason: str = "rebalance") -> TradeRecord:
    return TradeRecord(time_ns=time_ns, product_id="BTC-USD", side=side, base_size=D(base),
                       price=D(price), fee=D(fee), client_order_id="o", realized_pnl=D(0),
                       reason=reason, liquidity="taker")


def report_of(equity: tuple[EquityPoint, ...], trades: tuple[TradeRecord, ...]) -> dict:
    ledger = Ledger(D("10000"))
    snap = ledger.snapshot(sender="portfolio", ts_ns=HOUR, seq=1)
    pf = PortfolioResults(snapshot=snap, equity=equity, trades=trades, denials=(),
                          order_status={}, starting_cash=D("10000"))
    return build_report(results=RunResults(portfolio=pf, risk_denials=(), risk_state_changes=(),
                                           status="finished", reason="", dead_letters={}),
                        config=Config(), interval_ns=HOUR, products=("BTC-USD",), inputs=[])


def test_a_price_move_past_the_limit_is_reported_with_its_trim_not_failed():
    # A buy to 8 % at the mark of hour 1; a jump carries the position to 13.56 %
    # at hour 3; the trim sells at hour 4.
    report = report_of(
        (point(HOUR, "10000", "0"), point(2 * HOUR, "10000", "0.08"),
         point(3 * HOUR, "10600", "0.1356"), point(4 * HOUR, "10500", "0.09")),
        (trade(HOUR, "BUY", "0.016", "50000", "0"),
         trade(3 * HOUR, "SELL", "0.004", "90000", "4", reason="limit_trim")))
    assert report["cross_checks"]["buys_within_the_limit"] is True
    over = report["positions_over_limit"]
    assert over["count"] == 1
    assert over["largest"]["weight"] == D("0.135600") and over["largest"]["time"] == \
        "1970-01-01T03:00:00Z"
    assert over["largest"]["followed_by"]["reason"] == "limit_trim"


def test_a_buy_that_took_the_position_past_the_limit_fails_the_check():
    # At the mark of hour 1 the position is 6 %; a buy spends 500 + 6 in fees
    # of an equity of 10,000: 11.06 % committed, over the 10 % limit.
    report = report_of((point(HOUR, "10000", "0.06"), point(2 * HOUR, "10000", "0.11")),
                       (trade(HOUR, "BUY", "0.01", "50000", "6"),))
    assert report["cross_checks"]["buys_within_the_limit"] is False


def test_a_buy_at_the_limit_exactly_passes():
    report = report_of((point(HOUR, "10000", "0.05"),),
                       (trade(HOUR, "BUY", "0.0099", "50000", "5"),))  # 495 + 5 = 500: 10 %
    assert report["cross_checks"]["buys_within_the_limit"] is True


def test_fills_are_counted_by_liquidity_with_their_notional_and_fees():
    maker = replace(BUY, fill_id="f2", client_order_id="o2", base_size=D("0.02"),
                    price=D("49000.5"), fee=D("5.88012"), liquidity=Liquidity.MAKER)
    report = build_report(results=results_after([BUY, maker], [BUY, maker]), config=Config(),
                          interval_ns=HOUR, products=("BTC-USD",), inputs=[])
    assert report["fills_by_liquidity"] == {
        "maker": {"fills": 1, "notional": D("980.01"), "fees": D("5.88012")},
        "taker": {"fills": 1, "notional": D("500"), "fees": D("6")}}


def test_a_run_without_fills_has_both_liquidities_at_zero():
    report = build_report(results=results_after([], []), config=Config(), interval_ns=HOUR,
                          products=("BTC-USD",), inputs=[])
    assert report["fills_by_liquidity"] == {
        "maker": {"fills": 0, "notional": 0, "fees": 0},
        "taker": {"fills": 0, "notional": 0, "fees": 0}}
