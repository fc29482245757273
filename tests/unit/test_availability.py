"""The feed's availability: the share of a window its connection was up,
counted from the first state when that is more recent, over a day at most."""

from __future__ import annotations

import pytest

from cryptoj_actors.health.availability import HISTORY, HORIZON_S, Availability

T0 = 1_800_000_000.0


def test_nothing_is_known_before_the_first_state():
    a = Availability()
    assert a.share_up(3600, T0) is None and a.up_since() is None and a.history() == []


def test_the_share_counts_from_the_first_state_when_the_window_is_longer():
    a = Availability()
    a.mark("connecting", T0)
    a.mark("up", T0 + 10)
    a.mark("stale", T0 + 70)
    a.mark("up", T0 + 90)
    # 100 s seen: up 60 s, then from 90 on 10 s more
    assert a.share_up(3600, T0 + 100) == pytest.approx(0.7)
    # the last 20 s: stale until 90, then up
    assert a.share_up(20, T0 + 100) == pytest.approx(0.5)
    assert a.up_since() == T0 + 90


def test_the_same_state_again_is_not_a_change():
    a = Availability()
    a.mark("up", T0)
    a.mark("up", T0 + 5)
    assert [c.at_s for c in a.history()] == [T0] and a.up_since() == T0


def test_a_day_old_change_is_forgotten_but_the_state_it_left_still_counts():
    a = Availability()
    a.mark("up", T0)
    a.mark("down", T0 + 10)
    a.mark("up", T0 + 2 * HORIZON_S)
    # the last day: down for all but its last hour, then up
    now = T0 + 2 * HORIZON_S + 3600
    assert a.share_up(HORIZON_S, now) == pytest.approx(3600 / HORIZON_S)
    assert a.share_up(7200, now) == pytest.approx(0.5)


def test_the_history_keeps_the_latest_changes():
    a = Availability()
    for i in range(HISTORY + 5):
        a.mark("up" if i % 2 else "stale", T0 + i)
    history = a.history()
    assert len(history) == HISTORY and history[-1].at_s == T0 + HISTORY + 4
