"""Loading recorded bars from CSV files (cryptoj_actors.marketdata.bars_csv)."""

from __future__ import annotations

import pickle
import time
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from cryptoj_actors.clock import NS_PER_DAY, NS_PER_HOUR, from_datetime
from cryptoj_actors.marketdata.bars_csv import (
    LAYOUT_CDD,
    LAYOUT_PLAIN,
    BarSeries,
    DataError,
    align,
    load_bars,
)

ATTRIBUTION = "Timestamps are UTC timezone,https://www.CryptoDataDownload.com"
BTC_HEADER = "date,symbol,open,high,low,close,volume_btc,volume"
ETH_HEADER = "Date,Symbol,Open,High,Low,Close,Volume ETH,Volume USD"
PLAIN_HEADER = "timestamp,open,high,low,close,volume"

# Newest first, as CryptoDataDownload writes them: lines 3, 4, 5 of the file.
CDD_ROWS = [
    "2019-10-17 11-AM,BTCUSD,8051,8060,8040,8055,10.5,84500",
    "2019-10-17 10-AM,BTCUSD,8050.10,8056,8021,8051,61.25,492394.56",
    "2019-10-17 09-AM,BTCUSD,8040,8055,8030,8050.10,0,0",
]


def ns(text: str) -> int:
    """``2019-10-17T09:00`` (UTC) -> ns since the epoch."""
    return from_datetime(datetime.fromisoformat(text))


def write(tmp_path: Path, name: str, lines: list[str], newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_text(newline.join(lines) + newline, encoding="utf-8", newline="")
    return path


def cdd_file(
    tmp_path: Path, rows: list[str], name: str = "Coinbase_BTCUSD_1h.csv", header: str = BTC_HEADER
) -> Path:
    return write(tmp_path, name, [ATTRIBUTION, header, *rows])


def plain_file(tmp_path: Path, rows: list[str], name: str = "BTC-USD_1h.csv") -> Path:
    return write(tmp_path, name, [PLAIN_HEADER, *rows])


def hourly_plain(start: str, hours: list[int], name: str, tmp_path: Path) -> BarSeries:
    """A plain hourly series with bars at ``start`` + each of ``hours``."""
    base = ns(start) // 1_000_000_000
    rows = [f"{base + h * 3600},10,11,9,10.5,{h + 1}" for h in hours]
    return load_bars(plain_file(tmp_path, rows, name=name))


def load_error(path: Path, product_id: str | None = None) -> DataError:
    with pytest.raises(DataError) as info:
        load_bars(path, product_id)
    err = info.value
    assert "\n" not in str(err)
    assert path.name in str(err)
    return err


# --- real recorded data ---------------------------------------------------------

REAL = {
    # product: (bars, first start, last start, zero-volume bars)
    "BTC-USD": (20_111, "2017-07-01T11:00", "2019-10-17T09:00", 28),
    "ETH-USD": (27_149, "2017-07-01T11:00", "2020-08-05T15:00", 15),
    "LTC-USD": (27_149, "2017-07-01T11:00", "2020-08-05T15:00", 14),
}


@pytest.fixture(scope="module")
def hourly(cdd_files: list[Path]) -> list[BarSeries]:
    """The three real hourly files, loaded once: BTC-USD, ETH-USD, LTC-USD."""
    return [load_bars(path) for path in cdd_files]


@pytest.mark.parametrize("index, product", list(enumerate(REAL)))
def test_real_hourly_files(hourly: list[BarSeries], index: int, product: str) -> None:
    series = hourly[index]
    count, first, last, zero = REAL[product]
    assert series.product_id == product
    assert series.layout == LAYOUT_CDD
    assert series.interval_ns == NS_PER_HOUR
    assert len(series.bars) == count
    assert series.bars[0].start_ns == ns(first)
    assert series.bars[-1].start_ns == ns(last)
    starts = [bar.start_ns for bar in series.bars]
    assert all(b - a == NS_PER_HOUR for a, b in pairwise(starts)), "sorted, unique, contiguous"
    assert all(bar.product_id == product and bar.interval_ns == NS_PER_HOUR for bar in series.bars)
    assert sum(1 for bar in series.bars if bar.volume == 0) == zero
    assert any(note.startswith(f"{zero} zero-volume bars") for note in series.notes)
    # Around 2017-11-11/12 the export is out of order and repeats five bars.
    assert any("out of time order" in note for note in series.notes)
    assert any(note.startswith("5 bars repeat") for note in series.notes)
    assert not any("missing bar" in note for note in series.notes)


def test_real_known_bars_are_exact(hourly: list[BarSeries]) -> None:
    btc = hourly[0].bars
    first, noon = btc[0], btc[1]
    assert first.start_ns == ns("2017-07-01T11:00")
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("2505.56"),
        Decimal("2513.38"),
        Decimal("2495.12"),
        Decimal("2509.17"),
        Decimal("114.6"),
    )
    # "2017-07-01 12-PM" is noon, right after the 11-AM bar.
    assert noon.start_ns == ns("2017-07-01T12:00")
    assert (noon.open, noon.high, noon.low, noon.close, noon.volume) == (
        Decimal("2509.17"),
        Decimal("2512.87"),
        Decimal("2484.99"),
        Decimal("2488.43"),
        Decimal("157.36"),
    )
    last = btc[-1]
    assert str(last.open) == "8051" and str(last.close) == "8035.88" and str(last.volume) == "61.25"
    assert all(type(bar.open) is Decimal and type(bar.volume) is Decimal for bar in btc[:100])


