"""Recording the live feed into a capture file (``record``).

The connection is the live feed's own
(:class:`~cryptoj_actors.adapters.coinbase.websocket.CoinbaseFeedSource`):
subscriptions, reconnects with backoff, a reconnect on a sequence gap (so
the capture gets a fresh snapshot) and on stale data. Every frame, good or
bad, is written as received, one a line: ``<receive time, ns>`` TAB
``<frame>``, the layout ``replay`` and ``scripts/replay_server.py`` read.
Frames are written from the calling thread; the socket thread only queues.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource, RawFrame
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.health.telemetry import Telemetry

#: Seconds between flushes of the file and staleness checks.
FLUSH_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class RecordStats:
    """What a recording holds: frames written, connections made, and input
    defects by kind (``gap``, ``not_json``...)."""

    frames: int
    connections: int
    defects: dict[str, int]


def record(config: FeedConfig, out: Path, *, duration_s: float | None,
           stop: threading.Event) -> RecordStats:
    """Record until ``duration_s`` has passed (None: until ``stop`` is set).

    Raises:
        FileExistsError: ``out`` exists (a recording is never overwritten).
        OSError: ``out`` cannot be written.
    """
    frames: queue.SimpleQueue[RawFrame] = queue.SimpleQueue()
    source = CoinbaseFeedSource(config)
    written = 0
    deadline = None if duration_s is None else time.monotonic() + duration_s
    with open(out, "x", encoding="utf-8") as fh:
        source.start(lambda message: frames.put(message), Telemetry())  # type: ignore[arg-type]
        try:
            next_check = time.monotonic() + FLUSH_INTERVAL_S
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                try:
                    frame = frames.get(timeout=0.1)
                except queue.Empty:
                    frame = None
                if frame is not None:
                    fh.write(f"{frame.received_ns}\t{_one_line(frame.text)}\n")
                    written += 1
                    source.absorb(frame)  # sequence and staleness checks, as live
                if time.monotonic() >= next_check:
                    fh.flush()
                    now_ns = time.time_ns()
                    source.watch(now_ns)  # reconnects when stale, as live
                    source.next_batch(0, now_ns)  # nobody trades here: drop the market's batch
                    next_check += FLUSH_INTERVAL_S
        finally:
            source.stop()
    return RecordStats(frames=written, connections=source.connection,
                       defects=dict(source.market.counts))


def _one_line(text: str | bytes) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if "\n" not in raw and "\r" not in raw:
        return raw
    try:  # a frame spread over lines is stored compact, or escaped if not JSON
        return orjson.dumps(orjson.loads(raw)).decode()
    except orjson.JSONDecodeError:
        return raw.replace("\r", "\\r").replace("\n", "\\n")
