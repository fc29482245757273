"""One-minute replays of real data, with the gaps real minute data has."""

from __future__ import annotations

import json

from cryptoj_actors.marketdata.bars.layouts import LAYOUT_UTC_UNIX
from cryptoj_actors.marketdata.bars.series import load_bars
from tests.integration.test_cli import cli, real_slice  # noqa: F401


def test_the_minute_files_are_read_with_their_gaps(minute_trade_files):
    btc = load_bars(minute_trade_files[0])
    assert btc.product_id == "BTC-USD" and btc.layout == LAYOUT_UTC_UNIX
    assert btc.interval_ns == 60_000_000_000 and len(btc.bars) == 3887
    assert any("missing bars (gaps)" in note for note in btc.notes)


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
