"""``download``, ``record`` and ``doctor`` against Coinbase-protocol servers on
127.0.0.1 fed with real recorded data: candles from the recorded hourly bars,
frames from the recorded websocket capture, the venue's recorded REST replies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.adapters.coinbase.capture import CaptureReplaySource, read_capture
from cryptoj_actors.adapters.coinbase.recorder import record
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.marketdata.bars.series import load_bars
from tests.conftest import DATA_DIR, REPO, load_script
from tests.integration.test_live_feed import PRODUCTS, capture, direct_books  # noqa: F401

server_script = load_script("exchange_server")
replay_server = load_script("replay_server")
Fault = server_script.Fault
RECORDED_REST = DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm"


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cryptoj_actors", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf.toml"
    path.write_text(text)
    return path


@pytest.fixture
def venue_server():
    name, pem, public = server_script.make_key()
    venue = server_script.Venue(balances={"USD": Decimal("0")},
                                prices={"BTC-USD": (Decimal("83306.03"), Decimal("83306.04"))})
    server = server_script.ExchangeServer(venue, name, public).start()
    server.key = (name, pem)
    yield server
    server.stop()


# --- download ---------------------------------------------------------------------------


def recorded(series) -> list[dict[str, str]]:
    return [{"start": str(b.start_ns // 1_000_000_000), "low": str(b.low), "high": str(b.high),
             "open": str(b.open), "close": str(b.close), "volume": str(b.volume)}
            for b in series.bars]


def test_download_pages_real_candles_into_a_csv_that_replay_reads(cdd_files, venue_server,
                                                                  tmp_path):
    series = load_bars(cdd_files[0])  # BTC-USD, real hourly bars
    venue_server.candles["BTC-USD"] = recorded(series)
    venue_server.add_fault(Fault("GET", "/market/products/BTC-USD/candles", "429"))
    conf = write_config(tmp_path, f'[coinbase]\nrest_url = "{venue_server.url}"\n'
                                  'retry_initial_s = 0.01\n')
    out = tmp_path / "BTC-USD.csv"
    result = cli("download", "--config", str(conf), "--state-dir", str(tmp_path / "var"),
                 "--product", "BTC-USD", "--granularity", "ONE_HOUR", "--start", "2018-01-01",
                 "--end", "2018-02-01", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert ("BTC-USD: 744 bars (2018-01-01T00:00:00Z to 2018-01-31T23:00:00Z) in the candle "
            f"cache, 744 fetched in 3 requests; wrote {out}") in result.stdout
    candles = venue_server.requests("GET", "/market/products/BTC-USD/candles")
    assert len(candles) == 4  # three windows of at most 300 hours, one refused with 429
    assert all(not s.claims for s in candles)  # public: no JWT

    downloaded = load_bars(out, "BTC-USD")
    assert downloaded.layout == "plain" and len(downloaded.bars) == 744
    start = downloaded.bars[0].start_ns
    original = [b for b in series.bars if start <= b.start_ns][:744]
    assert [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in downloaded.bars] == \
        [(b.start_ns, b.open, b.high, b.low, b.close, b.volume) for b in original]
    assert not (tmp_path / "BTC-USD.csv.part").exists()


def test_download_is_incremental_over_several_products_and_replay_reads_the_cache(
        cdd_files, venue_server, tmp_path):
    for path in cdd_files[:2]:  # BTC-USD and ETH-USD, real hourly bars
        series = load_bars(path)
        venue_server.candles[series.product_id] = recorded(series)
    conf = write_config(tmp_path, f'[coinbase]\nrest_url = "{venue_server.url}"\n')
    state = str(tmp_path / "var")

    def download(start: str, end: str, *more: str) -> subprocess.CompletedProcess:
        result = cli("download", "--config", str(conf), "--state-dir", state, "--products",
                     "BTC-USD,ETH-USD", "--start", start, "--end", end, *more)
        assert result.returncode == 0, result.stderr
        return result

    download("2018-01-01", "2018-01-15")
    first = len(venue_server.requests("GET", "/market/products/BTC-USD/candles"))
    # A month: only the 17 days the cache lacks are fetched, for each product.
    result = download("2018-01-01", "2018-02-01", "--out", str(tmp_path / "csv"))
    assert "BTC-USD: 744 bars" in result.stdout and "ETH-USD: 744 bars" in result.stdout
    assert "408 fetched in 2 requests" in result.stdout  # 17 days of hours, not 31
    assert len(venue_server.requests("GET", "/market/products/BTC-USD/candles")) == first + 2
    assert {p.name for p in (tmp_path / "csv").iterdir()} == {"BTC-USD_1h.csv",
                                                              "ETH-USD_1h.csv"}

    # The same bars replayed from the cache and from the CSVs: the same trades.
    params = write_config(tmp_path, f'[coinbase]\nrest_url = "{venue_server.url}"\n'
                                    "[strategy.params]\nfast_span = 24\nslow_span = 96\n"
                                    "vol_span = 48\n")

    def replay(*args: str, state_dir: Path) -> str:
        result = cli("replay", "--config", str(params), "--state-dir", str(state_dir),
                     "--no-ui", *args)
        assert result.returncode == 0, result.stderr
        (run,) = (state_dir / "runs").iterdir()
        return (run / "trades.csv").read_text()

    cached = replay("--products", "BTC-USD,ETH-USD", "--start", "2018-01-01", "--end",
                    "2018-02-01", state_dir=tmp_path / "var")
    files = replay(*(str(p) for p in sorted((tmp_path / "csv").iterdir())),
                   state_dir=tmp_path / "var2")
    assert cached == files and cached.count("\n") > 1


def test_replay_from_the_cache_says_what_it_lacks(tmp_path):
    result = cli("replay", "--state-dir", str(tmp_path), "--products", "BTC-USD", "--start",
                 "2018-01-01", "--end", "2018-02-01", "--no-ui")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the candle cache lacks BTC-USD bars of 1h from 2018-01-01T00:00:00Z to "
        "2018-02-01T00:00:00Z: fetch them first with download --products BTC-USD "
        "--granularity ONE_HOUR --start 2018-01-01 --end 2018-02-01")


def test_download_says_what_went_wrong_in_one_line(venue_server, tmp_path):
    venue_server.add_fault(Fault("GET", "/market/products/BTC-USD/candles", "500", times=99))
    conf = write_config(tmp_path, f'[coinbase]\nrest_url = "{venue_server.url}"\n'
                                  'retry_initial_s = 0.01\nmax_retries = 1\n')
    out = tmp_path / "BTC-USD.csv"
    result = cli("download", "--config", str(conf), "--state-dir", str(tmp_path / "var"),
                 "--product", "BTC-USD", "--start", "2018-01-01", "--end", "2018-01-02",
                 "--out", str(out))
    assert result.returncode == 2 and not out.exists()
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: download BTC-USD: GET /api/v3/brokerage/market/products/BTC-USD/candles: "
        "HTTP 500 INTERNAL")


# --- record -----------------------------------------------------------------------------


def test_record_writes_frames_that_replay_and_the_book_code_read_back(capture, tmp_path):  # noqa: F811
    out = tmp_path / "capture.jsonl"
    server = replay_server.ReplayServer(capture, keep_times=True)
    with replay_server.Running(server):
        result = cli("record", "--products", ",".join(PRODUCTS), "--out", str(out),
                     "--duration", "3", "--feed-url", f"ws://127.0.0.1:{server.port}",
                     "--state-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    frames, products = read_capture(out)
    assert products == PRODUCTS
    served = [f for _, f in capture.frames if f["channel"] in ("l2_data", "market_trades",
                                                               "heartbeats")]
    recorded = [json.loads(f.text) for f in frames]
    recorded = [f for f in recorded if f["channel"] != "subscriptions"]
    assert recorded == served  # every frame, as sent (the server numbers from 0 as recorded)
    assert "input defects: none" in result.stderr

    source = CaptureReplaySource(frames, products, FeedConfig(products=PRODUCTS))
    while source.next_batch(1, 0) is not None:
        pass
    expected = direct_books(capture)
    for product in PRODUCTS:
        book = source.market.books[product]
        assert book.valid and dict(book.bids) == dict(expected[product].bids)
        assert dict(book.asks) == dict(expected[product].asks)

    replayed = cli("replay", str(out), "--no-ui", "--state-dir", str(tmp_path / "state"))
    assert replayed.returncode == 0, replayed.stderr
    assert "ended: finished" in replayed.stdout


def test_a_recording_that_went_through_a_reconnect_replays_each_connection_apart(
        advanced_ws_capture, tmp_path):
    lines = advanced_ws_capture.read_text().splitlines()
    last = int(lines[-1].split("\t", 1)[0])
    first = int(lines[0].split("\t", 1)[0])
    again = [f"{int(stamp) - first + last + 10**9}\t{frame}"  # a second connection, 1 s later
             for stamp, frame in (line.split("\t", 1) for line in lines)]
    out = tmp_path / "reconnected.jsonl"
    out.write_text("\n".join(lines + again) + "\n")
    frames, products = read_capture(out)
    source = CaptureReplaySource(frames, products, FeedConfig(products=PRODUCTS))
    while source.next_batch(1, 0) is not None:
        pass
    market = source.market
    assert market.resets == 1 and market.counts["sequence_repeat"] == 0
    assert market.counts["gap"] == 0
    expected = direct_books(replay_server.Capture.read(advanced_ws_capture))
    for product in PRODUCTS:
        book = market.books[product]
        assert book.valid and dict(book.bids) == dict(expected[product].bids)


def test_record_reconnects_when_the_data_goes_stale(capture, tmp_path):  # noqa: F811
    server = replay_server.ReplayServer(capture, faults=replay_server.Faults(stall_after=50))
    config = FeedConfig(products=PRODUCTS, stale_after_s=1.0,
                        reconnect_initial_s=0.05, reconnect_max_s=0.1)
    with replay_server.Running(server):
        stats = record(replace(config, url=f"ws://127.0.0.1:{server.port}"),
                       tmp_path / "stalled.jsonl", duration_s=4, stop=threading.Event())
    assert stats.connections >= 2 and server.connections >= 2


def test_record_never_overwrites_a_capture(tmp_path):
    out = tmp_path / "capture.jsonl"
    out.write_text("precious\n")
    result = cli("record", "--out", str(out), "--duration", "1", "--feed-url",
                 "ws://127.0.0.1:9", "--state-dir", str(tmp_path))
    assert result.returncode == 2 and out.read_text() == "precious\n"
    assert result.stderr.strip().splitlines()[-1] == \
        f"error: {out} exists: a recording is never overwritten"


# --- doctor -----------------------------------------------------------------------------


def doctor_config(tmp_path: Path, server, feed_port: int, key_file: Path) -> Path:
    return write_config(tmp_path, (
        f'[feed]\nurl = "ws://127.0.0.1:{feed_port}"\nproducts = ["BTC-USD"]\n'
        f'[coinbase]\nrest_url = "{server.url}"\nkey_file = "{key_file}"\n'
        f'retry_initial_s = 0.01\nmax_retries = 1\n'))


def write_key(path: Path, name: str, pem: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"name": name, "privateKey": pem}, out)
    return path


def test_doctor_passes_against_the_venue_with_its_recorded_replies(capture, venue_server,  # noqa: F811
                                                                    tmp_path):
    for name, path in (("advanced_product_btc_usd.json", "/market/products/BTC-USD"),
                       ("advanced_accounts.json", "/accounts")):
        venue_server.canned[("GET", path)] = json.loads((RECORDED_REST / name).read_text())
    key = write_key(tmp_path / "key.json", *venue_server.key)
    with replay_server.Running(replay_server.ReplayServer(capture)) as feed:
        result = cli("doctor", "--config", str(doctor_config(tmp_path, venue_server, feed.port,
                                                             key)),
                     "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert all(not line.startswith(("FAIL", "WARN")) for line in lines), result.stdout
    assert any(line.startswith("OK   product BTC-USD: online, price 83306.04") for line in lines)
    assert any(line.startswith("OK   key accepted: 2 accounts, all empty") for line in lines)
    assert lines[-1] == "nothing stands in the way"


def test_doctor_names_a_refused_key_and_a_wrong_clock(capture, venue_server, tmp_path):  # noqa: F811
    other_name, other_pem, _ = server_script.make_key()
    key = write_key(tmp_path / "key.json", other_name, other_pem)
    venue_server.clock_offset_s = 95.0
    with replay_server.Running(replay_server.ReplayServer(capture)) as feed:
        result = cli("doctor", "--config", str(doctor_config(tmp_path, venue_server, feed.port,
                                                             key)),
                     "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1
    failed = {line.split(":")[0] for line in result.stdout.splitlines()
              if line.startswith("FAIL")}
    assert failed == {"FAIL clock", "FAIL key accepted"}, result.stdout
    assert "JWTs would be refused" in result.stdout and other_pem[40:80] not in result.stdout
