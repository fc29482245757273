"""One-minute replays of real data, with the gaps real minute data has."""

from __future__ import annotations

import json
import shutil

import pytest

from cryptoj_actors.marketdata.bars.align import align
from cryptoj_actors.marketdata.bars.layouts import LAYOUT_LEAN_MINUTE, LAYOUT_UTC_UNIX
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.errors import DataError
from tests.integration.test_cli import cli, real_slice  # noqa: F401


def test_the_minute_files_are_read_with_their_gaps(minute_trade_files):
    btc = load_bars(minute_trade_files[0])
    assert btc.product_id == "BTC-USD" and btc.layout == LAYOUT_UTC_UNIX
    assert btc.interval_ns == 60_000_000_000 and len(btc.bars) == 3887
    assert any("missing bars (gaps)" in note for note in btc.notes)


def test_a_lean_raw_file_is_read_with_its_day_and_product_from_the_name(lean_raw_folder,
                                                                        minute_trade_files):
    day = load_bars(lean_raw_folder / "20180405_btcusd_minute_trade.csv")
    assert day.product_id == "BTC-USD" and day.layout == LAYOUT_LEAN_MINUTE
    assert len(day.bars) == 1440 and day.interval_ns == 60_000_000_000
    # The convenience file is these days concatenated: the same bars, to the digit.
    convenience = load_bars(minute_trade_files[0])
    same_day = [b for b in convenience.bars if b.start_ns // 86_400_000_000_000 ==
                day.bars[0].start_ns // 86_400_000_000_000]
    assert [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in day.bars] == [
        (b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in same_day]


def test_one_products_daily_files_join_into_the_convenience_series(lean_raw_folder,
                                                                   minute_trade_files):
    days = [load_bars(p) for p in sorted(lean_raw_folder.glob("*_btcusd_minute_trade.csv"),
                                         reverse=True)]  # any order
    joined = align(days)
    convenience = align([load_bars(minute_trade_files[0])])
    assert joined.slices == convenience.slices
    assert any("3 files joined" in note for note in joined.notes)


def test_overlapping_files_of_one_product_are_refused(lean_raw_folder, tmp_path):
    day = lean_raw_folder / "20180405_btcusd_minute_trade.csv"
    copy = tmp_path / "BTC-USD_copy.csv"
    copy.write_text("timestamp,open,high,low,close,volume\n"
                    "1522929600,6800,6800,6800,6800,1\n1522929660,6800,6800,6800,6800,1\n")
    with pytest.raises(ValueError, match="overlap"):
        align([load_bars(day), load_bars(copy)])


@pytest.mark.parametrize("name", ["20180405_btcusd_minute_quote.csv", "BTC-USD_1m_quote.csv"])
def test_bid_ask_bars_are_refused_in_one_line_that_says_so(lean_raw_folder, name):
    path = lean_raw_folder / name if "minute" in name else lean_raw_folder.parent / name
    with pytest.raises(DataError, match=r"bid/ask .*trade bars"):
        load_bars(path)


def test_a_lean_name_with_a_bad_date_or_another_product_is_refused(lean_raw_folder, tmp_path):
    bad_date = tmp_path / "20181345_btcusd_minute_trade.csv"
    shutil.copy(lean_raw_folder / "20180405_btcusd_minute_trade.csv", bad_date)
    with pytest.raises(DataError, match="the date '20181345' in the file name"):
        load_bars(bad_date)
    with pytest.raises(DataError, match="the file name says BTC-USD, not the requested ETH-USD"):
        load_bars(lean_raw_folder / "20180405_btcusd_minute_trade.csv", "ETH-USD")


def test_a_replay_of_the_lean_raw_files_equals_one_of_the_convenience_files(
        lean_raw_folder, minute_trade_files, tmp_path):
    def run(name: str, files: list) -> tuple[str, str, dict]:
        state = tmp_path / name
        result = cli("replay", "--state-dir", str(state), "--no-ui", *map(str, files))
        assert result.returncode == 0, result.stderr
        (folder,) = (state / "runs").iterdir()
        return ((folder / "trades.csv").read_text(), (folder / "equity.csv").read_text(),
                json.loads((folder / "report.json").read_text()))

    raw = sorted(lean_raw_folder.glob("*_trade.csv"))
    assert len(raw) == 5
    trades, equity, report = run("raw", raw)
    assert (trades, equity) == run("convenience", minute_trade_files)[:2]
    assert trades.count("\n") > 2 and all(report["cross_checks"].values())
    assert {f["layout"] for f in report["run"]["inputs"]} == {LAYOUT_LEAN_MINUTE}
    # 2,449 batches, of which one follows the ETH hole of 2018-04-04: 2,448
    # returns of one minute each, while the calendar runs 2 days.
    performance = report["performance"]
    assert performance["years"] == pytest.approx(2448 * 60 / (365.25 * 86400), rel=1e-9)
    assert performance["calendar_years"] == pytest.approx((2 * 86400 - 60) / (365.25 * 86400),
                                                          rel=1e-9)


def test_a_one_minute_replay_of_two_products_holds_every_cross_check(minute_trade_files,
                                                                      tmp_path):
    result = cli("replay", "--state-dir", str(tmp_path), "--no-ui",
                 *map(str, minute_trade_files))
    assert result.returncode == 0, result.stderr
    assert "intervals of one minute" in result.stdout
    (run,) = (tmp_path / "runs").iterdir()
    report = json.loads((run / "report.json").read_text())
    assert report["run"]["bar_interval_s"] == 60 and report["run"]["products"] == [
        "BTC-USD", "ETH-USD"]
    assert report["cross_checks"] and all(report["cross_checks"].values())
    assert "431 bar times in the window with no bar for any product" in result.stderr


def test_spans_as_durations_replay_the_same_as_spans_in_bars(real_slice, tmp_path):  # noqa: F811
    def trades(config: str, name: str) -> str:
        path = tmp_path / f"{name}.toml"
        path.write_text(config)
        state = tmp_path / name
        result = cli("replay", "--config", str(path), "--state-dir", str(state), "--no-ui",
                     *map(str, real_slice))
        assert result.returncode == 0, result.stderr
        (run,) = (state / "runs").iterdir()
        return (run / "trades.csv").read_text()

    in_bars = trades("[strategy.params]\nfast_span = 24\nslow_span = 96\nvol_span = 48\n",
                     "bars")
    in_time = trades('[strategy.params]\nfast_span = "1d"\nslow_span = "4d"\n'
                     'vol_span = "2d"\n', "durations")
    assert in_time == in_bars and in_bars.count("\n") > 2
