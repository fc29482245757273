"""The run report as a table for the console (rich).

:func:`render_report` reads the JSON-ready report mapping (the one written to
``report.json``): fractions are shown as percent with 2 decimals, money with 2
decimals, ratios with 2 decimals, spans of time in years (days under one), undefined values as ``n/a``. Any key may be
missing: a missing metric is skipped, a missing section left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

NA = "n/a"


def _number(value: Any) -> Decimal | None:
    """``value`` (a number or a numeric string) as a finite Decimal, else ``None``."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _two_decimals(number: Decimal) -> Decimal:
    rounded = number.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return abs(rounded) if rounded == 0 else rounded  # no "-0.00"


def _percent(value: Any) -> str:
    number = _number(value)
    return str(value) if number is None else f"{_two_decimals(number * 100)}%"


def _money(value: Any) -> str:
    number = _number(value)
    return str(value) if number is None else f"{_two_decimals(number):,}"


def _ratio(value: Any) -> str:
    number = _number(value)
    return str(value) if number is None else str(_two_decimals(number))


def _plain(value: Any) -> str:
    return str(value)


def _years(value: Any) -> str:
    """Years with 2 decimals; under a year, days (a minute replay covers a few)."""
    number = _number(value)
    if number is None:
        return str(value)
    if abs(number) >= 1:
        return f"{_two_decimals(number)} years"
    return f"{_two_decimals(number * Decimal('365.25'))} days"


Formatter = Callable[[Any], str]

_SECTIONS: tuple[tuple[str, tuple[tuple[str, str, Formatter], ...]], ...] = (
    (
        "Returns",
        (
            ("start_equity", "Start equity", _money),
            ("end_equity", "End equity", _money),
            ("total_return", "Total return", _percent),
            ("cagr", "CAGR", _percent),
            ("years", "Time covered by the data", _years),
            ("calendar_years", "Calendar time (holes included)", _years),
        ),
    ),
    (
        "Risk",
        (
            ("annualized_volatility", "Annualized volatility", _percent),
            ("sharpe", "Sharpe ratio", _ratio),
            ("sortino", "Sortino ratio", _ratio),
            ("max_drawdown", "Max drawdown", _percent),
            ("max_drawdown_peak_time", "Max drawdown peak", _plain),
            ("max_drawdown_trough_time", "Max drawdown trough", _plain),
            ("calmar", "Calmar ratio", _ratio),
            ("avg_gross_exposure", "Average gross exposure", _percent),
            ("max_gross_exposure", "Max gross exposure", _percent),
            ("risk_free_rate", "Risk-free rate (annual)", _percent),
        ),
    ),
    (
        "Trading",
        (
            ("number_of_trades", "Fills", _plain),
            ("closing_trades", "Closing trades (sells)", _plain),
            ("winning_trades", "Winning closing trades", _plain),
            ("win_rate", "Win rate (gross)", _percent),
            ("profit_factor", "Profit factor (gross)", _ratio),
            ("gross_profit", "Gross realized profit", _money),
            ("gross_loss", "Gross realized loss", _money),
            ("total_fees", "Total fees", _money),
        ),
    ),
)


def _cell(value: Any, formatter: Formatter) -> str:
    return NA if value is None else formatter(value)


def _check(value: Any) -> Text:
    if value is True:
        return Text("OK", style="green")
    if value is False:
        return Text("FAILED", style="bold red")
    return Text(NA if value is None else str(value))


def render_report(report: Mapping[str, Any]) -> Table:
    """A two-column (metric, value) table of ``report``, one table section per report section.

    Sections, each shown only when its data is present: Run (``report["run"]``),
    Returns, Risk, Trading (``report["performance"]``), Risk denials by reason
    (``report["denials_by_reason"]``), Fills by liquidity (maker and taker:
    fills, notional and fees, ``report["fills_by_liquidity"]``), Cross-checks
    (``report["cross_checks"]``, ``True`` shown as OK, ``False`` as FAILED).
    """
    table = Table(title="Run report", show_header=True, header_style="bold")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    sections: list[tuple[str, list[tuple[str, str | Text]]]] = []

    run = report.get("run")
    if isinstance(run, Mapping):
        rows: list[tuple[str, str | Text]] = []
        if "trading" in run:
            rows.append(("Trading", "LIVE (real money)" if run["trading"] == "LIVE"
                         else "PAPER (no real orders)"))
        products = run.get("products")
        if products is not None:
            rows.append(("Products", ", ".join(map(str, products)) if products else "none"))
        for key, label in (("start", "First mark (a bar's close)"),
                           ("end", "Last mark (a bar's close)"), ("bars", "Intervals marked")):
            if key in run:
                rows.append((label, _cell(run[key], _plain)))
        sections.append(("Run", rows))

    perf = report.get("performance")
    if isinstance(perf, Mapping):
        for name, fields in _SECTIONS:
            rows = [(label, _cell(perf[key], how)) for key, label, how in fields if key in perf]
            sections.append((name, rows))

    denials = report.get("denials_by_reason")
    if isinstance(denials, Mapping):
        rows = [(str(reason), _cell(count, _plain)) for reason, count in sorted(denials.items())]
        sections.append(("Risk denials by reason", rows or [("none", "0")]))

    liquidity = report.get("fills_by_liquidity")
    if isinstance(liquidity, Mapping):
        rows = []
        for kind, figures in liquidity.items():
            rows += [(f"{kind.capitalize()} fills", _cell(figures["fills"], _plain)),
                     (f"{kind.capitalize()} notional", _cell(figures["notional"], _money)),
                     (f"{kind.capitalize()} fees", _cell(figures["fees"], _money))]
        sections.append(("Fills by liquidity", rows))

    checks = report.get("cross_checks")
    if isinstance(checks, Mapping):
        rows = [(str(name), _check(value)) for name, value in sorted(checks.items())]
        sections.append(("Cross-checks", rows or [("none", NA)]))

    first = True
    for name, rows in sections:
        if not rows:
            continue
        if not first:
            table.add_section()
        first = False
        table.add_row(Text(name, style="bold cyan"), "")
        for label, value in rows:
            table.add_row(f"  {label}", value)
    return table


def print_report(report: Mapping[str, Any], console: Console | None = None) -> None:
    """Print :func:`render_report` of ``report`` to ``console`` (default: a new stdout console)."""
    (console or Console()).print(render_report(report))
