"""The token bucket, on a fake clock: a full burst of ``rate`` is free, then
each request waits ``1/rate`` (waits add up while the clock stands still),
refills cap at ``rate``, a non-positive rate is refused, and over any run
``N`` requests take at least ``(N - rate) / rate`` seconds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoj_actors.adapters.coinbase.rate_limit import TokenBucket


class FakeTime:
    """A clock that only moves when told to, or when ``sleep`` is called
    (unless ``frozen``); every wait asked for is recorded."""

    def __init__(self, start: float = 1000.0, *, frozen: bool = False) -> None:
        self.now = start
        self.frozen = frozen
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.waits.append(seconds)
        if not self.frozen:
            self.now += seconds


def bucket(rate: float, fake: FakeTime) -> TokenBucket:
    return TokenBucket(rate, clock=fake.clock, sleep=fake.sleep)


@pytest.mark.parametrize("rate", [1, 4, 10, 30])
def test_burst_is_free_then_one_over_rate_each(rate) -> None:
    fake = FakeTime()
    tb = bucket(rate, fake)
    assert [tb.acquire() for _ in range(rate)] == [0.0] * rate
    assert fake.waits == [] and fake.now == 1000.0
    later = [tb.acquire() for _ in range(5)]
    assert later == pytest.approx([1 / rate] * 5)
    assert fake.waits == pytest.approx(later)
    assert fake.now == pytest.approx(1000.0 + 5 / rate)


def test_waits_accumulate_when_the_clock_stands_still() -> None:
    fake = FakeTime(frozen=True)
    tb = bucket(4, fake)
    assert [tb.acquire() for _ in range(4)] == [0.0] * 4
    assert [tb.acquire() for _ in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert fake.waits == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_partial_refill() -> None:
    fake = FakeTime()
    tb = bucket(4, fake)
    for _ in range(4):
        tb.acquire()
    fake.now += 0.5  # two tokens back
    assert [tb.acquire() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.25])


@pytest.mark.parametrize("idle", [1.0, 2.5, 3600.0])
def test_refills_after_a_second_but_never_beyond_rate(idle) -> None:
    fake = FakeTime()
    tb = bucket(10, fake)
    for _ in range(15):
        tb.acquire()
    fake.now += 0.5 + idle  # pay off the 5-token debt, then idle
    assert [tb.acquire() for _ in range(10)] == [0.0] * 10
    assert tb.acquire() == pytest.approx(0.1)


def test_idle_from_the_start_does_not_overfill() -> None:
    fake = FakeTime()
    tb = bucket(3, fake)
    fake.now += 100.0
    assert [tb.acquire() for _ in range(3)] == [0.0] * 3
    assert tb.acquire() == pytest.approx(1 / 3)


def test_fractional_rate() -> None:
    fake = FakeTime()
    tb = bucket(0.5, fake)  # one request every two seconds, burst of half a token
    assert tb.acquire() == pytest.approx(1.0)
    assert tb.acquire() == pytest.approx(2.0)


@pytest.mark.parametrize("rate", [0, -1, -0.5, 0.0])
def test_non_positive_rate_is_refused(rate) -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(rate, clock=lambda: 0.0, sleep=lambda s: None)


def test_long_run_keeps_the_rate() -> None:
    fake = FakeTime()
    tb = bucket(30, fake)
    n = 3000
    total = sum(tb.acquire() for _ in range(n))
    assert fake.now - 1000.0 == pytest.approx(total)
    assert fake.now - 1000.0 >= (n - 30) / 30 - 1e-6
    assert fake.now - 1000.0 == pytest.approx((n - 30) / 30)  # and no slower


@settings(max_examples=60, deadline=None)
@given(rate=st.integers(1, 50),
       gaps=st.lists(st.sampled_from([0.0, 0.0, 0.0, 0.01, 0.1, 0.5, 2.0]),
                     min_size=1, max_size=300))
def test_no_window_exceeds_rate_plus_burst(rate, gaps) -> None:
    """Whatever the pauses between requests, the k requests done by time t
    since the start never exceed ``rate + rate * t``."""
    fake = FakeTime(start=0.0)
    tb = bucket(rate, fake)
    done_at = []
    for gap in gaps:
        fake.now += gap
        tb.acquire()
        done_at.append(fake.now)
    for i, t in enumerate(done_at):
        assert i + 1 <= rate + rate * t + 1e-6
    # and between any two requests (sampled), the same holds for the window
    for i in range(0, len(done_at), max(1, len(done_at) // 10)):
        for j in range(i, len(done_at)):
            assert j - i <= rate + rate * (done_at[j] - done_at[i]) + 1e-6
