"""Prometheus metrics of a running system (``GET /metrics``), in the text
exposition format, through prometheus-client.

A custom collector reads the status board at scrape time: nothing is
counted on the actors' hot path. Names follow Prometheus conventions
(``cryptoj_`` prefix, base units in the name, ``_total`` for counters).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from cryptoj_actors import __version__
from cryptoj_actors.health.telemetry import BUCKETS_S, Latency
from cryptoj_actors.runtime import Runtime

#: (label, seconds) of the windows of ``cryptoj_feed_availability_ratio``.
AVAILABILITY_WINDOWS = (("1h", 3600.0), ("1d", 86_400.0))
LEVELS = {"ACTIVE": 0, "REDUCING": 1, "HALTED": 2}
HEALTH = {"OK": 0, "DEGRADED": 1, "CRITICAL": 2}


def _histogram(name: str, doc: str, stat: Latency) -> HistogramMetricFamily:
    """``stat`` as a Prometheus histogram (cumulative buckets, ``+Inf`` = count)."""
    cumulative, buckets = 0, []
    for bound, count in zip(BUCKETS_S, stat.buckets, strict=False):
        cumulative += count
        buckets.append((floatToGoString(bound), cumulative))  # as the client's own: "10.0"
    buckets.append(("+Inf", stat.count))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=stat.total)


class SystemCollector(Collector):
    """Collects the published state of one running system."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        rt, board = self.rt, self.rt.board
        info = GaugeMetricFamily("cryptoj_run_info", "The run: trading PAPER or LIVE (real "
                                 "money), mode live or replay market data",
                                 labels=["trading", "mode", "run_id"])
        info.add_metric([rt.run.trading, rt.run.mode, rt.run.run_id], 1)
        yield info
        build = GaugeMetricFamily("cryptoj_info", "The build: mode paper or live (real money), "
                                  "version", labels=["mode", "version"])
        build.add_metric([rt.run.trading.lower(), __version__], 1)
        yield build
        state = board.trading_state
        level = GaugeMetricFamily("cryptoj_trading_level",
                                  "Trading level: 0 ACTIVE, 1 REDUCING, 2 HALTED")
        level.add_metric([], LEVELS[state.level.value] if state else 0)
        yield level
        halted = GaugeMetricFamily("cryptoj_halt_switch", "1 while the halt switch is set")
        halted.add_metric([], 1 if rt.halt.is_set() else 0)
        yield halted
        if board.warmup is not None:
            warm = board.warmup
            ready = GaugeMetricFamily("cryptoj_warmup_ready",
                                      "1 once the strategy has all the history it needs")
            ready.add_metric([], 1 if warm.ready else 0)
            yield ready
            bars = GaugeMetricFamily("cryptoj_warmup_bars", "Warm-up bars: needed, and had "
                                     "from history", labels=["kind"])
            bars.add_metric(["needed"], warm.needed_bars)
            bars.add_metric(["have"], warm.have_bars)
            yield bars
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
        yield from self._telemetry()
        yield from self._health()
        yield from self._performance()

    def _telemetry(self) -> Iterator[Metric]:
        tm = self.rt.telemetry
        messages = CounterMetricFamily("cryptoj_feed_messages", "Market data messages received",
                                       labels=["channel"])
        for channel, count in sorted(tm.feed_messages.items()):
            messages.add_metric([channel], count)
        yield messages
        events = CounterMetricFamily(
            "cryptoj_feed_events", "Feed troubles by kind: input defects, gaps, repeats",
            labels=["kind"])
        for kind, count in sorted(tm.feed_events.items()):
            events.add_metric([kind], count)
        yield events
        reconnects = CounterMetricFamily("cryptoj_feed_reconnects",
                                         "Reconnects the feed made itself, by cause",
                                         labels=["cause"])
        for cause, count in sorted(tm.feed_reconnects.items()):
            reconnects.add_metric([cause], count)
        yield reconnects
        connections = CounterMetricFamily("cryptoj_feed_connections",
                                          "Connections the live feed opened")
        connections.add_metric([], tm.feed_connections)
        yield connections
        silent = GaugeMetricFamily("cryptoj_feed_silent_products",
                                   "Configured products with no data on this connection")
        silent.add_metric([], len(tm.feed_silent))
        yield silent
        user = GaugeMetricFamily("cryptoj_user_channel_up",
                                 "1 while Coinbase's user channel is up and fresh")
        user.add_metric([], 1 if tm.user_channel_state == "up" else 0)
        yield user
        user_events = CounterMetricFamily(
            "cryptoj_user_channel_events",
            "The user channel by kind: frames, orders, gaps, malformed, errors, reconnects",
            labels=["kind"])
        for kind, count in sorted(tm.user_channel_events.items()):
            user_events.add_metric([kind], count)
        yield user_events
        alerts = CounterMetricFamily(
            "cryptoj_alerts",
            "Alerts by outcome: sent, failed (per channel), retried, dropped, held_back",
            labels=["outcome"])
        for outcome in ("sent", "failed", "retried", "dropped", "held_back"):
            alerts.add_metric([outcome], tm.alerts[outcome])
        yield alerts
        for name, stat, doc in (
            ("cryptoj_feed_lag_seconds", tm.feed_lag,
             "Local receive time minus the exchange's timestamp, per market batch (live)"),
            ("cryptoj_tick_to_order_seconds", tm.tick_to_order,
             "From a market batch's data arriving to an order decided on it being sent"),
            ("cryptoj_order_round_trip_seconds", tm.order_round_trip,
             "From an order being sent to its end at the venue"),
        ):
            yield _histogram(name, doc, stat)
        orders = CounterMetricFamily("cryptoj_orders", "Orders ended, by final status",
                                     labels=["status"])
        for status, count in sorted(tm.orders.items()):
            orders.add_metric([status], count)
        yield orders
        fills = CounterMetricFamily("cryptoj_fills", "Fills, by liquidity: MAKER or TAKER",
                                    labels=["liquidity"])
        for liquidity, count in sorted(tm.fills.items()):
            fills.add_metric([liquidity], count)
        yield fills
        denials = CounterMetricFamily(
            "cryptoj_order_denials", "Orders refused before they were sent, by stage (risk: "
            "its limits; reserve: the ledger) and reason code", labels=["stage", "reason"])
        for (stage, reason), count in sorted(tm.denials.items()):
            denials.add_metric([stage, reason], count)
        yield denials
        if self.rt.run.mode == "live":
            now = time.time()
            availability = GaugeMetricFamily(
                "cryptoj_feed_availability_ratio", "Share of the window the market data "
                "connection was up (since the start when that is shorter)", labels=["window"])
            for window, seconds in AVAILABILITY_WINDOWS:
                share = tm.feed_availability.share_up(seconds, now)
                if share is not None:
                    availability.add_metric([window], share)
            yield availability
            since = tm.feed_availability.up_since()
            up_for = GaugeMetricFamily("cryptoj_feed_connection_uptime_seconds",
                                       "How long the market data connection has been up "
                                       "(0 while it is not)")
            up_for.add_metric([], 0.0 if since is None else max(0.0, now - since))
            yield up_for
        errors = CounterMetricFamily("cryptoj_actor_errors",
                                     "Failures, unexpected messages and bad input", labels=["role"])
        for role, count in sorted(tm.errors.items()):
            errors.add_metric([role], count)
        yield errors

    def _health(self) -> Iterator[Metric]:
        board = self.rt.board
        if board.health is not None:
            level = GaugeMetricFamily("cryptoj_health_level",
                                      "Health: 0 OK, 1 DEGRADED, 2 CRITICAL",
                                      labels=["component"])
            level.add_metric(["overall"], HEALTH[board.health.level.value])
            for component, value in board.health.components:
                level.add_metric([component], HEALTH[value.value])
            yield level
        resources = board.resources
        if resources:
            gauge = GaugeMetricFamily("cryptoj_machine_available_memory_bytes",
                                      "Memory available on the machine (the health actor's "
                                      "latest sample)")
            gauge.add_metric([], resources["available_mb"] * 2**20)
            yield gauge

    def _performance(self) -> Iterator[Metric]:
        perf = self.rt.board.performance
        if perf is None:
            return
        for name, value, doc in (
            ("cryptoj_total_return_ratio", perf.total_return, "Total return (fraction)"),
            ("cryptoj_sharpe_ratio", perf.sharpe, "Annualized Sharpe ratio"),
            ("cryptoj_sortino_ratio", perf.sortino, "Annualized Sortino ratio"),
            ("cryptoj_max_drawdown_ratio", perf.max_drawdown, "Maximum drawdown (fraction)"),
            ("cryptoj_win_rate_ratio", perf.win_rate, "Winning closing trades (fraction)"),
        ):
            if value is not None:
                gauge = GaugeMetricFamily(name, doc)
                gauge.add_metric([], value)
                yield gauge


def metrics_registry(rt: Runtime) -> CollectorRegistry:
    """Our metrics and the client's standard process collector
    (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
    ``process_start_time_seconds``, ``process_open_fds``..., read from
    ``/proc`` at each scrape; none on a system without it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(rt))
    ProcessCollector(registry=registry)
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registry``."""
    return generate_latest(registry)


def serve_metrics(rt: Runtime, host: str, port: int) -> WSGIServer:
    """``/metrics`` alone, without a token, on ``host:port`` (prometheus-client's
    own server, in a daemon thread): for a scraper that should not hold the
    admin token, which can halt the system. Stop it with ``shutdown()`` and
    ``server_close()``.

    Raises:
        OSError: the port cannot be bound.
    """
    server, _ = start_http_server(port, addr=host, registry=metrics_registry(rt))
    return server
