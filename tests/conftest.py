"""Shared fixtures: where the recorded market data lives.

The recorded data is never copied into the project; it is read from
``../shared/data`` beside the repository (or ``$CRYPTOJ_DATA_DIR``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CRYPTOJ_DATA_DIR", REPO.parent / "shared" / "data"))
CDD_DIR = DATA_DIR / "coinbase_hourly_cdd"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"recorded market data not found at {path} (set CRYPTOJ_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def cdd_dir() -> Path:
    """Folder of the CryptoDataDownload hourly bars (BTC-USD, ETH-USD, LTC-USD)."""
    return _require(CDD_DIR)


@pytest.fixture(scope="session")
def cdd_files(cdd_dir: Path) -> list[Path]:
    """The three hourly files, BTC-USD, ETH-USD, LTC-USD, in that order."""
    return [cdd_dir / f"Coinbase_{p}USD_1h.csv" for p in ("BTC", "ETH", "LTC")]


@pytest.fixture(scope="session")
def aligned_real(cdd_files: list[Path]):
    """The three real hourly series aligned on their common window (20,111 hours)."""
    from cryptoj_actors.marketdata.bars_csv import align, load_bars

    return align([load_bars(f) for f in cdd_files])


def window(aligned, start: str, hours: int):
    """A slice of real aligned bars: ``hours`` batches from ``start`` (ISO, UTC)."""
    import dataclasses
    from datetime import datetime

    from cryptoj_actors.clock import from_datetime

    start_ns = from_datetime(datetime.fromisoformat(start))
    slices = tuple(s for s in aligned.slices if s[0] >= start_ns)[:hours]
    return dataclasses.replace(aligned, slices=slices, start_ns=slices[0][0],
                               end_ns=slices[-1][0])


@pytest.fixture(scope="session")
def advanced_ws_capture() -> Path:
    """Real Coinbase Advanced Trade websocket frames (``rx_ns<TAB>frame`` lines)."""
    return _require(DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm" / "advanced_md_stream.jsonl")
