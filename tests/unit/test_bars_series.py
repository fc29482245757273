"""One product's bars and the notes on their defects (cryptoj_actors.marketdata.bars.series)."""

from __future__ import annotations

import pickle
import time
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from cryptoj_actors.clock import NS_PER_DAY, NS_PER_HOUR
from cryptoj_actors.marketdata.bars.layouts import LAYOUT_CDD
from cryptoj_actors.marketdata.bars.series import BarSeries, load_bars
from cryptoj_actors.marketdata.errors import DataError
from tests.unit.bar_files import CDD_ROWS, cdd_file, load_error, ns, plain_file

# --- real recorded data -------------------------------------------------------------------

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


def test_real_files_load_quickly(cdd_files: list[Path]) -> None:
    # A loose guard against an accidental quadratic step; measured ~0.4-0.8 s.
    started = time.perf_counter()
    for path in cdd_files:
        load_bars(path)
    assert time.perf_counter() - started < 5.0


# --- sorting, duplicates, gaps and repeats ------------------------------------------------


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


# --- the file and its product -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    err = load_error(tmp_path / "BTC-USD_1h.csv")
    assert err.line is None and "cannot read the file" in str(err)


def test_bad_product_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BTC-USD"):
        load_bars(cdd_file(tmp_path, CDD_ROWS), "BTCUSD")


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


def test_data_error_pickles() -> None:
    err = DataError(Path("a/b.csv"), 7, "bad")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) == "a/b.csv:7: bad"
    assert str(DataError(Path("a/b.csv"), None, "bad\nthing")) == "a/b.csv: bad\\nthing"
