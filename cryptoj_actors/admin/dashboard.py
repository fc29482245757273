"""What the web dashboard shows: the status document and, from the same
published state, the equity curve's sketch, the latest fills, the orders
holding funds and each position's weight against the limit. Built from the
status board, never by asking an actor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cryptoj_actors.admin.status import status_document
from cryptoj_actors.clock import iso
from cryptoj_actors.runtime import Runtime


def dashboard_document(rt: Runtime) -> dict[str, Any]:
    """The status document (see :func:`status_document`) and:

    * ``equity_curve``: ``{"t": ISO time, "equity": quote, "drawdown":
      fraction}`` points, at most a few hundred however long the run (the
      portfolio's :class:`~cryptoj_actors.portfolio.sketch.CurveSketch`);
    * ``recent_fills``: the latest fills, newest first: time, product,
      side, base size, price (quote per base), fee and realized PnL (quote),
      reason;
    * ``open_orders``: client order id, product, side, funds held (quote
      for a buy, base units for a sell);
    * ``limits``: ``max_position_fraction`` of equity (risk's limit);
    * each position of ``portfolio`` gains ``weight``: notional / equity.

    Money is exact decimal text, as in the status document; the curve's
    values are floats (a chart's statistics).
    """
    doc = status_document(rt)
    board = rt.board
    limit = rt.config.risk.max_position_fraction
    doc["limits"] = {"max_position_fraction": str(limit)}
    doc["equity_curve"] = [{"t": iso(p.time_ns), "equity": float(p.equity),
                            "drawdown": float(p.drawdown)} for p in board.curve]
    doc["recent_fills"] = [
        {"time": iso(f.time_ns), "product_id": f.product_id, "side": f.side,
         "base_size": str(f.base_size), "price": str(f.price), "fee": str(f.fee),
         "realized_pnl": str(f.realized_pnl), "reason": f.reason}
        for f in reversed(board.recent_fills)]
    doc["open_orders"] = [
        {"client_order_id": o.client_order_id, "product_id": o.product_id,
         "side": o.side.value, "held_quote": str(o.held_quote), "held_base": str(o.held_base)}
        for o in board.open_orders]
    portfolio = doc.get("portfolio")
    if portfolio is not None:
        equity = Decimal(portfolio["equity"])
        for position in portfolio["positions"]:
            weight = Decimal(position["notional"]) / equity if equity > 0 else None
            position["weight"] = None if weight is None else str(round(weight, 6))
    return doc
