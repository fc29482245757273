"""Run-directory files: report.json, trades.csv, equity.csv, equity.png."""

from __future__ import annotations

import csv
import json
import struct
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from cryptoj_actors.clock import NS_PER_HOUR, from_datetime
from cryptoj_actors.model import OrderStatus, Side
from cryptoj_actors.report.files import (
    EquitySeries,
    draw_equity_png,
    performance_dict,
    round_float,
    to_jsonable,
    write_equity_csv,
    write_report_json,
    write_trades_csv,
)
from cryptoj_actors.report.metrics import (
    EquityPoint,
    Performance,
    TradeRecord,
    performance,
)

T0 = from_datetime(datetime(2021, 3, 1, tzinfo=timezone.utc))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def point(i, equity, exposure="0.5", btc="0.3", eth="0.2", products=("BTC-USD", "ETH-USD")):
    weights = dict(zip(products, (Decimal(btc), Decimal(eth))))
    equity = Decimal(equity)
    return EquityPoint(
        time_ns=T0 + i * NS_PER_HOUR,
        equity=equity,
        cash=equity / 2,
        realized_pnl=Decimal("1.5"),
        unrealized_pnl=Decimal("-0.25"),
        fees=Decimal("0.000000000001"),
        gross_exposure=Decimal(exposure),
        weights=tuple(weights.items()),
    )


POINTS = [
    point(0, "10000"),
    point(1, "11000", exposure="0.12345649", btc="0.1234565", eth="-0.0000001"),
    point(2, "9900", exposure="1", btc="0", eth="0.66666666666"),
    point(3, "12000.5"),
]

TRADES = [
    TradeRecord(
        time_ns=T0 + NS_PER_HOUR + 500_000_000,
        product_id="BTC-USD",
        side="BUY",
        base_size=Decimal("0.00012300"),
        price=Decimal("5.5E+4"),
        fee=Decimal("0.0406"),
        client_order_id="run1-000001",
        realized_pnl=Decimal("0"),
        reason="rebalance",
        liquidity="taker",
    ),
    TradeRecord(
        time_ns=T0 + 2 * NS_PER_HOUR,
        product_id="ETH-USD",
        side=Side.SELL,
        base_size=Decimal("1.5"),
        price=Decimal("1800.25"),
        fee=Decimal("10.80150000"),
        client_order_id="run1-000002",
        realized_pnl=Decimal("-12.345678901234"),
        reason="stop_loss, hard",
        liquidity="maker",
    ),
]


def make_report():
    perf = performance(POINTS, TRADES, risk_free_rate=0.03, periods_per_year=8766.0)
    return {
        "run": {
            "products": ["BTC-USD", "ETH-USD"],
            "start": "2021-03-01T00:00:00Z",
            "end": "2021-03-01T03:00:00Z",
            "bars": 4,
        },
        "performance": performance_dict(perf),
        "denials_by_reason": {"POSITION_LIMIT": 3, "DAILY_LOSS": 1},
        "cross_checks": {"pnl_identity": True, "equity_equals_cash_plus_positions": True},
        "extra": {
            "third": 1 / 3,
            "noisy": 0.1 + 0.2,
            "big": 123456789.123456789,
            "tiny": -1.23456789012345e-20,
            "negative_zero": -0.0,
            "inf": float("inf"),
            "exact": Decimal("0.1000000000000000000000000001"),
            "sci": Decimal("1E+3"),
            "status": OrderStatus.FILLED,
            "tuple": (1, Decimal("2.50"), None, False),
            7: "int key",
            Side.BUY: "enum key",
        },
    }


# --- report.json ------------------------------------------------------------------


def test_report_json_is_deterministic_and_sorted(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_report_json(a, make_report())
    shuffled = dict(reversed(list(make_report().items())))
    write_report_json(b, shuffled)
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "\r" not in text
    assert text.startswith('{\n  "cross_checks": {\n    "equity_equals_cash_plus_positions": true,')
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["performance"]) == sorted(data["performance"])


def test_report_json_converts_values(tmp_path):
    path = tmp_path / "report.json"
    write_report_json(path, make_report())
    extra = json.loads(path.read_text(encoding="utf-8"))["extra"]
    assert extra["third"] == 0.333333333333  # 12 significant digits
    assert extra["noisy"] == 0.3  # 0.30000000000000004 rounded away
    assert extra["big"] == 123456789.123
    assert extra["tiny"] == -1.23456789012e-20
    assert extra["negative_zero"] == 0.0
    assert extra["inf"] is None
    assert extra["exact"] == "0.1000000000000000000000000001"  # Decimal stays exact
    assert extra["sci"] == "1000"
    assert extra["status"] == "FILLED"
    assert extra["tuple"] == [1, "2.5", None, False]
    assert extra["7"] == "int key" and extra["BUY"] == "enum key"
    raw = path.read_text(encoding="utf-8")
    assert '"third": 0.333333333333,' in raw
    assert '"negative_zero": 0.0' in raw


def test_round_float_keeps_12_significant_digits():
    assert round_float(2 / 3) == 0.666666666667
    assert round_float(1234567.89012345) == 1234567.89012
    assert round_float(round_float(2 / 3)) == round_float(2 / 3)
    assert round_float(float("nan")) is None


def test_to_jsonable_refuses_unknown_types():
    with pytest.raises(TypeError):
        to_jsonable({"s": {1, 2}})
    with pytest.raises(TypeError):
        to_jsonable({"d": datetime(2021, 1, 1)})


