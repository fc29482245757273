"""The status document (``GET /status``, the live view, ``status``): built
from what the actors have published, never by asking them."""

from __future__ import annotations

import time
from typing import Any

from cryptoj_actors.clock import iso
from cryptoj_actors.health.telemetry import Latency, Telemetry
from cryptoj_actors.report.files import performance_dict
from cryptoj_actors.runtime import Runtime

#: The feed's latest state changes in the document.
HISTORY_SHOWN = 20


def _latency(stat: Latency) -> dict[str, Any]:
    return {"count": stat.count, "mean_s": stat.mean, "max_s": stat.max if stat.count else None}


def _connection(tm: Telemetry, now_s: float) -> dict[str, Any]:
    availability = tm.feed_availability
    since = availability.up_since()
    return {"availability": {"1h": availability.share_up(3600.0, now_s),
                             "1d": availability.share_up(86_400.0, now_s)},
            "up_for_s": None if since is None else max(0.0, now_s - since),
            "history": [{"at": iso(int(c.at_s * 1e9)), "state": c.state}
                        for c in availability.history()[-HISTORY_SHOWN:]]}


def status_document(rt: Runtime) -> dict[str, Any]:
    """JSON-ready status.

    Keys: ``run`` (id; mode, ``live`` or ``replay`` market data; venue;
    ``trading``, ``PAPER`` or ``LIVE``: real money), ``trading_state`` (level, reason, since),
    ``halt``, ``health`` (level, components, failed checks), ``progress``,
    ``actors`` (alive, generation, restarts, mailbox), ``dead_letters``,
    ``errors``, ``admin`` (clients gone before their answer), ``feed``
    (``state``: ``n/a`` in replay, ``connecting``, ``up``, ``stale``,
    ``down``; messages per channel; the latest lag in seconds, None before
    a frame with a valid time; events by kind: input defects, gaps, repeats;
    reconnects by cause; connections opened; configured products without
    any data on the current connection; ``availability``, the fraction of
    the last hour and day it was up, None in replay; ``up_for_s``, seconds
    the connection has been up, None when it is not; ``history``, the latest
    state changes), ``orders`` (ended by final status, fills by liquidity,
    denials by stage and reason code), ``user_channel`` (Coinbase's
    ``user`` channel: state ``n/a`` when not used, ``connecting``, ``up``,
    ``stale``, ``down``; events by kind: frames, orders, gaps, malformed,
    errors, reconnects), ``alerts`` (``channels`` configured, 0 in replay;
    deliveries ``sent`` and ``failed`` per channel, ``retried``,
    ``dropped``; ``held_back`` by the burst limit),
    ``latency`` (tick-to-order and order round trip, seconds), ``warmup``
    (live, once the strategy has warmed: ``ready``, ``needed_bars``,
    ``have_bars``, ``source`` ``rest``/``cache``/``none``, ``trading_from``,
    the time trading may start, ``history_end``, ``age_s``, ``problem``; None
    before and in replay), ``strategy`` (``decisions``: batches it gave
    target weights on; ``last_decision``: the latest one's market time),
    ``resources``, and once the portfolio has marked: ``portfolio`` (equity,
    cash, PnL, fees and today's PnL in quote currency as exact decimal text;
    positions with open orders) and ``performance`` (the running metrics).
    """
    board = rt.board
    state = board.trading_state
    snap = board.snapshot
    tm = rt.telemetry
    health = board.health
    doc: dict[str, Any] = {
        "run": {"run_id": rt.run.run_id, "mode": rt.run.mode, "venue": rt.run.venue,
                "trading": rt.run.trading},
        "trading_state": None if state is None else {
            "level": state.level.value, "reason": state.reason, "since": iso(state.since_ns)},
        "halt": {"set": rt.halt.is_set(), "reason": rt.halt.reason,
                 "unwinding": rt.halt.unwinding},
        "health": None if health is None else {
            "level": health.level.value,
            "components": {name: level.value for name, level in health.components},
            "checks": [f"{name}: {detail}" for name, detail in health.checks]},
        "progress": {"batches_settled": rt.progress.settled, "batches_total": rt.progress.total},
        "actors": {
            role: {"alive": ref.is_alive(), "generation": board.generations.get(role, 0),
                   "restarts": board.restarts.get(role, 0),
                   "mailbox": board.mailboxes.get(role)}
            for role, ref in sorted(rt.directory.roles().items())},
        "dead_letters": dict(rt.directory.dead_letters),
        "errors": dict(tm.errors),
        "admin": {"disconnects": tm.admin_disconnects},
        "feed": {"state": tm.feed_state, "messages": dict(tm.feed_messages),
                 "lag_s": tm.feed_lag.last,
                 "events": dict(tm.feed_events), "reconnects": dict(tm.feed_reconnects),
                 "connections": tm.feed_connections,
                 "silent_products": list(tm.feed_silent), **_connection(tm, time.time())},
        "orders": {"by_final_status": dict(tm.orders), "fills_by_liquidity": dict(tm.fills),
                   "denials": [{"stage": stage, "reason": reason, "count": count}
                               for (stage, reason), count in sorted(tm.denials.items())]},
        "user_channel": {"state": tm.user_channel_state,
                         "events": dict(tm.user_channel_events)},
        "alerts": {"channels": len(rt.config.alerts.urls) if rt.run.mode == "live" else 0,
                   **{k: tm.alerts[k] for k in ("sent", "failed", "retried", "dropped",
                                                "held_back")}},
        "latency": {"tick_to_order": _latency(tm.tick_to_order),
                    "order_round_trip": _latency(tm.order_round_trip)},
        "resources": dict(board.resources),
        "warmup": None if board.warmup is None else board.warmup.status(),
        "strategy": {"decisions": board.decisions,
                     "last_decision": None if board.last_decision_ns is None
                     else iso(board.last_decision_ns)},
    }
    if snap is not None:
        today = None if board.day_start_equity is None else snap.equity - board.day_start_equity
        doc["portfolio"] = {
            "as_of": iso(snap.ts_ns), "equity": str(snap.equity), "cash": str(snap.cash),
            "realized_pnl": str(snap.realized_pnl), "unrealized_pnl": str(snap.unrealized_pnl),
            "fees": str(snap.fees), "today_pnl": None if today is None else str(today),
            "positions": [{"product_id": p.product_id, "base_size": str(p.base_size),
                           "avg_entry_price": str(p.avg_entry_price),
                           "mark_price": str(p.mark_price), "notional": str(p.notional),
                           "unrealized_pnl": str(p.unrealized_pnl),
                           "open_buy_quote": str(p.reserved_quote),
                           "open_sell_base": str(p.reserved_base)}
                          for p in snap.positions
                          if p.base_size or p.reserved_quote or p.reserved_base]}
    if board.performance is not None:
        doc["performance"] = performance_dict(board.performance)
    return doc