def test_real_repeated_bars_are_kept_in_time_order(hourly: list[BarSeries]) -> None:
    by_start = {bar.start_ns: bar for bar in hourly[0].bars}
    repeat, original = by_start[ns("2017-11-12T04:00")], by_start[ns("2017-11-11T23:00")]
    assert (repeat.open, repeat.close, repeat.volume) == (
        original.open,
        original.close,
        original.volume,
    )
    assert by_start[ns("2017-11-12T09:00")].open == Decimal("6201")


def test_real_daily_file(cdd_dir: Path) -> None:
    series = load_bars(cdd_dir / "Coinbase_BTCUSD_d.csv")
    assert series.product_id == "BTC-USD"
    assert series.interval_ns == NS_PER_DAY
    assert all(bar.interval_ns == NS_PER_DAY for bar in series.bars)
    assert len(series.bars) == 1_770
    assert series.bars[0].start_ns == ns("2014-12-01T00:00")
    assert series.bars[-1].start_ns == ns("2019-10-17T00:00")
    assert any(note.startswith("12 missing bars (gaps)") for note in series.notes)


def test_real_align_three_products(hourly: list[BarSeries]) -> None:
    aligned = align(hourly)
    assert aligned.products == ("BTC-USD", "ETH-USD", "LTC-USD")
    assert aligned.interval_ns == NS_PER_HOUR
    assert aligned.start_ns == ns("2017-07-01T11:00")
    assert aligned.end_ns == ns("2019-10-17T09:00")
    assert len(aligned.slices) == 20_111
    assert all(len(bars) == 3 for _, bars in aligned.slices)
    assert all(
        tuple(bar.product_id for bar in bars) == aligned.products
        and all(b.start_ns == t for b in bars)
        for t, bars in aligned.slices
    )
    assert not any("no bar at" in note for note in aligned.notes)


def test_real_files_load_quickly(cdd_files: list[Path]) -> None:
    # A loose guard against an accidental quadratic step; measured ~0.4-0.8 s.
    started = time.perf_counter()
    for path in cdd_files:
        load_bars(path)
    assert time.perf_counter() - started < 5.0


# --- CryptoDataDownload layout ----------------------------------------------------


