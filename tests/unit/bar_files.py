"""Small bar files for the tests of cryptoj_actors.marketdata.bars, and their helpers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cryptoj_actors.clock import from_datetime
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.errors import DataError

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


def load_error(path: Path, product_id: str | None = None) -> DataError:
    with pytest.raises(DataError) as info:
        load_bars(path, product_id)
    err = info.value
    assert "\n" not in str(err)
    assert path.name in str(err)
    return err
