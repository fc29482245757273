"""Benchmark: the live path's latency, from a frame's arrival to the order.

The Coinbase-protocol replay server on 127.0.0.1 serves the real recorded
Advanced Trade capture (``../shared/data/coinbase_advanced_ws_2026-09-30_fastmm``,
BTC-USD and ETH-USD, looped at the recorded pace); the whole actor system runs
on it, as ``run --feed-url`` does, with a strategy that trades every bar
(one-second bars: it alternates between holding 5 % of equity and nothing).
Orders go to the paper exchange, or with ``--venue coinbase`` to the
Coinbase-protocol REST venue on 127.0.0.1 (``scripts/exchange_server.py``,
every request signed and checked).

    python scripts/bench_live.py                          # 60 s per case
    python scripts/bench_live.py --seconds 120 --batch-intervals 1,0.1,0.02

Figures, per batch interval and venue: **tick-to-order**, from the arrival of
the oldest frame in a market batch to the executor sending an order decided on
it (it includes up to one batch interval of waiting for the batch to be cut:
hence the cases), and **order round trip**, from sending to the order's end at
the venue; p50, p99 and max over every order of the run, in milliseconds.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import exchange_server  # noqa: E402
import replay_server  # noqa: E402

from cryptoj_actors.adapters.coinbase.credentials import parse_credentials  # noqa: E402
from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource  # noqa: E402
from cryptoj_actors.config import Config, FeedConfig, RiskConfig  # noqa: E402
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.runtime import RunInfo  # noqa: E402
from cryptoj_actors.system import TradingSystem  # noqa: E402

CAPTURE = REPO.parent / "shared" / "data" / "coinbase_advanced_ws_2026-09-30_fastmm" / \
    "advanced_md_stream.jsonl"
PRODUCTS = ("BTC-USD", "ETH-USD")


class EveryBar:
    """Alternate, per product and bar, between 5 % of equity and nothing."""

    def __init__(self, *, products: tuple[str, ...]) -> None:
        self.products = products
        self._holding: dict[str, bool] = {}

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        intents = []
        for event in batch.events:
            if isinstance(event, Bar):
                hold = not self._holding.get(event.product_id, False)
                self._holding[event.product_id] = hold
                intents.append(OrderIntent(product_id=event.product_id,
                                           target_weight=Decimal("0.05") if hold else Decimal(0),
                                           rebalance_threshold=Decimal("0.01")))
        return intents


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_case(capture, batch_interval_s: float, venue: str, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp, \
            replay_server.Running(replay_server.ReplayServer(capture, speed=1.0,
                                                             loop=True)) as feed:
        state = Path(tmp)
        config = replace(
            Config(), feed=replace(FeedConfig(), url=f"ws://127.0.0.1:{feed.port}",
                                   products=PRODUCTS, batch_interval_s=batch_interval_s,
                                   bar_interval_s=1),
            risk=replace(RiskConfig(), max_orders=10_000, daily_loss_limit=Decimal("1"),
                         max_drawdown=Decimal("1"), stop_loss=Decimal("1")),
        ).with_state_dir(state)
        credentials, rest = None, None
        if venue == "coinbase":
            name, pem, public = exchange_server.make_key()
            prices = {"BTC-USD": (Decimal("83277.25"), Decimal("83277.26")),
                      "ETH-USD": (Decimal("2631.25"), Decimal("2631.26"))}
            rest = exchange_server.ExchangeServer(exchange_server.Venue(
                balances={"USD": Decimal("10000")}, prices=prices), name, public).start()
            credentials = parse_credentials(name, pem, "bench")
            config = replace(config, coinbase=replace(config.coinbase, rest_url=rest.url,
                                                      poll_interval_s=0.05))
        run = RunInfo(run_id="bench", mode="live", state_dir=state, run_dir=state / "run",
                      venue=venue)
        system = TradingSystem(config, run, lambda: CoinbaseFeedSource(config.feed),
                               strategy=EveryBar(products=PRODUCTS), credentials=credentials)
        system.start()
        time.sleep(seconds)
        telemetry = system.rt.telemetry
        tick = [s * 1000 for s in telemetry.tick_to_order.recent]
        trip = [s * 1000 for s in telemetry.order_round_trip.recent]
        system.stop()
        if rest is not None:
            rest.stop()
    return {"tick": tick, "trip": trip}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each case")
    parser.add_argument("--batch-intervals", default="1,0.1",
                        help="market batch intervals to measure, seconds, comma-separated")
    parser.add_argument("--venues", default="paper,coinbase",
                        help="paper (in process) and/or coinbase (REST on 127.0.0.1)")
    args = parser.parse_args()
    if not CAPTURE.exists():
        print(f"error: the recorded capture is missing: {CAPTURE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    capture = replay_server.Capture.read(CAPTURE)
    table = Table(title=f"Live path latency on 127.0.0.1, real recorded frames "
                        f"({', '.join(PRODUCTS)}), {args.seconds:g} s a case, milliseconds")
    for column in ("batch interval s", "venue", "orders", "tick-to-order p50", "p99", "max",
                   "round trip p50", "p99"):
        table.add_column(column, justify="right")
    for interval in (float(x) for x in args.batch_intervals.split(",")):
        for venue in args.venues.split(","):
            got = run_case(capture, interval, venue, args.seconds)
            tick, trip = got["tick"], got["trip"]
            if not tick:
                table.add_row(f"{interval:g}", venue, "0", *["n/a"] * 5)
                continue
            table.add_row(f"{interval:g}", venue, str(len(tick)),
                          f"{statistics.median(tick):.1f}", f"{percentile(tick, 0.99):.1f}",
                          f"{max(tick):.1f}",
                          f"{statistics.median(trip):.1f}" if trip else "n/a",
                          f"{percentile(trip, 0.99):.1f}" if trip else "n/a")
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