def test_cdd_sorts_newest_first_rows_and_keeps_values_exact(tmp_path: Path) -> None:
    series = load_bars(cdd_file(tmp_path, CDD_ROWS))
    assert series.layout == LAYOUT_CDD
    assert series.product_id == "BTC-USD"
    assert series.interval_ns == NS_PER_HOUR
    assert [bar.start_ns for bar in series.bars] == [
        ns("2019-10-17T09:00"),
        ns("2019-10-17T10:00"),
        ns("2019-10-17T11:00"),
    ]
    middle = series.bars[1]
    assert str(middle.open) == "8050.10"  # as written, trailing zero kept
    assert middle.volume == Decimal("61.25")  # base units, not the USD column
    assert series.notes == ("1 zero-volume bar (no trades), first at 2019-10-17T09:00:00Z",)


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


def test_cdd_daily_dates_and_gaps(tmp_path: Path) -> None:
    rows = [f"2019-10-{d:02d},BTCUSD,10,11,9,10,{d},10" for d in (17, 16, 15, 12, 11, 9)]
    series = load_bars(cdd_file(tmp_path, rows, name="Coinbase_BTCUSD_d.csv"))
    assert series.interval_ns == NS_PER_DAY
    assert series.notes == (
        "3 missing bars (gaps) in 2 places for the 1d interval; "
        "first gap: 1 bar at 2019-10-10T00:00:00Z",
    )
    rows = [f"2019-10-{d:02d},BTCUSD,10,11,9,10,{d},10" for d in (17, 16, 13, 12)]
    series = load_bars(cdd_file(tmp_path, rows, name="Coinbase_BTCUSD_d.csv"))
    assert series.notes == (
        "2 missing bars (gaps) in 1 place for the 1d interval; "
        "first gap: 2 bars from 2019-10-14T00:00:00Z to 2019-10-15T00:00:00Z",
    )


def test_repeated_bars_are_noted(tmp_path: Path) -> None:
    rows = [
        f"2019-10-17 {h:02d}-AM,BTCUSD,10,11,9,10,{v},10"
        for h, v in ((11, 2), (10, 1), (9, 2), (8, 1))
    ]
    rows.append("2019-10-17 07-AM,BTCUSD,10,11,9,10,0,0")
    rows.append("2019-10-17 06-AM,BTCUSD,10,11,9,10,0,0")  # flat, no trades: not a repeat
    series = load_bars(cdd_file(tmp_path, rows))
    assert series.notes == (
        "2 zero-volume bars (no trades), first at 2019-10-17T06:00:00Z",
        "2 bars repeat the prices and volume of an earlier bar "
        "(first: 2019-10-17T10:00:00Z repeats 2019-10-17T08:00:00Z)",
    )


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


def test_cdd_without_attribution_line_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", [BTC_HEADER, *CDD_ROWS])
    assert len(load_bars(path).bars) == 3


def test_cdd_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        ("\ufeff" + "\r\n".join([ATTRIBUTION, BTC_HEADER, *CDD_ROWS]) + "\r\n").encode()
    )
    assert len(load_bars(path).bars) == 3


def test_out_of_order_rows_are_sorted_and_noted(tmp_path: Path) -> None:
    rows = [
        CDD_ROWS[0],
        "2019-10-17 07-AM,BTCUSD,10,11,9,10,1,10",
        *CDD_ROWS[1:],
        "2019-10-17 08-AM,BTCUSD,10,11,9,10,1,10",
    ]
    series = load_bars(cdd_file(tmp_path, rows))
    assert [bar.start_ns for bar in series.bars] == [
        ns(f"2019-10-17T{h:02d}:00") for h in range(7, 12)
    ]
    # 11, 07, 10, 09, 08: only 07 -> 10 steps forward in this newest-first file.
    assert series.notes[0] == "1 row out of time order, line 5 (sorted by time)"
    # Oldest first (plain), two rows swapped twice.
    times = ["09", "11", "10", "12", "14", "13"]
    plain = [f"2019-10-17T{t}:00:00Z,1,1,1,1,{t}" for t in times]
    series = load_bars(plain_file(tmp_path, plain))
    assert len(series.bars) == 6
    assert series.notes == ("2 rows out of time order, lines 4-7 (sorted by time)",)


