"""The console report table."""

from __future__ import annotations

import io

from rich.console import Console

from cryptoj_actors.report.table import print_report, render_report

REPORT = {
    "run": {
        "products": ["BTC-USD", "ETH-USD"],
        "start": "2021-03-01T00:00:00Z",
        "end": "2021-04-01T00:00:00Z",
        "bars": 744,
    },
    "performance": {
        "start_equity": "10000",
        "end_equity": "12345.678",
        "total_return": 0.2345678,
        "cagr": None,
        "sharpe": 1.23456,
        "sortino": -0.004,
        "max_drawdown": 0.105,
        "max_drawdown_peak_time": "2021-03-05T00:00:00Z",
        "win_rate": 0.5,
        "profit_factor": None,
        "total_fees": "1234.5",
        "number_of_trades": 17,
    },
    "denials_by_reason": {"POSITION_LIMIT": 3, "DAILY_LOSS": 1},
    "cross_checks": {"pnl_identity": True, "equity_equals_cash_plus_positions": False},
}


def render(report) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None, record=True)
    console.print(render_report(report))
    return console.export_text()


def row(text: str, label: str) -> str:
    return next(line for line in text.splitlines() if f" {label} " in line)


def test_values_are_formatted():
    text = render(REPORT)
    assert "23.46%" in row(text, "Total return")
    assert "n/a" in row(text, "CAGR")
    assert "1.23" in row(text, "Sharpe ratio")
    assert "0.00" in row(text, "Sortino ratio") and "-0.00" not in row(text, "Sortino ratio")
    assert "10.50%" in row(text, "Max drawdown")
    assert "50.00%" in row(text, "Win rate (gross)")
    assert "n/a" in row(text, "Profit factor (gross)")
    assert "12,345.68" in row(text, "End equity")
    assert "1,234.50" in row(text, "Total fees")
    assert "17" in row(text, "Fills")
    assert "2021-03-05T00:00:00Z" in row(text, "Max drawdown peak")
    assert "BTC-USD, ETH-USD" in row(text, "Products")


def test_sections_denials_and_checks():
    table = render_report(REPORT)
    assert [c.header for c in table.columns] == ["Metric", "Value"]
    text = render(REPORT)
    # section titles are the only rows whose first cell is not indented
    lines = [line for line in text.splitlines() if line.startswith("│ ")]
    headers = [line.strip("│ ") for line in lines if not line.startswith("│  ")]
    assert headers == [
        "Run", "Returns", "Risk", "Trading", "Risk denials by reason", "Cross-checks"
    ]
    assert "3" in row(text, "POSITION_LIMIT") and "1" in row(text, "DAILY_LOSS")
    assert "OK" in row(text, "pnl_identity")
    assert "FAILED" in row(text, "equity_equals_cash_plus_positions")
    assert "CAGR" in text and "Calmar" not in text  # missing keys are skipped, not n/a


def test_missing_sections_are_left_out():
    text = render({"performance": {"sharpe": None}})
    assert "n/a" in row(text, "Sharpe ratio")
    assert "Cross-checks" not in text and "Risk denials" not in text and "Products" not in text
    assert render({})  # an empty report still renders


def test_print_report_writes_to_the_console():
    buffer = io.StringIO()
    print_report(REPORT, Console(file=buffer, width=120, color_system=None))
    assert "Total return" in buffer.getvalue() and "23.46%" in buffer.getvalue()


def test_fills_by_liquidity_have_a_section_of_their_own():
    report = {**REPORT, "fills_by_liquidity": {
        "maker": {"fills": 2, "notional": "980.01", "fees": "5.88012"},
        "taker": {"fills": 1, "notional": "500", "fees": "6"}}}
    text = render(report)
    assert "Fills by liquidity" in text
    assert "2" in row(text, "Maker fills") and "980.01" in row(text, "Maker notional")
    assert "5.88" in row(text, "Maker fees") and "6.00" in row(text, "Taker fees")
