"""The running metrics equal the batch computation at every point."""

from __future__ import annotations

import random
from decimal import Decimal

from cryptoj_actors.clock import NS_PER_HOUR
from cryptoj_actors.report.metrics import (
    EquityPoint,
    TradeRecord,
    performance,
    snapshot,
)
from cryptoj_actors.report.running import BLOCK, RunningPerformance


def walk(n: int, seed: int) -> list[EquityPoint]:
    rng = random.Random(seed)
    equity = Decimal(10_000)
    points = []
    for i in range(n):
        equity = (equity * Decimal(str(round(1 + rng.gauss(0, 0.01), 6)))).quantize(
            Decimal("0.01"))
        points.append(EquityPoint(time_ns=i * NS_PER_HOUR, equity=equity, cash=equity,
                                  realized_pnl=Decimal(0), unrealized_pnl=Decimal(0),
                                  fees=Decimal(0), gross_exposure=Decimal(rng.randint(0, 300))
                                  / 1000, weights=()))
    return points


def test_running_metrics_equal_the_report_at_every_moment_they_are_asked():
    points = walk(3 * BLOCK + 17, seed=11)
    trades = [TradeRecord(time_ns=0, product_id="BTC-USD", side=side, base_size=Decimal(1),
                          price=Decimal(1), fee=Decimal("0.5"), client_order_id=str(i),
                          realized_pnl=Decimal(pnl), reason="rebalance", liquidity="taker")
              for i, (side, pnl) in enumerate([("BUY", 0), ("SELL", 7), ("SELL", -3)] * 5)]
    running = RunningPerformance(risk_free_rate=0.02, periods_per_year=8766.0)
    asked_at = {1, 2, 500, BLOCK, BLOCK + 1, 2 * BLOCK + 5, len(points)}
    for n, point in enumerate(points, start=1):
        running.add_point(point.time_ns, point.equity, point.gross_exposure)
        if n == len(points):
            for t in trades:
                running.add_trade(t.side, t.realized_pnl, t.fee)
        if n in asked_at:
            expected = performance(points[:n], trades if n == len(points) else [],
                                   risk_free_rate=0.02, periods_per_year=8766.0)
            assert snapshot(running) == expected, n
