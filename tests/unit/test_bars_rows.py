"""Data rows into exact values and times, errors by line (cryptoj_actors.marketdata.bars.rows)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.marketdata.bars.layouts import LAYOUT_PLAIN
from cryptoj_actors.marketdata.bars.series import load_bars
from tests.unit.bar_files import (
    CDD_ROWS,
    ETH_HEADER,
    cdd_file,
    load_error,
    ns,
    plain_file,
    write,
)

# --- CryptoDataDownload rows --------------------------------------------------------------


def test_cdd_twelve_hour_clock(tmp_path: Path) -> None:
    rows = [
        "2017-07-02 12-AM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 11-PM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 01-PM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 12-PM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 11-AM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 01-AM,BTCUSD,10,11,9,10,1,10",
        "2017-07-01 12-AM,BTCUSD,10,11,9,10,1,10",
    ]
    series = load_bars(cdd_file(tmp_path, rows))
    assert [bar.start_ns for bar in series.bars] == [
        ns("2017-07-01T00:00"),
        ns("2017-07-01T01:00"),
        ns("2017-07-01T11:00"),
        ns("2017-07-01T12:00"),
        ns("2017-07-01T13:00"),
        ns("2017-07-01T23:00"),
        ns("2017-07-02T00:00"),
    ]


def test_cdd_eth_header_and_volume_column(tmp_path: Path) -> None:
    rows = [
        "2020-08-05 03-PM,ETHUSD,394.97,396.41,393.27,396.12,2821.61,1115468.85",
        "2020-08-05 02-PM,ETHUSD,399.52,400,390.56,394.97,13497.02,5335869.99",
    ]
    series = load_bars(cdd_file(tmp_path, rows, name="whatever.csv", header=ETH_HEADER), "eth-usd")
    assert series.product_id == "ETH-USD"
    assert [bar.volume for bar in series.bars] == [Decimal("13497.02"), Decimal("2821.61")]


def test_cdd_base_volume_column_found_by_name(tmp_path: Path) -> None:
    header = "Date,Symbol,Open,High,Low,Close,Volume USD,Volume ETH"
    rows = ["2020-08-05 03-PM,ETHUSD,1,1,1,1,999,3", "2020-08-05 02-PM,ETHUSD,1,1,1,1,999,4"]
    series = load_bars(cdd_file(tmp_path, rows, header=header))
    assert [bar.volume for bar in series.bars] == [Decimal(4), Decimal(3)]


def test_cdd_volume_from_column(tmp_path: Path) -> None:
    header = "Date,Symbol,Open,High,Low,Close,Volume From,Volume To"
    rows = ["2018-10-17 10-AM,BTCUSD,1,1,1,1,2,20", "2018-10-17 09-AM,BTCUSD,1,1,1,1,3,30"]
    series = load_bars(cdd_file(tmp_path, rows, header=header))
    assert [bar.volume for bar in series.bars] == [Decimal(3), Decimal(2)]


def test_cdd_without_base_volume_column(tmp_path: Path) -> None:
    header = "date,symbol,open,high,low,close,volume"  # a bare "volume" is USD in CDD files
    rows = ["2018-10-17 10-AM,BTCUSD,1,1,1,1,2", "2018-10-17 09-AM,BTCUSD,1,1,1,1,3"]
    err = load_error(cdd_file(tmp_path, rows, header=header))
    assert err.line == 2 and "no volume column in BTC (base units)" in str(err)


def test_cdd_symbol_without_known_quote(tmp_path: Path) -> None:
    rows = ["2018-10-17 10-AM,BTCXYZ,1,1,1,1,2,2", "2018-10-17 09-AM,BTCXYZ,1,1,1,1,3,3"]
    err = load_error(cdd_file(tmp_path, rows))
    assert err.line == 3 and "cannot tell the product from symbol 'BTCXYZ'" in str(err)


@pytest.mark.parametrize(
    "symbol, product",
    [
        ("BTCUSD", "BTC-USD"),
        ("BTCUSDC", "BTC-USDC"),
        ("ETHBTC", "ETH-BTC"),
        ("LTCEUR", "LTC-EUR"),
        ("btc-usd", "BTC-USD"),
    ],
)
def test_cdd_symbol_to_product(tmp_path: Path, symbol: str, product: str) -> None:
    header = "date,symbol,open,high,low,close,volume_base,volume_quote"
    rows = [f"2019-10-17 10-AM,{symbol},1,1,1,1,2,2", f"2019-10-17 09-AM,{symbol},1,1,1,1,3,3"]
    series = load_bars(cdd_file(tmp_path, rows, header=header))
    assert series.product_id == product
    assert all(bar.product_id == product for bar in series.bars)


def test_product_argument_must_match_cdd_symbol(tmp_path: Path) -> None:
    err = load_error(cdd_file(tmp_path, CDD_ROWS), "ETH-USD")
    assert err.line == 3
    assert "BTC-USD, not the requested ETH-USD" in str(err)


# --- row errors: one line, FILE:LINE: problem ---------------------------------------------

ROW_ERRORS = [
    ("columns", "2019-10-17 10-AM,BTCUSD,8050,8056,8021,8051,61.25", "expected 8 columns"),
    ("time", "2019-10-17 13-AM,BTCUSD,8050,8056,8021,8051,61.25,1", "bad time '2019-10-17 13-AM'"),
    ("date", "2019-02-30 10-AM,BTCUSD,8050,8056,8021,8051,61.25,1", "bad time"),
    ("time text", "yesterday,BTCUSD,8050,8056,8021,8051,61.25,1", "bad time 'yesterday'"),
    (
        "number",
        "2019-10-17 10-AM,BTCUSD,80x50,8056,8021,8051,61.25,1",
        "open is not a number: '80x50'",
    ),
    (
        "empty number",
        "2019-10-17 10-AM,BTCUSD,8050,8056,8021,,61.25,1",
        "close is not a number: ''",
    ),
    ("nan", "2019-10-17 10-AM,BTCUSD,8050,NaN,8021,8051,61.25,1", "high is not finite"),
    ("zero price", "2019-10-17 10-AM,BTCUSD,0,8056,0,8051,61.25,1", "prices must be positive"),
    (
        "negative price",
        "2019-10-17 10-AM,BTCUSD,8050,8056,-1,8051,61.25,1",
        "prices must be positive",
    ),
    (
        "negative volume",
        "2019-10-17 10-AM,BTCUSD,8050,8056,8021,8051,-0.5,1",
        "volume is negative: -0.5",
    ),
    ("high", "2019-10-17 10-AM,BTCUSD,8050,8050.5,8021,8051,61.25,1", "high 8050.5 is below"),
    ("low", "2019-10-17 10-AM,BTCUSD,8050,8056,8050.5,8051,61.25,1", "low 8050.5 is above"),
    ("symbol", "2019-10-17 10-AM,ETHUSD,8050,8056,8021,8051,61.25,1", "symbol 'ETHUSD' differs"),
]


@pytest.mark.parametrize(
    "row, problem", [e[1:] for e in ROW_ERRORS], ids=[e[0] for e in ROW_ERRORS]
)
def test_row_errors_name_file_and_line(tmp_path: Path, row: str, problem: str) -> None:
    path = cdd_file(tmp_path, [CDD_ROWS[0], row, CDD_ROWS[2]])
    err = load_error(path)
    assert err.line == 4
    assert err.path == path
    assert str(err).startswith(f"{path}:4: ")
    assert problem in str(err)


# --- plain rows ---------------------------------------------------------------------------


def test_plain_iso_timestamps(tmp_path: Path) -> None:
    rows = [
        "2019-10-17T09:00:00Z,8040,8055,8030,8050,1.5",
        "2019-10-17 10:00:00,8050,8056,8021,8051,2",  # naive means UTC
        "2019-10-17T12:00:00+01:00,8051,8060,8040,8055,0.001",  # = 11:00 UTC
    ]
    series = load_bars(plain_file(tmp_path, rows))
    assert series.layout == LAYOUT_PLAIN
    assert series.product_id == "BTC-USD"
    assert [bar.start_ns for bar in series.bars] == [
        ns(f"2019-10-17T{h:02d}:00") for h in (9, 10, 11)
    ]
    assert series.bars[2].volume == Decimal("0.001")
    assert series.notes == ()


def test_plain_epoch_seconds_and_header_spacing(tmp_path: Path) -> None:
    start = ns("2019-10-17T09:00") // 1_000_000_000
    lines = [
        " Timestamp , Open,High,LOW,close,volume",
        f"{start},1,2,1,2,3",
        f"{start + 60},2,2,1,1,0",
    ]
    series = load_bars(write(tmp_path, "ETH-USD.csv", lines))
    assert series.product_id == "ETH-USD"
    assert series.interval_ns == 60_000_000_000
    assert series.bars[1].start_ns == ns("2019-10-17T09:01")


def test_plain_epoch_milliseconds_refused(tmp_path: Path) -> None:
    err = load_error(plain_file(tmp_path, ["1571302800000,1,1,1,1,1", "1571306400000,1,1,1,1,1"]))
    assert err.line == 2 and "milliseconds" in str(err)


def test_plain_blank_lines_are_ignored_and_noted(tmp_path: Path) -> None:
    rows = [
        "2019-10-17T09:00:00Z,1,1,1,1,1",
        "",
        "2019-10-17T10:00:00Z,1,1,1,1,1",
        "",
        "2019-10-17T11:00:00Z,x,1,1,1,1",
    ]
    err = load_error(plain_file(tmp_path, rows))
    assert err.line == 6  # physical line, blank lines counted
    series = load_bars(plain_file(tmp_path, rows[:-1]))
    assert len(series.bars) == 2 and "2 blank lines ignored" in series.notes
