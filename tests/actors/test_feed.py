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
from tests.conftest import window


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


def test_the_feed_waits_for_registration_then_keeps_the_credit_window(runtime, aligned_real):
    source = BarReplaySource(window(aligned_real, "2018-01-01T00:00:00", 10))
    executor = Recorder.start(runtime, "executor")
    runtime.directory.register("executor", executor)
    feed = FeedActor.start(runtime, source=source, subscribers=("executor",))
    time.sleep(0.2)
    assert received(executor, MarketBatch) == []  # not before the directory leads to it
    runtime.directory.register("feed", feed)
    feed.tell(Registered(sender="supervisor", ts_ns=0, role="feed"))
    time.sleep(0.2)
    assert [b.seq for b in received(executor, MarketBatch)] == [1, 2, 3, 4]  # the window
    feed.tell(Credit(sender="executor", ts_ns=0, seq=2))  # cumulative: two more
    time.sleep(0.2)
    assert [b.seq for b in received(executor, MarketBatch)] == [1, 2, 3, 4, 5, 6]
    feed.tell(Credit(sender="executor", ts_ns=0, seq=6))
    time.sleep(0.2)
    batches = received(executor, MarketBatch)
    assert [b.seq for b in batches] == list(range(1, 11))
    [end] = received(executor, EndOfData)
    assert end.last_seq == 10 and end.ts_ns == batches[-1].ts_ns
