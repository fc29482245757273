"""Assembles a run's report and writes its directory.

``report.json`` holds only what the data and the config determine (no wall
clock, no machine facts), so two replays of the same files with the same
config write identical bytes (DESIGN.md section 9).

The cross-checks are exact Decimal identities:

* ``end equity = cash + sum(base size * mark)`` over the final positions;
* ``start equity + realized PnL + unrealized PnL - fees = end equity``;
* the ledger's cash, fees and positions equal those rebuilt from the fills
  alone (``trades.csv``), so a fill booked twice or not at all shows;
* no order took a position over the limit (``buys_within_the_limit``):
  for every buy, the position at the mark it was decided on plus what the
  buy spent, fee included, is within ``max_position_fraction`` of that
  mark's equity. This is the rule the ledger enforces when it reserves an
  order (a buy spends at most its quote size, whatever its fill price), so
  it holds unless an order went around it.

Every cross-check must hold: a failed one is a defect (``replay`` exits 1).
A position that the price alone carried past the limit between two marks
is not one (a jump before the next bar's trim can fill): it is reported,
with its count, the largest and the exit that followed, in
``positions_over_limit``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from decimal import Decimal, localcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptoj_actors.clock import iso
from cryptoj_actors.config import Config
from cryptoj_actors.execution.paper import ASSUMPTIONS
from cryptoj_actors.money import LEDGER_CONTEXT, ZERO
from cryptoj_actors.portfolio.reconcile import BalanceDifference
from cryptoj_actors.report.files import (
    EquitySeries,
    draw_equity_png,
    performance_dict,
    write_equity_csv,
    write_report_json,
    write_trades_csv,
)
from cryptoj_actors.report.metrics import (
    EquityPoint,
    TradeRecord,
    performance,
    periods_per_year,
)
from cryptoj_actors.report.results import RunResults
from cryptoj_actors.state.layout import RunDir

if TYPE_CHECKING:
    from cryptoj_actors.report.plot_worker import PlotWorker

METRIC_NOTES = (
    "returns are simple returns of the equity curve, one per market batch",
    "Sharpe = mean(r - rf) / stdev(r - rf) * sqrt(periods per year) (Sharpe 1994, ex post, "
    "sample stdev)",
    "Sortino = mean(r - rf) / sqrt(mean(min(0, r - rf)^2)) * sqrt(periods per year) "
    "(Sortino & Price 1994, target = risk-free rate)",
    "periods per year = 365.25 days / bar interval (crypto trades around the clock)",
    "risk-free rate per period = (1 + annual rate)^(1 / periods per year) - 1",
    "max drawdown from the marked equity curve; Calmar = CAGR / max drawdown over the whole run",
    "win rate and profit factor over closing (sell) fills, on realized PnL before fees",
    "gross exposure = sum of |position notional| / equity",
)


def build_report(*, results: RunResults, config: Config, interval_ns: int,
                 products: Sequence[str], inputs: Sequence[Mapping[str, Any]],
                 trading: str = "PAPER") -> dict[str, Any]:
    """The JSON-ready report of a run.

    Args:
        results: what the actors left (ledger snapshot, equity curve, fills...).
        config: the run's configuration (its trading parameters are echoed).
        interval_ns: bar interval, for the periods per year of the ratios.
        products: the products of the run, in order.
        inputs: one mapping per input file (name, sha256, product, notes...).
        trading: ``PAPER`` or ``LIVE`` (real orders), said first in the report.

    Raises:
        ValueError: the run has no equity points (no batch was ever marked).
    """
    pf = results.portfolio
    ppy = periods_per_year(interval_ns)
    perf = performance(pf.equity, pf.trades, risk_free_rate=config.report.risk_free_rate,
                       periods_per_year=ppy)
    snap = pf.snapshot
    with_marks = LEDGER_CONTEXT.add(snap.cash, sum(
        (LEDGER_CONTEXT.multiply(p.base_size, p.mark_price) for p in snap.positions), ZERO))
    identity = (pf.starting_cash + snap.transfers + snap.realized_pnl + snap.unrealized_pnl) \
        - snap.fees
    limit = config.risk.max_position_fraction
    max_weight: dict[str, Decimal] = {p: ZERO for p in products}
    over_limit: list[tuple[int, str, Decimal]] = []
    for point in pf.equity:
        for product, weight in point.weights:
            if weight > max_weight[product]:
                max_weight[product] = weight
            if weight > limit:
                over_limit.append((point.time_ns, product, weight))
    over_buys = _buys_over_the_limit(pf.equity, pf.trades, limit)
    from_fills = _ledger_from_fills(pf.starting_cash, pf.trades, pf.transfers)
    denials = Counter(d.reason_code for d in (*results.risk_denials, *pf.denials))
    exits = Counter(t.reason for t in pf.trades)
    return {
        "run": {
            "trading": trading,
            "products": list(products),
            "start": iso(pf.equity[0].time_ns) if pf.equity else None,
            "end": iso(pf.equity[-1].time_ns) if pf.equity else None,
            "bars": len(pf.equity),
            "bar_interval_s": interval_ns // 1_000_000_000,
            "status": results.status,
            "reason": results.reason,
            "inputs": list(inputs),
        },
        "config": _config_echo(config),
        "performance": performance_dict(perf),
        "final": {
            "cash": snap.cash,
            "equity": snap.equity,
            "realized_pnl": snap.realized_pnl,
            "unrealized_pnl": snap.unrealized_pnl,
            "fees": snap.fees,
            "transfers": snap.transfers,
            "positions": [
                {"product_id": p.product_id, "base_size": p.base_size,
                 "avg_entry_price": p.avg_entry_price.quantize(Decimal("1e-8")),
                 "mark_price": p.mark_price, "notional": p.notional,
                 "unrealized_pnl": p.unrealized_pnl, "realized_pnl": p.realized_pnl}
                for p in snap.positions],
        },
        "denials_by_reason": dict(sorted(denials.items())),
        "fills_by_reason": dict(sorted(exits.items())),
        "fills_by_liquidity": _by_liquidity(pf.trades),
        "orders_by_final_status": dict(sorted(pf.order_status.items())),
        "trading_state_changes": [
            {"time": iso(s.since_ns), "level": s.level.value, "reason": s.reason}
            for s in results.risk_state_changes],
        "max_position_weight": {p: w.quantize(Decimal("1e-6")) for p, w in max_weight.items()},
        # Marks where a price move carried a position past the limit before
        # the next bar's trim could fill (no order ever breaches it).
        "positions_over_limit": _over_limit(over_limit, pf.trades),
        "cross_checks": {
            "equity_equals_cash_plus_positions": with_marks == snap.equity,
            "pnl_identity": identity == snap.equity,
            "ledger_matches_fills": from_fills == (
                snap.cash, snap.fees, {p.product_id: p.base_size for p in snap.positions
                                       if p.base_size}),
            "buys_within_the_limit": not over_buys,
        },
        "cross_check_values": {
            "cash_plus_marked_positions": with_marks,
            "start_plus_transfers_plus_realized_plus_unrealized_minus_fees": identity,
            "end_equity": snap.equity,
        },
        "assumptions": list(ASSUMPTIONS) + list(METRIC_NOTES),
    }


def write_run(run_dir: Path, report: Mapping[str, Any], results: RunResults,
              plots: PlotWorker | None = None) -> list[Path]:
    """Write ``report.json``, ``trades.csv``, ``equity.csv``, ``equity.png``;
    the plot in ``plots``'s process while the others are written, if given.

    Raises:
        OSError: a file cannot be written.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    files = RunDir(run_dir)
    paths = [files.report_json, files.trades_csv, files.equity_csv, files.equity_png]
    curve = EquitySeries.of(results.portfolio.equity)
    title = f"Equity and drawdown: {', '.join(report['run']['products'])}"
    drawn = plots.submit(paths[3], curve, title) if plots is not None else None
    write_report_json(paths[0], report)
    write_trades_csv(paths[1], results.portfolio.trades)
    write_equity_csv(paths[2], results.portfolio.equity)
    if drawn is None:
        draw_equity_png(paths[3], curve, title)
    else:
        drawn.result()
    return paths


