"""Benchmark: the live path's latency, from a frame's arrival to the order.

The Coinbase-protocol replay server on 127.0.0.1, a process of its own as
the venue is, serves the real recorded
Advanced Trade capture (``../shared/data/coinbase_advanced_ws_2026-09-30_fastmm``,
BTC-USD and ETH-USD, looped at the recorded pace); the whole actor system runs
on it, as ``run --feed-url`` does, with a strategy that trades every bar
(one-second bars: it alternates between holding 5 % of equity and nothing),
or with ``--strategy tick`` one that decides on every market batch (every
tick, with event-driven batches: ``--batch-intervals 0``).
Orders go to the paper exchange, or with ``--venues coinbase`` to the
Coinbase-protocol REST venue on 127.0.0.1 (``scripts/exchange_server.py``, a
process of its own too, every request signed and checked), whose ``user``
channel brings the fills' news (``coinbase-poll``: without the channel,
polling every 0.05 s).

    python scripts/bench_live.py                          # 60 s per case
    python scripts/bench_live.py --seconds 120 --batch-intervals 1,0.1,0.02
    python scripts/bench_live.py --batch-intervals 0 --venues paper --strategy tick

Figures, per batch interval and venue: **tick-to-order**, from the arrival of
the oldest frame in a market batch to the executor sending an order decided on
it (it includes up to one batch interval of waiting for the batch to be cut:
hence the cases; with 0, batches are cut on arrival), and **order round trip**, from sending to the order's end at
the venue; p50, p99 and max over every order of the run, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]

from cryptoj_actors.adapters.coinbase.credentials import parse_credentials
from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource
from cryptoj_actors.config import Config, FeedConfig, RiskConfig
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.system import TradingSystem

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


class EveryTick:
    """On every batch, BTC-USD between 5 % of equity and nothing: a decision
    and an order per tick."""

    def __init__(self, *, products: tuple[str, ...]) -> None:
        self.hold = False

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        self.hold = not self.hold
        return [OrderIntent(product_id="BTC-USD",
                            target_weight=Decimal("0.05") if self.hold else Decimal(0),
                            rebalance_threshold=Decimal("0.01"))]


STRATEGIES = {"bar": EveryBar, "tick": EveryTick}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(script: str, *args: str, also: tuple[int, ...] = ()) -> Iterator[int]:
    """``scripts/<script>`` as a process of its own on a free port; its port,
    once it and the ports in ``also`` (its other servers) accept connections."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / script), *args, "--port",
                             str(port)], cwd=REPO, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        for waited in (port, *also):
            while True:
                try:
                    socket.create_connection(("127.0.0.1", waited), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"{script} did not start") from None
                    time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_case(batch_interval_s: float, venue: str, seconds: float,
             strategy: str = "bar") -> dict:
    with tempfile.TemporaryDirectory() as tmp, \
            serving("replay_server.py", str(CAPTURE), "--loop", "--speed", "1") as feed_port, \
            ExitStack() as stack:
        state = Path(tmp)
        config = replace(
            Config(), feed=replace(FeedConfig(), url=f"ws://127.0.0.1:{feed_port}",
                                   products=PRODUCTS, batch_interval_s=batch_interval_s,
                                   bar_interval_s=1),
            risk=replace(RiskConfig(), max_orders=10_000, daily_loss_limit=Decimal("1"),
                         max_drawdown=Decimal("1"), stop_loss=Decimal("1")),
        ).with_state_dir(state)
        credentials = None
        if venue.startswith("coinbase"):
            key_file = state / "key.json"
            user_port = free_port() if venue == "coinbase" else -1
            rest_port = stack.enter_context(serving(
                "exchange_server.py", "--key-file", str(key_file), "--balance", "USD=10000",
                "--price", "BTC-USD=83277.25/83277.26", "--price", "ETH-USD=2631.25/2631.26",
                "--user-port", str(user_port), also=(user_port,) if user_port > 0 else ()))
            key = json.loads(key_file.read_text())
            credentials = parse_credentials(key["name"], key["privateKey"], "bench")
            config = replace(config, coinbase=replace(
                config.coinbase, rest_url=f"http://127.0.0.1:{rest_port}", poll_interval_s=0.05,
                user_url=f"ws://127.0.0.1:{user_port}" if user_port > 0 else ""))
        run = RunInfo(run_id="bench", mode="live", state_dir=state, run_dir=state / "run",
                      venue="coinbase" if venue.startswith("coinbase") else venue)
        system = TradingSystem(config, run, lambda: CoinbaseFeedSource(config.feed),
                               strategy=STRATEGIES[strategy](products=PRODUCTS),
                               credentials=credentials)
        system.start()
        time.sleep(seconds)
        telemetry = system.rt.telemetry
        tick = [s * 1000 for s in telemetry.tick_to_order.recent]
        trip = [s * 1000 for s in telemetry.order_round_trip.recent]
        decisions = system.rt.board.decisions
        system.stop()
    return {"tick": tick, "trip": trip, "decisions": decisions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each case")
    parser.add_argument("--batch-intervals", default="1,0.1",
                        help="market batch intervals to measure, seconds, comma-separated")
    parser.add_argument("--venues", default="paper,coinbase",
                        help="paper (in process), coinbase (REST and the user channel on "
                             "127.0.0.1), coinbase-poll (REST only, polled every 0.05 s)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), default="bar",
                        help="bar: an order every bar; tick: a decision every batch")
    args = parser.parse_args()
    if not CAPTURE.exists():
        print(f"error: the recorded capture is missing: {CAPTURE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR)
    table = Table(title=f"Live path latency on 127.0.0.1, real recorded frames "
                        f"({', '.join(PRODUCTS)}), {args.seconds:g} s a case, milliseconds")
    for column in ("batch interval s", "venue", "decisions", "orders", "tick-to-order p50",
                   "p99", "max", "round trip p50", "p99"):
        table.add_column(column, justify="right")
    for interval in (float(x) for x in args.batch_intervals.split(",")):
        for venue in args.venues.split(","):
            got = run_case(interval, venue, args.seconds, args.strategy)
            tick, trip = got["tick"], got["trip"]
            if not tick:
                table.add_row(f"{interval:g}", venue, str(got["decisions"]), "0", *["n/a"] * 5)
                continue
            table.add_row(f"{interval:g}", venue, str(got["decisions"]), str(len(tick)),
                          f"{statistics.median(tick):.1f}", f"{percentile(tick, 0.99):.1f}",
                          f"{max(tick):.1f}",
                          f"{statistics.median(trip):.1f}" if trip else "n/a",
                          f"{percentile(trip, 0.99):.1f}" if trip else "n/a")
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