def test_performance_dict_has_iso_times_and_money_strings():
    perf = performance(POINTS, TRADES, risk_free_rate=0.0, periods_per_year=8766.0)
    d = performance_dict(perf)
    assert d["start_time"] == "2021-03-01T00:00:00Z"
    assert d["end_time"] == "2021-03-01T03:00:00Z"
    assert d["max_drawdown_peak_time"] == "2021-03-01T01:00:00Z"
    assert d["max_drawdown_trough_time"] == "2021-03-01T02:00:00Z"
    assert not any(key.endswith("_ns") for key in d)
    assert d["start_equity"] == "10000" and d["end_equity"] == "12000.5"
    assert d["total_fees"] == "10.8421"
    assert d["gross_loss"] == "12.345678901234"
    assert d["max_drawdown"] == 0.1  # 1100 / 11000
    assert d["win_rate"] == 0.0 and d["profit_factor"] == 0.0
    assert d["total_return"] == 0.20005
    assert isinstance(d["sharpe"], float) and d["sharpe"] == round_float(perf.sharpe)
    expected = {f.replace("_ns", "_time") for f in Performance.__dataclass_fields__}
    assert set(d) == expected


def test_performance_dict_writes_none_as_null(tmp_path):
    perf = performance(POINTS[:1], [], risk_free_rate=0.0, periods_per_year=8766.0)
    path = tmp_path / "report.json"
    write_report_json(path, {"performance": performance_dict(perf)})
    data = json.loads(path.read_text(encoding="utf-8"))["performance"]
    undefined = ("cagr", "sharpe", "sortino", "calmar", "win_rate", "profit_factor")
    for key in (*undefined, "max_drawdown_peak_time", "max_drawdown_trough_time"):
        assert data[key] is None
    assert '"sharpe": null' in path.read_text(encoding="utf-8")


# --- trades.csv -----------------------------------------------------------------------


TRADES_HEADER_LINE = ("time,product_id,side,base_size,price,fee,client_order_id,realized_pnl,reason,"
                      "liquidity")


def test_trades_csv(tmp_path):
    path = tmp_path / "trades.csv"
    write_trades_csv(path, TRADES)
    raw = path.read_bytes()
    assert b"\r" not in raw
    lines = raw.decode("utf-8").split("\n")
    assert lines[0] == TRADES_HEADER_LINE
    assert lines[1] == (
        "2021-03-01T01:00:00.5Z,BTC-USD,BUY,0.000123,55000,0.0406,run1-000001,0,rebalance,taker"
    )
    assert lines[-1] == ""  # final newline
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    sell = rows[1]
    assert sell["side"] == "SELL"  # the enum's value, not "Side.SELL"
    assert Decimal(sell["realized_pnl"]) == Decimal("-12.345678901234")
    assert Decimal(sell["fee"]) == Decimal("10.8015")
    assert sell["reason"] == "stop_loss, hard"  # quoted by csv, read back whole
    assert sell["liquidity"] == "maker"


def test_trades_csv_without_trades_has_only_the_header(tmp_path):
    path = tmp_path / "trades.csv"
    write_trades_csv(path, [])
    assert path.read_bytes() == (TRADES_HEADER_LINE + "\n").encode()


# --- equity.csv -------------------------------------------------------------------------


def test_equity_csv(tmp_path):
    path = tmp_path / "equity.csv"
    write_equity_csv(path, POINTS)
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    lines = raw.decode("utf-8").splitlines()
    assert lines[0] == (
        "time,equity,cash,realized_pnl,unrealized_pnl,fees,gross_exposure,drawdown,"
        "weight_BTC-USD,weight_ETH-USD"
    )
    assert len(lines) == 1 + len(POINTS)
    assert lines[1] == (
        "2021-03-01T00:00:00Z,10000,5000,1.5,-0.25,0.000000000001,"
        "0.500000,0.000000,0.300000,0.200000"
    )
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    # 0.12345649 -> 0.123456; 0.1234565 -> 0.123456 (half-even); -0.0000001 -> 0.000000 (no "-0")
    assert rows[1]["gross_exposure"] == "0.123456"
    assert rows[1]["weight_BTC-USD"] == "0.123456"
    assert rows[1]["weight_ETH-USD"] == "0.000000"
    assert rows[2]["weight_ETH-USD"] == "0.666667"
    assert rows[2]["gross_exposure"] == "1.000000"
    assert rows[2]["drawdown"] == "-0.100000"  # 9900 / 11000 - 1
    assert rows[3]["drawdown"] == "0.000000"
    assert rows[3]["equity"] == "12000.5" and rows[3]["cash"] == "6000.25"


def test_equity_csv_refuses_changing_products(tmp_path):
    points = [point(0, "100"), point(1, "100", products=("ETH-USD", "BTC-USD"))]
    with pytest.raises(ValueError):
        write_equity_csv(tmp_path / "equity.csv", points)


# --- determinism -----------------------------------------------------------------------


def test_two_writes_of_the_same_input_are_byte_identical(tmp_path):
    for run in ("one", "two"):
        folder = tmp_path / run
        folder.mkdir()
        write_report_json(folder / "report.json", make_report())
        write_trades_csv(folder / "trades.csv", TRADES)
        write_equity_csv(folder / "equity.csv", POINTS)
    for name in ("report.json", "trades.csv", "equity.csv"):
        one, two = (tmp_path / run / name for run in ("one", "two"))
        assert one.read_bytes() == two.read_bytes(), name


# --- equity.png ---------------------------------------------------------------------------


def test_equity_png(tmp_path):
    path = tmp_path / "equity.png"
    draw_equity_png(path, EquitySeries.of(POINTS), "BTC-USD / ETH-USD momentum")
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1200, 700)


def test_equity_png_without_points(tmp_path):
    path = tmp_path / "equity.png"
    draw_equity_png(path, EquitySeries.of([]), "empty")
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_equity_png_leaves_pyplot_alone(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    draw_equity_png(tmp_path / "equity.png", EquitySeries.of(POINTS), "t")
    assert plt.get_fignums() == before