def _by_liquidity(trades: Sequence[TradeRecord]) -> dict[str, dict[str, Any]]:
    """Fills, notional (``base_size * price``, quote) and fees (quote) of the
    ``maker`` fills (resting orders) and of the ``taker`` ones (crossing),
    exact; both always present."""
    out: dict[str, dict[str, Any]] = {}
    with localcontext(LEDGER_CONTEXT):
        for kind in ("maker", "taker"):
            mine = [t for t in trades if t.liquidity == kind]
            out[kind] = {"fills": len(mine),
                         "notional": sum((t.base_size * t.price for t in mine), ZERO),
                         "fees": sum((t.fee for t in mine), ZERO)}
    return out


def _buys_over_the_limit(equity: Sequence[EquityPoint], trades: Sequence[TradeRecord],
                         limit: Decimal) -> list[dict[str, Any]]:
    """The buys that took a position past ``limit`` of equity: the position
    at the mark the buy was decided on (the last one at or before its fill)
    plus what the buys of that product at that time spent, fees included,
    against that mark's equity."""
    spent: dict[tuple[int, str], Decimal] = {}
    for t in trades:
        if t.side == "BUY":
            key = (t.time_ns, t.product_id)
            spent[key] = spent.get(key, ZERO) + t.base_size * t.price + t.fee
    times = [p.time_ns for p in equity]
    over = []
    with localcontext(LEDGER_CONTEXT):
        for (time_ns, product), amount in sorted(spent.items()):
            index = bisect_right(times, time_ns) - 1
            if index < 0:
                continue  # bought before the first mark: no decision mark to judge by
            mark = equity[index]
            held = dict(mark.weights).get(product, ZERO) * mark.equity
            if held + amount > limit * mark.equity * (1 + _TOLERANCE):
                over.append({"time": iso(time_ns), "product_id": product,
                             "committed": ((held + amount) / mark.equity).quantize(
                                 Decimal("1e-6"))})
    return over


