"""A Coinbase Advanced Trade market-data server on 127.0.0.1, replaying a
recorded capture: how tests, demos and operators check the live path without
the internet.

    python scripts/replay_server.py CAPTURE.jsonl [--port 8765] [--speed 1]
        [--drop-after N] [--skip-seq N] [--malformed FRACTION] [--stall-after N]
        [--heartbeat-delay SECONDS] [--loop]

then ``python -m cryptoj_actors run --feed-url ws://127.0.0.1:8765``.

Like Coinbase it waits for subscribe messages (one per channel) and closes a
connection that has not subscribed within 5 seconds; it sends only the
channels subscribed (``level2`` arrives as ``l2_data``), numbers
``sequence_num`` from 0 on every connection, and paces the frames by their
recorded receive times divided by ``--speed`` (0: as fast as possible). The
exchange's timestamps (frame, level2 event and trade times) are moved to the
present, as if the market were happening now (``--keep-times`` does not).

With ``--loop`` the capture plays again and again as one stream: sequence
numbers, heartbeat counters and exchange times go on from where the last
round ended, so a client sees no gap at the seam; the frames a venue
sends once a subscription (the subscriptions answer, level2 and market
trades snapshots) are
not sent again: one level2 update turns the books back to their opening
snapshots instead.

Faults, for drills: drop the connection after N frames; skip one sequence
number at frame N; slip malformed frames in between the real ones (a
fraction of them); stop sending after N frames (the connection stays open);
delay every heartbeat by some seconds.

A capture that is not of Advanced Trade frames (a legacy Coinbase Exchange
feed capture, for one) is refused at start with one line, exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import websockets

SUBSCRIBE_WITHIN_S = 5.0
CHANNEL_OF = {"level2": "l2_data"}  # what a subscription is called on the wire
#: Seconds the server waits for its connections to close when it stops.
SHUTDOWN_S = 2.0

#: Junk slipped between real frames by ``--malformed``: bad values, bad JSON,
#: fields of the wrong type (a list or an object where a string belongs),
#: out-of-range numbers, deep nesting.
MALFORMED = ('{"channel": "l2_data", "events": [{"type": "update", "product_id": "BTC-USD", '
             '"updates": [{"side": "bid", "price_level": "oops", "new_quantity": "1"}]}]}',
             "this is not json", '{"channel": "market_trades", "events": [{"trades": [{}]}]}',
             '{"channel": [], "events": []}', '{"channel": {"a": 1}, "events": []}',
             '{"channel": "l2_data", "events": [{"type": "update", "product_id": [], '
             '"updates": []}]}',
             '{"channel": "market_trades", "events": [{"trades": [{"trade_id": "1", '
             '"product_id": {"x": 1}, "price": "1", "size": "1", "side": "BUY", '
             '"time": "2026-09-30T02:39:53Z"}]}]}',
             '{"channel": "ticker", "events": [{"tickers": [{"product_id": "BTC-USD", '
             '"price": "1e99999", "best_bid": "1", "best_ask": "1"}]}]}',
             '{"channel": "heartbeats", "events": [{"heartbeat_counter": "12"}]}',
             '{"channel": "l2_data", "events": ' + "[" * 3000 + "]" * 3000 + "}",
             '[1, 2, 3]', 'null', '"\u0000"')


@dataclass
class Faults:
    drop_after: int | None = None
    skip_seq: int | None = None
    malformed: float = 0.0
    stall_after: int | None = None
    heartbeat_delay_s: float = 0.0
    seed: int = 1


class CaptureError(ValueError):
    """The file is not a capture of Advanced Trade frames; the message names
    the file and line."""


@dataclass
class Capture:
    """``<receive ns>\\t<frame>`` lines, as recorded: Advanced Trade frames,
    each an object with a ``channel`` and an RFC 3339 ``timestamp``."""

    frames: list[tuple[int, dict]]

    @classmethod
    def read(cls, path: Path) -> Capture:
        """Raises: CaptureError: a line that is not ``<ns>\\t<Advanced Trade frame>``."""
        frames = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CaptureError(f"{path}: cannot read: {exc}") from None
        for number, line in enumerate(lines, start=1):
            if line.strip():
                frames.append(_frame(path, number, line))
        if not frames:
            raise CaptureError(f"{path}: no frames")
        return cls(frames)


def _frame(path: Path, number: int, line: str) -> tuple[int, dict]:
    stamp, _, text = line.partition("\t")
    try:
        received, frame = int(stamp), json.loads(text)
    except ValueError as exc:
        raise CaptureError(f"{path}:{number}: not <receive ns><TAB><frame> ({exc})") from None
    if isinstance(frame, dict) and "type" in frame and "channel" not in frame:
        raise CaptureError(f"{path}:{number}: a legacy Coinbase Exchange frame (\"type\", no "
                           "\"channel\"): this server replays Advanced Trade captures only")
    try:
        if not isinstance(frame["channel"], str):
            raise TypeError("channel is not a string")
        _parse(frame["timestamp"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CaptureError(f"{path}:{number}: not an Advanced Trade frame (no valid "
                           f"{exc})") from None
    return received, frame


@dataclass
class ReplayServer:
    """Serves ``capture`` to every connection. ``connections`` counts them and
    ``subscriptions`` keeps every subscribe message received (for tests)."""

    capture: Capture
    speed: float = 0.0
    faults: Faults = field(default_factory=Faults)
    loop: bool = False
    keep_times: bool = False
    port: int = 0
    connections: int = 0
    subscriptions: list[dict] = field(default_factory=list)

    async def handle(self, ws) -> None:  # noqa: ANN001 - a websockets connection
        self.connections += 1
        channels: set[str] = set()
        clock = asyncio.get_running_loop().time
        deadline = clock() + SUBSCRIBE_WITHIN_S
        while True:  # subscriptions until 0.3 s of quiet after the first (5 s at most)
            left = max(0.0, deadline - clock())
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=min(left, 0.3) if channels
                                             else left)
            except (asyncio.TimeoutError, websockets.ConnectionClosed):
                break
            message = json.loads(raw)
            self.subscriptions.append(message)
            if message.get("type") == "subscribe":
                channels.add(CHANNEL_OF.get(message["channel"], message["channel"]))
        if not channels:
            await ws.close(code=1008, reason="no subscription within 5 seconds")
            return
        await self.stream(ws, channels)

    async def stream(self, ws, channels: set[str]) -> None:  # noqa: ANN001
        rng = random.Random(self.faults.seed)
        seq = sent = 0
        frames = self.capture.frames
        first_time = _parse(frames[0][1]["timestamp"])
        span = _parse(frames[-1][1]["timestamp"]) - first_time
        beats = [c for _, f in frames if (c := _heartbeat_counter(f)) is not None]
        beat_step = (max(beats) - min(beats) + 1) if beats else 0
        shift = 0 if self.keep_times else time.time_ns() - first_time
        rounds = 0
        seam = _Seam()
        while True:
            first = frames[0][0]
            started = asyncio.get_running_loop().time()
            if rounds:  # one stream: the next round's times follow the last one's
                shift = max(shift + span + 1_000_000,
                            shift if self.keep_times else time.time_ns() - first_time)
                events = seam.back_to_opening()
                if events and "l2_data" in channels:
                    # No snapshot again (a venue sends one a subscription): an
                    # update that turns each book back to its opening one.
                    at = _format(first_time + shift)
                    for event in events:
                        for update in event["updates"]:
                            update["event_time"] = at
                    try:
                        await ws.send(json.dumps({"channel": "l2_data", "client_id": "",
                                                  "timestamp": at, "sequence_num": seq,
                                                  "events": events}, separators=(",", ":")))
                    except websockets.ConnectionClosed:
                        return
                    seq += 1
                    sent += 1
            for stamp, frame in frames:
                if frame["channel"] not in channels and frame["channel"] != "subscriptions":
                    continue
                if rounds and _once_a_subscription(frame):
                    continue
                if self.speed > 0:
                    due = started + (stamp - first) / 1e9 / self.speed
                    await asyncio.sleep(max(0.0, due - asyncio.get_running_loop().time()))
                f = self.faults
                if f.stall_after is not None and sent >= f.stall_after:
                    await ws.wait_closed()
                    return
                if f.drop_after is not None and sent >= f.drop_after:
                    await ws.close()
                    return
                if frame["channel"] == "heartbeats" and f.heartbeat_delay_s:
                    await asyncio.sleep(f.heartbeat_delay_s)
                if f.skip_seq is not None and sent == f.skip_seq:
                    seq += 1  # one number never sent: a gap
                seam.sent(frame, opening=rounds == 0)
                frame = {**_shifted(_counted(frame, rounds * beat_step), shift),
                         "sequence_num": seq}
                text = json.dumps(frame, separators=(",", ":"))
                try:
                    if f.malformed and rng.random() < f.malformed:
                        await ws.send(rng.choice(MALFORMED))  # junk between real frames
                    await ws.send(text)
                except websockets.ConnectionClosed:
                    return
                seq += 1
                sent += 1
            if not self.loop:
                await ws.wait_closed()
                return
            rounds += 1

    async def serve(self, ready: threading.Event | None = None,
                    stop: asyncio.Future | None = None) -> None:
        server = await websockets.serve(self.handle, "127.0.0.1", self.port, close_timeout=0.5)
        try:
            self.port = server.sockets[0].getsockname()[1]
            if ready is not None:
                ready.set()
            await (stop if stop is not None else asyncio.Future())
        finally:
            server.close()
            try:
                await asyncio.wait_for(server.wait_closed(), SHUTDOWN_S)
            except TimeoutError:
                # A handler still writing to a client that went without
                # reading the rest: end it here, not when the loop is freed.
                others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)


def _parse(text: str) -> int:
    head, _, frac = text.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head).replace(tzinfo=timezone.utc)
    return int(whole.timestamp()) * 1_000_000_000 + int((frac + "0" * 9)[:9])


def _format(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest:09d}Z"


class _Seam:
    """The level2 books as sent, so that a loop's next round can go on from
    them without a snapshot: :meth:`back_to_opening` gives the updates that
    turn each book back into its opening snapshot (levels added since set to
    0, changed ones set back), after which the round's updates apply as
    recorded."""

    def __init__(self) -> None:
        self.books: dict[str, dict[tuple[str, str], str]] = {}
        self.opening: dict[str, dict[tuple[str, str], str]] = {}

    def sent(self, frame: dict, opening: bool) -> None:
        if frame.get("channel") != "l2_data":
            return
        try:
            self._apply(frame, opening)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a frame the client will refuse too: it changes no book

    def _apply(self, frame: dict, opening: bool) -> None:
        for event in frame.get("events", []):
            book = self.books.setdefault(event["product_id"], {})
            if event.get("type") == "snapshot":
                book.clear()
            for update in event.get("updates", []):
                key = (update["side"], update["price_level"])
                if float(update["new_quantity"]) == 0:
                    book.pop(key, None)
                else:
                    book[key] = update["new_quantity"]
            if opening and event.get("type") == "snapshot":
                self.opening[event["product_id"]] = dict(book)

    def back_to_opening(self) -> list[dict]:
        events = []
        for product, opening in self.opening.items():
            book = self.books.get(product, {})
            updates = [{"side": side, "price_level": price, "new_quantity": "0"}
                       for side, price in sorted(book.keys() - opening.keys())]
            updates += [{"side": side, "price_level": price, "new_quantity": quantity}
                        for (side, price), quantity in sorted(opening.items())
                        if book.get((side, price)) != quantity]
            if updates:
                events.append({"type": "update", "product_id": product, "updates": updates})
            self.books[product] = dict(opening)
        return events


def _once_a_subscription(frame: dict) -> bool:
    """A frame the venue sends once a subscription: the subscriptions answer,
    a level2 snapshot, a snapshot of the recent market trades. A loop's later
    rounds leave them out, as one stream would, and begin with the updates of
    :class:`_Seam` instead."""
    if frame["channel"] == "subscriptions":
        return True
    events = frame.get("events")
    return frame["channel"] in ("l2_data", "market_trades") and isinstance(events, list) \
        and bool(events) and all(isinstance(e, dict) and e.get("type") == "snapshot"
                                 for e in events)


def _heartbeat_counter(frame: dict) -> int | None:
    if frame.get("channel") != "heartbeats":
        return None
    for event in frame.get("events") or []:
        counter = event.get("heartbeat_counter") if isinstance(event, dict) else None
        if isinstance(counter, int):
            return counter
    return None


def _counted(frame: dict, offset: int) -> dict:
    """A heartbeats frame with its counter moved on by ``offset`` (a later round)."""
    if not offset or _heartbeat_counter(frame) is None:
        return frame
    events = [{**e, "heartbeat_counter": e["heartbeat_counter"] + offset}
              if isinstance(e, dict) and isinstance(e.get("heartbeat_counter"), int) else e
              for e in frame["events"]]
    return {**frame, "events": events}


def _shifted(frame: dict, shift_ns: int) -> dict:
    """``frame`` with its exchange times moved by ``shift_ns``."""
    if not shift_ns:
        return frame
    frame = json.loads(json.dumps(frame))
    if "timestamp" in frame:
        frame["timestamp"] = _format(_parse(frame["timestamp"]) + shift_ns)
    for event in frame.get("events", []):
        for key, field_name in (("updates", "event_time"), ("trades", "time")):
            for item in event.get(key, []):
                if field_name in item:
                    item[field_name] = _format(_parse(item[field_name]) + shift_ns)
    return frame


class Running:
    """A :class:`ReplayServer` in a background thread (for tests and demos)."""

    def __init__(self, server: ReplayServer) -> None:
        self.server = server
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the replay server did not start")
        return self.server

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = self._loop.create_future()
        self._loop.run_until_complete(self.server.serve(self._ready, self._stop))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--speed", type=float, default=1.0,
                        help="1 = recorded pace, 10 = ten times faster, 0 = at once")
    parser.add_argument("--loop", action="store_true", help="replay the capture again and again")
    parser.add_argument("--drop-after", type=int)
    parser.add_argument("--skip-seq", type=int, help="skip a sequence number at this frame")
    parser.add_argument("--malformed", type=float, default=0.0,
                        help="malformed frames slipped in, as a fraction of the real ones")
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--heartbeat-delay", type=float, default=0.0)
    parser.add_argument("--keep-times", action="store_true",
                        help="send the recorded exchange times, not moved to the present")
    args = parser.parse_args()
    try:
        capture = Capture.read(args.capture)
    except CaptureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    server = ReplayServer(capture, speed=args.speed, loop=args.loop,
                          keep_times=args.keep_times,
                          port=args.port, faults=Faults(
                              drop_after=args.drop_after, skip_seq=args.skip_seq,
                              malformed=args.malformed, stall_after=args.stall_after,
                              heartbeat_delay_s=args.heartbeat_delay))
    print(f"serving {args.capture.name} on ws://127.0.0.1:{args.port} (Ctrl-C stops)")
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
