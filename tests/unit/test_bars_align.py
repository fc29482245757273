"""Several products on one time grid (cryptoj_actors.marketdata.bars.align)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptoj_actors.clock import NS_PER_HOUR
from cryptoj_actors.marketdata.bars.align import align
from cryptoj_actors.marketdata.bars.series import BarSeries, load_bars
from tests.unit.bar_files import ns, plain_file


def hourly_plain(start: str, hours: list[int], name: str, tmp_path: Path) -> BarSeries:
    """A plain hourly series with bars at ``start`` + each of ``hours``."""
    base = ns(start) // 1_000_000_000
    rows = [f"{base + h * 3600},10,11,9,10.5,{h + 1}" for h in hours]
    return load_bars(plain_file(tmp_path, rows, name=name))


def test_real_align_three_products(cdd_files: list[Path]) -> None:
    aligned = align([load_bars(path) for path in cdd_files])
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


def test_align_refuses_one_product_twice_over_the_same_time(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD_copy.csv", tmp_path)
    with pytest.raises(ValueError, match="overlap: both have AAA-USD bars"):
        align([a, b])


def test_align_refuses_no_overlap(tmp_path: Path) -> None:
    a = hourly_plain("2020-01-01T00:00", [0, 1, 2], "AAA-USD.csv", tmp_path)
    b = hourly_plain("2020-01-01T00:00", [5, 6, 7], "BBB-USD.csv", tmp_path)
    with pytest.raises(ValueError, match="no common time window: AAA-USD 2020-01-01T00:00:00Z to"):
        align([a, b])


def test_align_refuses_nothing() -> None:
    with pytest.raises(ValueError, match="at least one"):
        align([])
