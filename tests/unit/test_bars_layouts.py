"""Telling a file's layout from its first lines (cryptoj_actors.marketdata.bars.layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptoj_actors.marketdata.bars.series import load_bars
from tests.unit.bar_files import ATTRIBUTION, BTC_HEADER, CDD_ROWS, load_error, write


def test_cdd_without_attribution_line_still_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", [BTC_HEADER, *CDD_ROWS])
    assert len(load_bars(path).bars) == 3


def test_cdd_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        ("\ufeff" + "\r\n".join([ATTRIBUTION, BTC_HEADER, *CDD_ROWS]) + "\r\n").encode()
    )
    assert len(load_bars(path).bars) == 3


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