#: The weights in an equity point are rounded to the ledger's precision; a
#: committed fraction is judged to that precision.
_TOLERANCE = Decimal("1e-20")


def _over_limit(marks: Sequence[tuple[int, str, Decimal]], trades: Sequence[TradeRecord]
                ) -> dict[str, Any]:
    """The marks where a price move carried a position past the limit: how
    many, the first five, the largest and the sell of that product that
    followed it (a trim, a stop-loss or a rebalance)."""
    def entry(time_ns: int, product: str, weight: Decimal) -> dict[str, Any]:
        return {"time": iso(time_ns), "product_id": product,
                "weight": weight.quantize(Decimal("1e-6"))}

    report: dict[str, Any] = {"count": len(marks), "first": [entry(*m) for m in marks[:5]]}
    if marks:
        time_ns, product, weight = max(marks, key=lambda m: m[2])
        after = next((t for t in trades if t.product_id == product and t.side == "SELL"
                      and t.time_ns >= time_ns), None)
        report["largest"] = {**entry(time_ns, product, weight), "followed_by": None if
                             after is None else {"time": iso(after.time_ns),
                                                 "reason": after.reason,
                                                 "base_size": after.base_size}}
    return report


def _ledger_from_fills(starting_cash: Decimal, trades: Sequence[TradeRecord],
                       transfers: Sequence[BalanceDifference] = ()
                       ) -> tuple[Decimal, Decimal, dict[str, Decimal]]:
    """Cash, fees and positions rebuilt from the fills alone (as ``trades.csv``
    lists them) and the transfers reconciliation applied, independently of
    the ledger's own bookkeeping."""
    cash, fees = starting_cash, ZERO
    positions: dict[str, Decimal] = {}
    with localcontext(LEDGER_CONTEXT):
        for t in trades:
            notional = t.base_size * t.price
            sign = 1 if t.side == "BUY" else -1
            cash -= sign * notional + t.fee
            fees += t.fee
            positions[t.product_id] = positions.get(t.product_id, ZERO) + sign * t.base_size
        for moved in transfers:
            if moved.product_id:
                positions[moved.product_id] = positions.get(moved.product_id, ZERO) + \
                    moved.difference
            else:
                cash += moved.difference
    return cash, fees, {p: size for p, size in positions.items() if size}


def _config_echo(config: Config) -> dict[str, Any]:
    """The trading parameters of the run (not paths, not flow control)."""
    return {
        "starting_cash": config.starting_cash,
        "paper": asdict(config.paper),
        "risk": asdict(config.risk),
        "strategy": {"name": config.strategy.name, "params": dict(config.strategy.params)},
        "products": {p: asdict(r) for p, r in sorted(config.products.items())},
        "risk_free_rate": config.report.risk_free_rate,
    }


def report_writer(run_dir: Path, config: Config, interval_ns: int, products: Sequence[str],
                  inputs: list[dict[str, Any]], trading: str = "PAPER",
                  plots: PlotWorker | None = None,
                  ) -> Callable[[RunResults], tuple[dict[str, Any], list[Path]]]:
    """Builds and writes a run's report from its results, as they stand (at
    the end, or on the admin interface's ``POST /report`` while it runs):
    the report and the files written (the plot by ``plots``, if given)."""

    def write(results: RunResults) -> tuple[dict[str, Any], list[Path]]:
        report = build_report(results=results, config=config, interval_ns=interval_ns,
                              products=products, inputs=inputs, trading=trading)
        return report, write_run(run_dir, report, results, plots)

    return write
