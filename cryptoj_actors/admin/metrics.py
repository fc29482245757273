"""Prometheus metrics of a running system (``GET /metrics``), in the text
exposition format, through prometheus-client.

A custom collector reads the status board at scrape time: nothing is
counted on the actors' hot path. Names follow Prometheus conventions
(``cryptoj_`` prefix, base units in the name, ``_total`` for counters).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cryptoj_actors.runtime import Runtime

LEVELS = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}


class SystemCollector(Collector):
    """Collects the published state of one running system."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        rt, board = self.rt, self.rt.board
        state = board.trading_state
        level = GaugeMetricFamily("cryptoj_trading_level",
                                  "Trading level: 0 ACTIVE, 1 REDUCING, 2 HALTED")
        level.add_metric([], LEVELS[state.level.value] if state else 0)
        yield level
        halted = GaugeMetricFamily("cryptoj_halt_switch", "1 while the halt switch is set")
        halted.add_metric([], 1 if rt.halt.is_set() else 0)
        yield halted
        settled = CounterMetricFamily("cryptoj_market_batches_settled",
                                      "Market batches whose decisions reached the executor")
        settled.add_metric([], rt.progress.settled)
        yield settled
        snap = board.snapshot
        if snap is not None:
            for name, value, doc in (
                ("cryptoj_equity_quote", snap.equity, "Equity, quote currency"),
                ("cryptoj_cash_quote", snap.cash, "Cash, quote currency"),
                ("cryptoj_realized_pnl_quote", snap.realized_pnl, "Realized PnL before fees"),
                ("cryptoj_unrealized_pnl_quote", snap.unrealized_pnl, "Unrealized PnL"),
                ("cryptoj_fees_quote", snap.fees, "Fees paid, quote currency"),
            ):
                gauge = GaugeMetricFamily(name, doc)
                gauge.add_metric([], float(value))
                yield gauge
            notional = GaugeMetricFamily("cryptoj_position_notional_quote",
                                         "Marked position value per product", labels=["product"])
            for p in snap.positions:
                notional.add_metric([p.product_id], float(p.notional))
            yield notional
        up = GaugeMetricFamily("cryptoj_actor_up", "1 if the actor is alive", labels=["role"])
        restarts = CounterMetricFamily("cryptoj_actor_restarts", "Restarts per actor",
                                       labels=["role"])
        mailbox = GaugeMetricFamily("cryptoj_actor_mailbox_messages",
                                    "Messages waiting in the actor's mailbox (sampled)",
                                    labels=["role"])
        for role, ref in sorted(rt.directory.roles().items()):
            up.add_metric([role], 1 if ref.is_alive() else 0)
            restarts.add_metric([role], board.restarts.get(role, 0))
            if role in board.mailboxes:
                mailbox.add_metric([role], board.mailboxes[role])
        yield from (up, restarts, mailbox)
        dead = CounterMetricFamily("cryptoj_dead_letters", "Messages to a role that was down",
                                   labels=["role"])
        for role, count in sorted(rt.directory.dead_letters.items()):
            dead.add_metric([role], count)
        yield dead


def metrics_registry(rt: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(rt))
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)
