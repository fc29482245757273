"""Replay of a recorded websocket capture through the live market code.

A capture is what ``record`` writes (and the replay server reads): one frame a
line, ``<receive time, ns>`` TAB ``<frame exactly as received>``; a line
without the prefix is taken at the frame's own ``timestamp``. Frames go
through the same :class:`~cryptoj_actors.marketdata.live_market.LiveMarket`
as live ones (books, sequence checks, bad input counted), and a market batch
is cut every ``batch_interval_s`` of **recorded** receive time, so the same
capture always gives the same batches (DESIGN.md section 9). A sequence gap
cannot be healed by resubscribing here: the books stay invalid until the
capture's next snapshot, as the live path would see them meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from cryptoj_actors.adapters.coinbase import advanced_trade
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.config import FeedConfig
from cryptoj_actors.health.telemetry import Telemetry
from cryptoj_actors.marketdata.errors import DataError
from cryptoj_actors.marketdata.inputs import ReplayInputs
from cryptoj_actors.marketdata.live_market import LiveMarket
from cryptoj_actors.marketdata.source import RecordedSource
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import PRODUCT_ID
from cryptoj_actors.state.files import sha256_file


@dataclass(frozen=True, slots=True)
class CapturedFrame:
    received_ns: int
    text: str


def read_capture(path: Path) -> tuple[list[CapturedFrame], tuple[str, ...]]:
    """The frames of a capture, in file order, and the products they name.

    Raises:
        DataError: the file cannot be read or is not UTF-8, a line's prefix
            is not an integer, a prefix-less line is not a frame with a
            ``timestamp``, the capture is of the legacy Coinbase Exchange feed,
            or no frame names a product (one line naming the file and line).
    """
    from cryptoj_actors.adapters.coinbase.orders import ShapeError, parse_time_ns

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(path, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start}): "
                                    "not a capture") from None
    frames: list[CapturedFrame] = []
    products: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        stamp, tab, text = line.partition("\t")
        try:
            if tab:
                received = int(stamp)
            else:
                text = line
                received = parse_time_ns(orjson.loads(text)["timestamp"])
        except (ValueError, KeyError, TypeError, ShapeError, orjson.JSONDecodeError):
            raise DataError(path, number, "expected <receive ns><TAB><frame> or a frame "
                                          "with a timestamp") from None
        if _legacy_exchange(text):
            raise DataError(path, number, "a frame of the legacy Coinbase Exchange feed "
                                          "(\"type\", no \"channel\"): replay reads Advanced "
                                          "Trade captures only") from None
        frames.append(CapturedFrame(received, text))
        products.update(_product_ids(text))
    if not products:
        raise DataError(path, None, "no frame names a product: not a Coinbase capture")
    return frames, tuple(sorted(products))


def _legacy_exchange(text: str) -> bool:
    """A Coinbase Exchange (``ws-feed``) message: ``type`` at the top and no
    ``channel``; Advanced Trade frames always carry a ``channel``."""
    if '"type"' not in text or '"channel"' in text:
        return False  # the cheap test first: this runs on every frame
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(frame, dict) and "type" in frame and "channel" not in frame


def _product_ids(text: str) -> set[str]:
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return set()  # a malformed frame is the market's to count, not ours
    found: set[str] = set()
    events = frame.get("events") if isinstance(frame, dict) else None
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        for item in [event, *_listed(event, "trades"), *_listed(event, "tickers")]:
            product = item.get("product_id") if isinstance(item, dict) else None
            if isinstance(product, str) and PRODUCT_ID.fullmatch(product):
                found.add(product)
    return found


def _listed(event: dict[str, object], key: str) -> list[object]:
    items = event.get(key)
    return items if isinstance(items, list) else []


class CaptureReplaySource(RecordedSource):
    """Serves a capture as market batches (a :class:`MarketSource`).

    Args:
        frames: from :func:`read_capture`.
        products: the products to keep books for.
        config: ``batch_interval_s``, ``bar_interval_s``, ``stale_after_s``
            and ``book_depth`` as the live feed uses them.
    """

    def __init__(self, frames: list[CapturedFrame], products: tuple[str, ...],
                 config: FeedConfig) -> None:
        super().__init__()
        self.products = products
        self.period_ns = int(config.batch_interval_s * NS_PER_SECOND)
        self.market = LiveMarket(advanced_trade, products, config.bar_interval_s * NS_PER_SECOND,
                                 int(config.stale_after_s * NS_PER_SECOND), config.book_depth)
        self._frames = frames
        self._next = 0
        first = frames[0].received_ns if frames else 0
        last = frames[-1].received_ns if frames else 0
        self.total_batches = (last - first) // self.period_ns + 1 if frames else 0
        self._cut_at = first + self.period_ns

    def start(self, notify: Callable[[object], None], telemetry: Telemetry) -> None:
        super().start(notify, telemetry)
        telemetry.feed_events.update(self.market.counts)
        self.market.counts = telemetry.feed_events  # the run's counters from now on

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._frames)

    def next_batch(self, seq: int, now_ns: int) -> MarketBatch | None:
        """The frames received before the next cut, as one batch; time slices
        with no frame give no batch."""
        while not self.exhausted:
            while self._next < len(self._frames) and \
                    self._frames[self._next].received_ns < self._cut_at:
                frame = self._frames[self._next]
                self._next += 1
                if self.market.last_seq is not None and _opens_connection(frame.text):
                    self.market.reset_connection("the recording went through a reconnect")
                self.market.take(frame.text, frame.received_ns, self._telemetry)
            cut = self._cut_at
            self._cut_at += self.period_ns
            batch = self.market.next_batch(seq, cut)
            if batch is not None:  # stamped with the wall clock, as a bar replay's
                return replace(batch, received_ns=now_ns)
        return None


_SEQUENCE_ZERO = re.compile(r'"sequence_num":\s*0\b')


def _opens_connection(text: str) -> bool:
    """Whether a frame is the first of a connection: Coinbase numbers each
    connection's frames from 0, so a 0 after other numbers is a reconnect the
    recording went through (its books wait for the new snapshots)."""
    if not _SEQUENCE_ZERO.search(text):
        return False  # the cheap test first: this runs on every frame
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(frame, dict) and frame.get("sequence_num") == 0


def capture_inputs(path: Path, config: FeedConfig) -> ReplayInputs:
    """A capture as a replay's inputs: its batches are ``config``'s
    ``batch_interval_s`` of recorded receive time.

    Raises:
        DataError: as :func:`read_capture`, or the file does not exist.
    """
    if not path.is_file():
        raise DataError(path, None, "no such file")
    frames, products = read_capture(path)
    described = [{"file": path.name, "sha256": sha256_file(path),
                  "layout": "advanced-trade-capture", "frames": len(frames),
                  "products": list(products)}]
    return ReplayInputs(source=lambda: CaptureReplaySource(frames, products, config),
                        period_ns=int(config.batch_interval_s * NS_PER_SECOND),
                        products=products, files=described)
