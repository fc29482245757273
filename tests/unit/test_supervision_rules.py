"""The supervisor's rules without threads: when health's REDUCING lifts, and
when a resume is refused."""

from __future__ import annotations

from cryptoj_actors.supervision.rules import QuietSpell, resume_refusal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reducing_lifts_only_after_an_unbroken_quiet_spell():
    clock = Clock()
    rule = QuietSpell(30.0, clock)
    assert rule.lift() is None  # no spell started
    rule.calm()
    clock.now += 29.9
    assert rule.lift() is None
    rule.critical()  # a relapse breaks the spell
    clock.now += 1
    rule.calm()
    clock.now += 29.9
    assert rule.lift() is None
    clock.now += 0.1
    assert rule.lift() == 30.0
    assert rule.lift() is None  # lifted once; the spell is over


def test_calm_reports_do_not_restart_a_spell_under_way():
    clock = Clock()
    rule = QuietSpell(10.0, clock)
    rule.calm()
    clock.now += 6
    rule.calm()
    clock.now += 4
    assert rule.lift() == 10.0


def test_a_resume_is_refused_while_a_significant_role_is_down_or_hung():
    alive = {"portfolio": True, "risk": False, "feed": True}.__getitem__
    assert resume_refusal(["portfolio", "feed"], alive, hung=()) is None
    assert resume_refusal(["portfolio", "risk", "feed"], alive, hung=("feed",)) == \
        "risk, feed down or hung: restart the process to resume"