def test_exact_duplicate_rows_are_dropped(tmp_path: Path) -> None:
    rows = [CDD_ROWS[0], CDD_ROWS[1], CDD_ROWS[1], CDD_ROWS[2]]
    series = load_bars(cdd_file(tmp_path, rows))
    assert len(series.bars) == 3
    assert "1 exact duplicate row dropped (first at line 5, same as line 4)" in series.notes


def test_same_values_written_differently_are_a_duplicate(tmp_path: Path) -> None:
    rows = [*CDD_ROWS, CDD_ROWS[2].replace(",8040,", ",8040.00,")]
    series = load_bars(cdd_file(tmp_path, rows))
    assert len(series.bars) == 3
    assert str(series.bars[0].open) == "8040"  # the first one read is kept


def test_product_argument_must_match_cdd_symbol(tmp_path: Path) -> None:
    err = load_error(cdd_file(tmp_path, CDD_ROWS), "ETH-USD")
    assert err.line == 3
    assert "BTC-USD, not the requested ETH-USD" in str(err)


def test_bad_product_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BTC-USD"):
        load_bars(cdd_file(tmp_path, CDD_ROWS), "BTCUSD")


# --- row errors: one line, FILE:LINE: problem ------------------------------------------

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


def test_different_bars_at_one_time_is_an_error(tmp_path: Path) -> None:
    other = CDD_ROWS[1].replace(",61.25,", ",61.26,")
    err = load_error(cdd_file(tmp_path, [*CDD_ROWS, other]))
    assert err.line == 6
    assert str(err).endswith("two different bars at 2019-10-17T10:00:00Z: this one and line 4")


def test_bar_off_the_grid_is_an_error(tmp_path: Path) -> None:
    times = ["09:00", "10:00", "11:00", "11:30", "12:30"]
    rows = [f"2019-10-17T{t}:00Z,1,1,1,1,{i}" for i, t in enumerate(times)]
    err = load_error(plain_file(tmp_path, rows))
    assert err.line == 5
    assert str(err).endswith(
        "bar at 2019-10-17T11:30:00Z starts 30m after the one at 2019-10-17T11:00:00Z: "
        "not a whole number of 1h bars"
    )


@pytest.mark.parametrize(
    "rows", [[], [CDD_ROWS[0]], [CDD_ROWS[0], CDD_ROWS[0]]], ids=["0", "1", "1 twice"]
)
def test_fewer_than_two_bars(tmp_path: Path, rows: list[str]) -> None:
    path = cdd_file(tmp_path, rows)
    err = load_error(path)
    assert err.line is None
    assert str(err).startswith(f"{path}: ")
    assert "need at least 2" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "BTC-USD_1h.csv")
    assert err.line is None and "cannot read the file" in str(err)


# --- unknown layouts -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"time,price\n2019-10-17T09:00:00Z,8000\n",
        b"Timestamps are UTC\ndate,open,high,low,close\n2019-10-17,1,1,1,1\n",
        b"\x00\x89PNG\r\n\x1a\n\xff\xfe\x00junk",
        b"timestamp,open,high,low,close,volume,trades\n",
    ],
    ids=["empty", "unknown header", "cdd without symbol", "binary", "plain with extra column"],
)
def test_unknown_layout(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "BTC-USD_1h.csv"
    path.write_bytes(content)
    err = load_error(path)
    assert err.line is None
    assert str(err).startswith(f"{path}: unknown layout: expected ")
    assert "(got " in str(err)


def test_data_error_pickles() -> None:
    err = DataError(Path("a/b.csv"), 7, "bad")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) == "a/b.csv:7: bad"
    assert str(DataError(Path("a/b.csv"), None, "bad\nthing")) == "a/b.csv: bad\\nthing"


