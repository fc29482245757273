"""Shared fixtures: where the recorded market data lives, the scripts' servers,
and a guard that keeps every test on 127.0.0.1.

The recorded data is never copied into the project; it is read from
``../shared/data`` beside the repository (or ``$CRYPTOJ_DATA_DIR``).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("CRYPTOJ_DATA_DIR", REPO.parent / "shared" / "data"))
CDD_DIR = DATA_DIR / "coinbase_hourly_cdd"


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _loopback_only(address: object) -> None:
    if not isinstance(address, tuple):
        return  # a Unix socket
    host = str(address[0])
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConnectionRefusedError(f"tests talk to 127.0.0.1 only, not {host}")


def _guarded_connect(self: socket.socket, address: object) -> None:
    _loopback_only(address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    _loopback_only(address)
    return _connect_ex(self, address)


@pytest.fixture(scope="session", autouse=True)
def loopback_only():
    """No test in this process opens a connection outside the loopback
    interface (child processes are pointed at loopback servers by config)."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


def journal_count(path: Path, table: str, run_id: str) -> int:
    """Rows of ``table`` (``orders``, ``fills``) of ``run_id`` in the journal at
    ``path``, read while a system writes it; 0 until it can be read."""
    try:
        db = sqlite3.connect(path)
        try:
            return db.execute(f"SELECT count(*) FROM {table} WHERE run_id=?",
                              (run_id,)).fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.005)


def documented_metrics() -> set[str]:
    """The metric names in the tables of ``docs/monitoring.md``, as exposed
    (counters with ``_total``)."""
    text = (REPO / "docs" / "monitoring.md").read_text()
    return set(re.findall(r"^\| `([a-z_]+)` \| (?:gauge|counter|histogram) \|", text, re.MULTILINE))


def exposed_metrics(text: str) -> set[str]:
    """The metric names in a Prometheus exposition, as exposed."""
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name + "_total" if f.type == "counter" else f.name
            for f in text_string_to_metric_families(text)}


class Lines:
    """The lines a child process writes to a pipe, read by a thread as they
    come, so that a test can wait for one (``wait_until``) without blocking on
    a read and without the pipe filling up behind it. ``ended``: the pipe has
    closed (the process is gone)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self.ended = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))
        self.ended = True

    def text(self, timeout: float = 10.0) -> str:
        """Everything read, once the pipe has closed (call after the process ended)."""
        self._thread.join(timeout)
        return "\n".join(self.lines)


def load_script(name: str) -> ModuleType:
    """A module of ``scripts/`` (they are programs, not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


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
    from cryptoj_actors.marketdata.bars.align import align
    from cryptoj_actors.marketdata.bars.series import load_bars

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
    return _require(DATA_DIR / "coinbase_advanced_ws_2026-09-30_fastmm"
                    / "advanced_md_stream.jsonl")


@pytest.fixture(scope="session")
def minute_trade_files() -> list[Path]:
    """Real one-minute trade bars of BTC-USD and ETH-USD (Lean data, the
    convenience files: UTC and Unix times, minutes without trades absent)."""
    folder = DATA_DIR / "coinbase_minute_lean"
    return [_require(folder / f"{p}_1m_trade.csv") for p in ("BTC-USD", "ETH-USD")]


@pytest.fixture(scope="session")
def lean_raw_folder() -> Path:
    """Lean's raw one-minute files of the same data: one a day and product,
    no header, ms after midnight (``20180405_btcusd_minute_trade.csv``)."""
    folder = DATA_DIR / "coinbase_minute_lean" / "raw"
    return _require(folder / "20180405_btcusd_minute_trade.csv").parent
