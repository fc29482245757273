"""Exponential backoff with full jitter (cryptoj_actors.backoff.Backoff)."""

from __future__ import annotations

import random

import pytest

from cryptoj_actors.backoff import Backoff


class Ceiling(random.Random):
    """Draws the top of every range: the ceiling each wait is drawn under."""

    def uniform(self, a: float, b: float) -> float:
        self.last = (a, b)
        return b


def test_the_ceiling_doubles_from_initial_up_to_the_maximum():
    backoff = Backoff(0.25, 30.0, Ceiling())
    waits = [backoff.next_delay() for _ in range(10)]
    assert waits == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.attempts == 10


def test_every_wait_is_drawn_from_zero_to_the_ceiling():
    rng = Ceiling()
    backoff = Backoff(0.5, 4.0, rng)
    for expected in (0.5, 1.0, 2.0, 4.0, 4.0):
        assert backoff.ceiling == expected
        backoff.next_delay()
        assert rng.last == (0, expected)


@pytest.mark.parametrize("seed", range(20))
def test_waits_stay_within_their_bounds(seed):
    backoff = Backoff(0.1, 5.0, random.Random(seed))
    for n in range(40):
        ceiling = min(5.0, 0.1 * 2 ** n)
        assert backoff.ceiling == ceiling
        assert 0 <= backoff.next_delay() <= ceiling


def test_reset_starts_again_from_initial():
    backoff = Backoff(1.0, 60.0, Ceiling())
    for _ in range(5):
        backoff.next_delay()
    assert (backoff.attempts, backoff.ceiling) == (5, 32.0)
    backoff.reset()
    assert (backoff.attempts, backoff.ceiling) == (0, 1.0)
    assert backoff.next_delay() == 1.0


def test_a_seeded_rng_gives_the_same_waits_as_the_formula():
    backoff = Backoff(0.25, 30.0, random.Random(7))
    waits = [backoff.next_delay() for _ in range(12)]
    rng = random.Random(7)
    assert waits == [rng.uniform(0, min(30.0, 0.25 * 2 ** n)) for n in range(12)]
    again = Backoff(0.25, 30.0, random.Random(7))
    assert [again.next_delay() for _ in range(12)] == waits


def test_a_given_wait_counts_as_an_attempt_and_draws_nothing():
    rng = random.Random(3)
    backoff = Backoff(1.0, 8.0, rng)
    state = rng.getstate()
    assert backoff.next_delay(given=2.5) == 2.5
    assert rng.getstate() == state  # no random number used
    assert (backoff.attempts, backoff.ceiling) == (1, 2.0)
    assert 0 <= backoff.next_delay() <= 2.0


def test_backoffs_sharing_an_rng_draw_from_it_in_turn():
    shared = random.Random(11)
    a, b = Backoff(1.0, 10.0, shared), Backoff(2.0, 10.0, shared)
    waits = [a.next_delay(), b.next_delay(), a.next_delay()]
    rng = random.Random(11)
    assert waits == [rng.uniform(0, 1.0), rng.uniform(0, 2.0), rng.uniform(0, 2.0)]


def test_a_long_run_of_failures_stays_at_the_maximum():
    backoff = Backoff(0.25, 30.0, Ceiling())
    backoff.attempts = 5000  # far past where 2**n would overflow a float
    assert backoff.next_delay() == 30.0


def test_the_restart_policy_draws_its_delays_per_child_and_resets_after_a_stable_run():
    from dataclasses import replace

    from cryptoj_actors.config import SupervisorConfig
    from cryptoj_actors.supervision.restart import RestartPolicy, RestartType

    cfg = replace(SupervisorConfig(), restart_initial_s=0.5, restart_max_s=3.0,
                  restart_reset_s=60.0, max_restarts=100)
    policy = RestartPolicy(cfg, random.Random(5))
    delays = []
    for role, now in (("a", 1), ("a", 2), ("b", 3), ("a", 4), ("a", 5), ("a", 6)):
        policy.started(role, now - 0.5)
        delays.append(policy.on_down(role, RestartType.PERMANENT, False, now).delay_s)
    policy.started("a", 100)  # runs for longer than restart_reset_s
    delays.append(policy.on_down("a", RestartType.PERMANENT, False, 200).delay_s)
    rng = random.Random(5)
    ceilings = (0.5, 1.0, 0.5, 2.0, 3.0, 3.0, 0.5)
    assert delays == [rng.uniform(0, c) for c in ceilings]
