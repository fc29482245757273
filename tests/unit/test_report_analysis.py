"""Breakdowns and periodic returns of ``report RUN_DIR``."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from cryptoj_actors.report.analysis import (
    Mark,
    Trade,
    breakdown,
    buy_and_hold,
    month_grid,
    period_returns,
)


def mark(time: str, equity: str) -> Mark:
    return Mark(time=time, equity=D(equity), weights={}, prices={})


def trade(product: str, side: str, pnl: str, reason: str, fee: str = "1") -> Trade:
    return Trade(time="2018-01-01T00:00:00Z", product_id=product, side=side, base_size=D(1),
                 price=D(100), fee=D(fee), realized_pnl=D(pnl), reason=reason)


def test_period_returns_chain_the_last_equity_of_each_period():
    marks = [mark("2018-01-01T01:00:00Z", "100"), mark("2018-01-31T23:00:00Z", "110"),
             mark("2018-02-01T00:00:00Z", "99"), mark("2018-02-28T00:00:00Z", "121")]
    assert period_returns(marks, "month") == [("2018-01", pytest.approx(0.1)),
                                              ("2018-02", pytest.approx(0.1))]
    days = period_returns(marks, "day")
    assert [label for label, _ in days] == ["2018-01-01", "2018-01-31", "2018-02-01",
                                            "2018-02-28"]
    assert days[0][1] == 0.0 and days[2][1] == pytest.approx(-0.1)
    assert month_grid(period_returns(marks, "month")) == {
        2018: {1: pytest.approx(0.1), 2: pytest.approx(0.1)}}


def test_breakdowns_by_product_and_by_exit_kind():
    trades = [trade("BTC-USD", "BUY", "0", "rebalance"), trade("BTC-USD", "SELL", "5", "rebalance"),
              trade("ETH-USD", "SELL", "-3", "stop_loss"), trade("ETH-USD", "SELL", "2", "unwind"),
              trade("ETH-USD", "SELL", "1", "unwind_fallback")]
    by_product = breakdown(trades, "product")
    assert by_product["BTC-USD"].realized_pnl == D(5) and by_product["BTC-USD"].net_pnl == D(3)
    assert by_product["ETH-USD"].win_rate == pytest.approx(2 / 3)
    exits = breakdown(trades, "exit")
    assert set(exits) == {"signal", "stop-loss", "emergency unwind"}
    assert (exits["emergency unwind"].sells, exits["emergency unwind"].realized_pnl) == (2, D(3))
    assert exits["signal"].bought == D(100) and exits["signal"].sold == D(100)


def test_buy_and_hold_starts_where_every_product_has_a_price_in_equal_parts():
    def at(time, **prices):
        return Mark(time=time, equity=D("1000"), weights={"A": D(0), "B": D(0)},
                    prices={k: D(v) for k, v in prices.items()})

    marks = [at("t0", A="10"), at("t1", A="10", B="100"), at("t2", A="20", B="50"),
             at("t3", A="15")]
    assert buy_and_hold(marks, D("1000")) == [None, D("1000"), D("1250"), None]
    assert buy_and_hold([at("t0", A="10")], D("1000")) == [None]
