"""The status document (``GET /status``, ``python -m cryptoj_actors status``):
built from what the actors have published, never by asking them."""

from __future__ import annotations

from typing import Any

from cryptoj_actors.clock import iso
from cryptoj_actors.runtime import Runtime


def status_document(rt: Runtime) -> dict[str, Any]:
    """JSON-ready status: trading state and reason, the halt switch, equity and
    PnL (quote currency, as exact decimal strings), positions, and per actor
    whether it is alive, its generation, restarts and mailbox depth."""
    board = rt.board
    state = board.trading_state
    snap = board.snapshot
    roles = rt.directory.roles()
    doc: dict[str, Any] = {
        "run": {"run_id": rt.run.run_id, "mode": rt.run.mode},
        "trading_state": None if state is None else {
            "level": state.level.value, "reason": state.reason, "since": iso(state.since_ns)},
        "halt": {"set": rt.halt.is_set(), "reason": rt.halt.reason,
                 "unwinding": rt.halt.unwinding},
        "health": None if board.health is None else {
            "level": board.health.level.value,
            "checks": {name: detail for name, detail in board.health.checks}},
        "progress": {"batches_settled": rt.progress.settled, "batches_total": rt.progress.total},
        "actors": {
            role: {"alive": ref.is_alive(), "generation": board.generations.get(role, 0),
                   "restarts": board.restarts.get(role, 0),
                   "mailbox": board.mailboxes.get(role)}
            for role, ref in sorted(roles.items())},
        "dead_letters": dict(rt.directory.dead_letters),
    }
    if snap is not None:
        doc["portfolio"] = {
            "as_of": iso(snap.ts_ns), "equity": str(snap.equity), "cash": str(snap.cash),
            "realized_pnl": str(snap.realized_pnl), "unrealized_pnl": str(snap.unrealized_pnl),
            "fees": str(snap.fees),
            "positions": [{"product_id": p.product_id, "base_size": str(p.base_size),
                           "avg_entry_price": str(p.avg_entry_price),
                           "mark_price": str(p.mark_price), "notional": str(p.notional),
                           "unrealized_pnl": str(p.unrealized_pnl)}
                          for p in snap.positions if p.base_size]}
    return doc
