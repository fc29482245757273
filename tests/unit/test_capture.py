"""Reading a websocket capture for replay: whatever the file holds, a refusal
is one line naming the file (and line), never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cryptoj_actors.adapters.coinbase.capture import read_capture
from cryptoj_actors.marketdata.errors import DataError
from tests.conftest import DATA_DIR, REPO

FRAME = ('{"channel":"market_trades","timestamp":"2026-09-30T02:39:53Z","sequence_num":0,'
         '"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"BTC-USD",'
         '"price":"1","size":"1","side":"BUY","time":"2026-09-30T02:39:53Z"}]}]}')


@pytest.mark.parametrize("content,said", [
    (b"abc\t{}\n", "x.jsonl:1: expected <receive ns><TAB><frame> or a frame with a timestamp"),
    (b"\xff\xfe\x00junk\n", "x.jsonl: not UTF-8 text (invalid start byte at byte 0): "
                            "not a capture"),
    (b'1\t{"type":"l2update","product_id":"ETH-USD","changes":[]}\n',
     'x.jsonl:1: a frame of the legacy Coinbase Exchange feed ("type", no "channel"): '
     "replay reads Advanced Trade captures only"),
    (b'1\t{"channel":"l2_data","events":5}\n'
     b'2\t{"channel":"market_trades","events":[{"trades":true,"tickers":3}]}\n'
     b'3\t{"channel":"ticker","events":[false, {"tickers":{"product_id":"BTC-USD"}}]}\n',
     "x.jsonl: no frame names a product: not a Coinbase capture"),
])
def test_a_capture_that_cannot_be_replayed_is_refused_in_one_line(tmp_path, content, said):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError) as refused:
        read_capture(path)
    assert str(refused.value) == f"{tmp_path}/{said}"


def test_fields_of_the_wrong_type_do_not_hide_the_products_named_elsewhere(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(f'1\t{{"channel":"ticker","events":[{{"tickers":7}}]}}\n2\t{FRAME}\n')
    frames, products = read_capture(path)
    assert len(frames) == 2 and products == ("BTC-USD",)


def test_replaying_the_recorded_legacy_exchange_capture_is_refused_exit_2():
    legacy = DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm" / "raw_md_stream.jsonl"
    if not legacy.is_file():
        pytest.skip(f"recorded data not found: {legacy}")
    result = subprocess.run([sys.executable, "-m", "cryptoj_actors", "replay", str(legacy),
                             "--no-ui"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {legacy}:1: a frame of the legacy Coinbase Exchange feed (\"type\", no "
        "\"channel\"): replay reads Advanced Trade captures only"]
