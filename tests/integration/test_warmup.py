"""A live start warms the default strategy from history: ``run`` (a real
process) with the default spans on one-minute bars, Coinbase's public candles
served on 127.0.0.1 from the real Lean minute bars (shifted to end now, paged,
rate-limited with 429s), the market data from the replay server. Online it is
warm within 30 s and decides on the first live bar; offline it warms from the
candle cache the online run left; a cache too old is refused in one line."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from cryptoj_actors.admin.client import call, running_endpoint
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.state.candles import CandleCache
from cryptoj_actors.state.layout import StateDir
from tests.conftest import REPO, Lines, load_script, wait_until

exchange_server = load_script("exchange_server")
replay_server = load_script("replay_server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp_path: Path, rest_url: str) -> Path:
    path = tmp_path / "warm.toml"
    path.write_text('[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbatch_interval_s = 0.1\n'
                    f'bar_interval_s = 60\n[coinbase]\nrest_url = "{rest_url}"\n'
                    "retry_max_s = 1.0\n")
    return path


@pytest.fixture
def market(advanced_ws_capture) -> Iterator[int]:
    """The replay server at ten times the recorded pace, so that the exchange's
    clock (the capture's times, moved to now) closes a minute bar every 6 s."""
    server = replay_server.ReplayServer(replay_server.Capture.read(advanced_ws_capture),
                                        speed=10, loop=True)
    with replay_server.Running(server):
        yield server.port


@pytest.fixture
def venue(minute_trade_files) -> Iterator[object]:
    name, _, public = exchange_server.make_key()
    server = exchange_server.ExchangeServer(
        exchange_server.Venue(balances={}, prices={}), name, public,
        candles=exchange_server.recorded_candles(minute_trade_files),
        candles_end_now=True, public_rate_per_s=2).start()
    yield server
    server.stop()


@contextmanager
def running(tmp_path: Path, conf: Path, feed_port: int) -> Iterator[tuple[subprocess.Popen,
                                                                           Lines]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cryptoj_actors", "run", "--config", str(conf), "--state-dir",
         str(tmp_path / "var"), "--feed-url", f"ws://127.0.0.1:{feed_port}", "--no-ui"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = Lines(proc.stderr)
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
        wait_until(lambda: lines.ended, timeout=10)


def status(tmp_path: Path) -> dict | None:
    endpoint = running_endpoint(StateDir(tmp_path / "var"), "admin.token")
    return None if endpoint is None else call(endpoint, "GET", "/status")


def warm_and_deciding(tmp_path: Path, lines: Lines) -> dict:
    """Wait for a ready warm-up (30 s from the start) and the first decision."""
    try:
        wait_until(lambda: (doc := status(tmp_path)) is not None
                   and (doc["warmup"] or {}).get("ready"), timeout=30)
        wait_until(lambda: status(tmp_path)["strategy"]["decisions"] > 0, timeout=30)
    except AssertionError:
        raise AssertionError("\n".join(lines.lines[-30:])) from None
    return status(tmp_path)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_online_then_offline_the_default_strategy_is_warm_and_decides_on_the_first_live_bar(
        tmp_path, market, venue):
    with running(tmp_path, config(tmp_path, venue.url), market) as (proc, lines):
        doc = warm_and_deciding(tmp_path, lines)
    assert proc.returncode == 0, "\n".join(lines.lines[-30:])
    warm = doc["warmup"]
    assert (warm["needed_bars"], warm["have_bars"], warm["source"]) == (672, 672, "rest")
    # The first decision is on the first live bar: the one starting where the
    # history ends (a bar late at most, should the minute turn during the start).
    assert ts(doc["strategy"]["last_decision"]) <= ts(warm["history_end"]) + 3 * 60
    # Paged (300 candles a request) within the public limit: throttled, retried.
    candle_requests = [s for s in venue.seen if s.path.endswith("/candles")]
    assert len(candle_requests) >= 6 and venue.throttled > 0
    assert "warm-up ready: 672 bars (rest)" in "\n".join(lines.lines)

    # Five minutes later, offline: nothing answers at the REST URL, and the
    # cache the run left serves (moved five minutes back, as if they had passed).
    db = sqlite3.connect(StateDir(tmp_path / "var").candles)
    with db:
        db.execute("UPDATE coverage SET first_s = first_s - 300, end_s = end_s - 300")
        db.execute("UPDATE candles SET start_s = start_s - 300")
    db.close()
    offline = config(tmp_path, f"http://127.0.0.1:{free_port()}")
    with running(tmp_path, offline, market) as (proc, lines):
        doc = warm_and_deciding(tmp_path, lines)
    warm = doc["warmup"]
    assert (warm["needed_bars"], warm["have_bars"], warm["source"]) == (672, 672, "cache")
    assert "unavailable" in warm["problem"] and 300 <= warm["age_s"] < 600
    assert proc.returncode == 0


def test_a_cache_too_old_is_refused_in_one_line(tmp_path, market, minute_trade_files):
    # The cache holds real bars at their own times: 2018, far past the age limit.
    cache = CandleCache(StateDir(tmp_path / "var").candles)
    for path in minute_trade_files:
        series = load_bars(path)
        first, last = series.bars[0].start_ns, series.bars[-1].end_ns
        cache.put(series.product_id, 60, first // NS_PER_SECOND, last // NS_PER_SECOND,
                  series.bars, first)
    cache.close()
    shutil.copy(StateDir(tmp_path / "var").candles, tmp_path / "before.sqlite3")
    offline = config(tmp_path, f"http://127.0.0.1:{free_port()}")
    with running(tmp_path, offline, market) as (proc, lines):
        wait_until(lambda: (doc := status(tmp_path)) is not None and doc["warmup"], timeout=30)
        doc = status(tmp_path)
    warm = doc["warmup"]
    assert not warm["ready"] and warm["have_bars"] == 0 and warm["source"] == "cache"
    refused = [line for line in lines.lines if "warm-up NOT ready" in line]
    assert len(refused) == 1 and "more than [feed] warmup_max_age_s" in refused[0]
    assert "2018-04-0" in refused[0] and "refused" in refused[0]
    assert proc.returncode == 0


def test_done_when_warm_within_30_s_and_a_risk_fault_healed_in_the_running_process(
        tmp_path, market, venue):
    """The launch command with the default strategy, the candles and the
    venue on 127.0.0.1 and a fault in risk at batch 20: warm within 30 s of
    start, the pipeline restarted in the running process, and the restarted
    strategy warmed again (a restart fetches only what is new)."""
    conf = config(tmp_path, venue.url)
    conf.write_text(conf.read_text() + '[faults]\nrole = "risk"\nat_batch = 20\ntimes = 1\n')
    with running(tmp_path, conf, market) as (proc, lines):
        try:
            wait_until(lambda: (doc := status(tmp_path)) is not None
                       and (doc["warmup"] or {}).get("ready"), timeout=30)
            wait_until(lambda: status(tmp_path)["actors"].get("risk", {}).get("generation")
                       == 1, timeout=30)
            wait_until(lambda: sum("strategy: warmed with 672 of 672 bars" in line
                                   for line in lines.lines) == 2, timeout=30)
        except AssertionError:
            raise AssertionError("\n".join(lines.lines[-30:])) from None
        doc = status(tmp_path)
        assert proc.poll() is None
    assert doc["trading_state"]["level"] != "HALTED" and doc["warmup"]["ready"]
    assert all(actor["alive"] for actor in doc["actors"].values())
    assert proc.returncode == 0