# --- plain layout ------------------------------------------------------------------------


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


def test_plain_product_from_argument(tmp_path: Path) -> None:
    rows = ["2019-10-17T09:00:00Z,1,1,1,1,1", "2019-10-17T10:00:00Z,1,1,1,1,1"]
    path = plain_file(tmp_path, rows, name="bars.csv")
    assert load_bars(path, "LTC-USD").product_id == "LTC-USD"
    # The argument wins over the file name.
    assert load_bars(plain_file(tmp_path, rows), "SOL-USD").product_id == "SOL-USD"


def test_plain_product_unknown(tmp_path: Path) -> None:
    rows = ["2019-10-17T09:00:00Z,1,1,1,1,1", "2019-10-17T10:00:00Z,1,1,1,1,1"]
    path = plain_file(tmp_path, rows, name="bars.csv")
    err = load_error(path)
    assert str(err) == (
        f"{path}: cannot tell the product: "
        "name the file after it (BTC-USD_1h.csv) or pass PRODUCT=FILE"
    )


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


# --- align ------------------------------------------------------------------------------


def test_align_different_ranges_with_a_hole(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2, 3, 4, 5], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:00", [2, 3, 5, 6, 7, 8], "BBB-USD.csv", tmp_path)
    aligned = align([b, a])
    assert aligned.products == ("BBB-USD", "AAA-USD")
    assert aligned.start_ns == ns("2020-01-01T02:00")
    assert aligned.end_ns == ns("2020-01-01T05:00")
    assert [t for t, _ in aligned.slices] == [ns(f"2020-01-01T0{h}:00") for h in (2, 3, 4, 5)]
    assert [tuple(bar.product_id for bar in bars) for _, bars in aligned.slices] == [
        ("BBB-USD", "AAA-USD"),
        ("BBB-USD", "AAA-USD"),
        ("AAA-USD",),
        ("BBB-USD", "AAA-USD"),
    ]
    assert aligned.notes == (
        "common window 2020-01-01T02:00:00Z to 2020-01-01T05:00:00Z: 4 slices of 1h bars",
        "BBB-USD: 3 bars outside the window left out",
        "AAA-USD: 2 bars outside the window left out",
        "BBB-USD: no bar at 1 time of the window where another product has one "
        "(first 2020-01-01T04:00:00Z)",
    )


def test_align_one_series_gives_all_bars(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 3], "AAA-USD.csv", tmp_path)
    aligned = align([a])
    assert [bars for _, bars in aligned.slices] == [(bar,) for bar in a.bars]
    assert (aligned.start_ns, aligned.end_ns) == (a.bars[0].start_ns, a.bars[-1].start_ns)
    assert "1 bar time in the window with no bar for any product" in aligned.notes


def test_align_refuses_different_intervals(tmp_path: Path) -> None:
    hourly = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    daily = hourly_plain("2020-01-01T00:00", [0, 24, 48], "BBB-USD.csv", tmp_path)
    with pytest.raises(ValueError, match="intervals differ") as info:
        align([hourly, daily])
    assert "AAA-USD.csv" in str(info.value) and "BBB-USD.csv" in str(info.value)


def test_align_refuses_grids_that_do_not_line_up(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:30", [0, 1, 2], "BBB-USD.csv", tmp_path)
    with pytest.raises(ValueError, match="different offsets"):
        align([a, b])


def test_align_refuses_duplicate_products(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD_copy.csv", tmp_path)
    with pytest.raises(ValueError, match="AAA-USD given twice"):
        align([a, b])


def test_align_refuses_no_overlap(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:00", [5, 6, 7], "BBB-USD.csv", tmp_path)
    with pytest.raises(ValueError, match="no common time window: AAA-USD 2020-01-01T00:00:00Z to"):
        align([a, b])


def test_align_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        align([])
