"""``python -m cryptoj_actors report RUN_DIR``: a finished run, rendered.

Prints the metrics table, the breakdowns per product and by exit reason,
and the monthly returns, and writes next to the run's files:
``positions.png`` (weights over time), ``monthly_returns.png`` and, with
``html``, ``report.html``: one self-contained, interactive page (plotly,
offline) with each product's price and the run's entries and exits, equity
beside buy-and-hold and its drawdown, the weights against the limit, the
monthly returns as a heatmap, the sortable trade list, the parameters and
the fill assumptions. The equity and drawdown figure is the run's own
``equity.png``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cryptoj_actors.report import html
from cryptoj_actors.report.analysis import (
    Breakdown,
    Mark,
    Trade,
    breakdown,
    month_grid,
    period_returns,
    read_equity,
    read_trades,
)
from cryptoj_actors.report.plots import write_monthly_png, write_positions_png
from cryptoj_actors.report.table import render_report
from cryptoj_actors.state.files import write_atomic
from cryptoj_actors.state.layout import RunDir

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class RunDirError(Exception):
    """The folder is not a finished run; the message says what is missing."""


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _breakdown_rows(groups: dict[str, Breakdown]) -> list[list[str]]:
    return [[name, str(b.fills), str(b.buys), str(b.sells), _money(b.bought), _money(b.sold),
             _money(b.realized_pnl), _money(b.fees), _money(b.net_pnl), _pct(b.win_rate)]
            for name, b in groups.items()]


BREAKDOWN_HEADER = ("", "fills", "buys", "sells", "bought", "sold", "realized PnL", "fees",
                    "net", "win rate")


def render_run(run_dir: Path, console: Console, *, write_html: bool = False) -> list[Path]:
    """Print the run's report and write its figures; the files written.

    Raises:
        RunDirError: ``report.json``, ``trades.csv`` or ``equity.csv`` is
            missing (the run is still going, or was interrupted).
    """
    files = RunDir(run_dir)
    missing = [p.name for p in (files.report_json, files.trades_csv, files.equity_csv)
               if not p.is_file()]
    if missing:
        raise RunDirError(f"{run_dir}: no {', '.join(missing)} (a run writes them when it "
                          "ends; a running one shows in `status`, an interrupted replay "
                          "finishes with `replay --resume`)")
    report: dict[str, Any] = json.loads(files.report_json.read_text(encoding="utf-8"))
    trades = read_trades(files.trades_csv)
    marks = read_equity(files.equity_csv)
    products = breakdown(trades, "product")
    exits = breakdown(trades, "exit")
    monthly = period_returns(marks, "month")
    daily = [value for _, value in period_returns(marks, "day")]

    console.print(render_report(report))
    for title, groups in (("By product", products), ("By exit reason", exits)):
        table = Table(title=title)
        for name in BREAKDOWN_HEADER:
            table.add_column(name, justify="left" if not name else "right")
        for row in _breakdown_rows(groups):
            table.add_row(*row)
        console.print(table)
    grid = month_grid(monthly)
    months = Table(title="Monthly returns")
    months.add_column("year")
    for name in MONTHS:
        months.add_column(name, justify="right")
    for year, row in sorted(grid.items()):
        months.add_row(str(year), *(_pct(row.get(m)) if m in row else "" for m in range(1, 13)))
    console.print(months)
    if daily:
        up, down = sum(1 for r in daily if r > 0), sum(1 for r in daily if r < 0)
        console.print(f"days: {len(daily)}: {up} up, {down} down, {len(daily) - up - down} "
                      f"flat; best {max(daily):.2%}, worst {min(daily):.2%}")

    products_label = ", ".join(report["run"]["products"])
    positions_png, monthly_png = files.positions_png, files.monthly_returns_png
    limit = float(report["config"]["risk"]["max_position_fraction"])
    write_positions_png(positions_png, marks, f"Positions over time: {products_label} "
                        f"(dashed: the {limit:.0%} limit)", limit)
    write_monthly_png(monthly_png, monthly, f"Monthly returns: {products_label}")
    written = [positions_png, monthly_png]
    if write_html:
        written.append(_write_html(files, report, products, exits, grid, marks, trades))
    return written


def _write_html(files: RunDir, report: dict[str, Any], products: dict[str, Breakdown],
                exits: dict[str, Breakdown], grid: dict[int, dict[int, float]],
                marks: list[Mark], trades: list[Trade]) -> Path:
    # Only `report --html` draws with plotly, whose import takes a tenth of a
    # second that every replay would otherwise pay.
    from cryptoj_actors.report import interactive

    perf = report["performance"]
    metrics = [
        ("Start / end", f"{report['run']['start']} / {report['run']['end']}"),
        ("Start equity", _money(Decimal(perf["start_equity"]))),
        ("End equity", _money(Decimal(perf["end_equity"]))),
        ("Total return", _pct(perf["total_return"])), ("CAGR", _pct(perf["cagr"])),
        ("Sharpe ratio", f"{perf['sharpe']:.2f}" if perf["sharpe"] is not None else "n/a"),
        ("Sortino ratio", f"{perf['sortino']:.2f}" if perf["sortino"] is not None else "n/a"),
        ("Max drawdown", _pct(perf["max_drawdown"])),
        ("Calmar ratio", f"{perf['calmar']:.2f}" if perf["calmar"] is not None else "n/a"),
        ("Fills", str(perf["number_of_trades"])), ("Win rate", _pct(perf["win_rate"])),
        ("Total fees", _money(Decimal(perf["total_fees"]))),
    ]
    checks = [(name, "OK" if ok else "FAILED") for name, ok in report["cross_checks"].items()]
    denials = list(report["denials_by_reason"].items()) or [("none", 0)]
    month_rows = [[str(year)] + [_pct(row[m]) if m in row else "" for m in range(1, 13)]
                  for year, row in sorted(grid.items())]
    limit = float(report["config"]["risk"]["max_position_fraction"])
    sections = {
        "Metrics": html.table(("metric", "value"), metrics),
        "Equity beside buy and hold, and drawdown": interactive.equity_figure(
            marks, Decimal(perf["start_equity"])),
        "Prices, entries and exits": interactive.prices_figure(marks, trades),
        "Weights against the limit": interactive.weights_figure(marks, limit),
        "Monthly returns": interactive.monthly_figure(grid)
        + html.table(("year", *MONTHS), month_rows),
        "By product": html.table(BREAKDOWN_HEADER, _breakdown_rows(products)),
        "By exit reason": html.table(BREAKDOWN_HEADER, _breakdown_rows(exits)),
        **({"By liquidity (maker: resting orders; taker: crossing ones)": html.table(
            ("liquidity", "fills", "notional", "fees"),
            [(kind, str(f["fills"]), _money(Decimal(f["notional"])), _money(Decimal(f["fees"])))
             for kind, f in report["fills_by_liquidity"].items()])}
           if "fills_by_liquidity" in report else {}),  # runs written before it was reported
        "Trades (click a heading to sort)":
            f'<div id="trades-box">{interactive.trades_table(trades)}</div>',
        "Risk denials by reason": html.table(("reason", "orders"), denials),
        "Cross-checks": html.table(("check", "result"), checks),
        "Parameters": html.table(("parameter", "value"), html.flat(report["config"])),
        "Fill assumptions": "<ul>" + "".join(f"<li>{html.html.escape(a)}</li>"
                                             for a in report["assumptions"]) + "</ul>",
    }
    write_atomic(files.report_html, html.page(f"Run {files.run_id}", sections,
                                              head=interactive.plotly_script()))
    return files.report_html
