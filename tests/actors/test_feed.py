"""The feed actor's flow control, on real threads with real data."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pykka
import pytest

from cryptoj_actors.actors.feed import FeedActor
from cryptoj_actors.config import Config
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.messages import Credit, EndOfData, MarketBatch, Registered
from cryptoj_actors.runtime import RunInfo, Runtime
from tests.actors.recorder import Recorder
from tests.conftest import wait_until, window


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    config = replace(Config(), feed=replace(Config().feed, credit_window=4))
    return Runtime(config=config, run=RunInfo("feed", "replay", tmp_path, tmp_path / "run"))


@pytest.fixture(autouse=True)
def stop_everything():
    yield
    pykka.ActorRegistry.stop_all()


def received(ref: pykka.ActorRef, kind: type) -> list:
    return [m for m in ref.proxy().messages().get(timeout=10) if isinstance(m, kind)]


def seqs(ref: pykka.ActorRef) -> list[int]:
    return [b.seq for b in received(ref, MarketBatch)]


#: How long a check that nothing more comes waits. A slow machine can only make
#: it miss an extra batch, never fail a feed that keeps its window.
QUIET_S = 0.2


def test_the_feed_waits_for_registration_then_keeps_the_credit_window(runtime, aligned_real):
    source = BarReplaySource(window(aligned_real, "2018-01-01T00:00:00", 10))
    executor = Recorder.start(runtime, "executor")
    runtime.directory.register("executor", executor)
    feed = FeedActor.start(runtime, source=source, subscribers=("executor",))
    assert feed.proxy().last_seq.get(timeout=10) == 0  # started, and sent nothing
    time.sleep(QUIET_S)  # nothing comes before the directory leads to the feed
    assert seqs(executor) == []
    runtime.directory.register("feed", feed)
    feed.tell(Registered(sender="supervisor", ts_ns=0, role="feed"))
    wait_until(lambda: len(seqs(executor)) >= 4)
    time.sleep(QUIET_S)  # nothing more comes: the window is full
    assert seqs(executor) == [1, 2, 3, 4]
    feed.tell(Credit(sender="executor", ts_ns=0, seq=2))  # cumulative: two more
    wait_until(lambda: len(seqs(executor)) >= 6)
    time.sleep(QUIET_S)  # nothing more comes: the window is full again
    assert seqs(executor) == [1, 2, 3, 4, 5, 6]
    feed.tell(Credit(sender="executor", ts_ns=0, seq=6))
    wait_until(lambda: received(executor, EndOfData))
    batches = received(executor, MarketBatch)
    assert [b.seq for b in batches] == list(range(1, 11))
    [end] = received(executor, EndOfData)
    assert end.last_seq == 10 and end.ts_ns == batches[-1].ts_ns
