"""The trading state's rules, stated once: the worst level wins, HALTED is
sticky until a resume; and the supervisor's view of it."""

from __future__ import annotations

import pytest

from cryptoj_actors.messages import TradingState
from cryptoj_actors.model import TradingLevel
from cryptoj_actors.state.trading import RESTORED, TradingLevels, TradingStateFile
from cryptoj_actors.supervision.emergency import EmergencyState

ACTIVE, REDUCING, HALTED = TradingLevel.ACTIVE, TradingLevel.REDUCING, TradingLevel.HALTED


def state(level: TradingLevel, reason: str = "", at: int = 1) -> TradingState:
    return TradingState(sender="test", ts_ns=at, level=level, reason=reason or level.value,
                        since_ns=at)


def levels(*sources: str) -> TradingLevels:
    return TradingLevels.start(sources, state(ACTIVE, "start", 0))


def test_the_worst_level_wins_and_the_first_source_breaks_a_tie():
    table = levels("a", "b", "c").set("b", state(REDUCING, "b reduces"))
    assert table.effective.reason == "b reduces"
    table = table.set("c", state(HALTED, "c halts")).set("a", state(HALTED, "a halts"))
    assert table.effective.reason == "a halts"
    assert levels("a", "b").effective.level is ACTIVE


def test_halted_is_sticky_until_a_resume_lifts_every_halt():
    table = levels("a", "b").set("a", state(HALTED)).set("b", state(REDUCING))
    assert table.set("a", state(ACTIVE)) is table  # refused: unchanged
    assert table.set("a", state(REDUCING)) is table
    assert table.set("a", state(HALTED, "again")).of("a").reason == "again"
    resumed = table.resume(state(ACTIVE, "operator"))
    assert resumed.of("a").reason == "operator"
    assert resumed.of("b").level is REDUCING  # not a halt: kept
    assert resumed.effective.level is REDUCING
    assert not resumed.halted() and table.halted() and table.halted("a")


def test_an_unknown_source_is_an_error():
    with pytest.raises(KeyError):
        levels("a").set("nope", state(HALTED))


def test_the_supervisor_keeps_halted_against_health_and_risk_until_resumed():
    emergency = EmergencyState(now_ns=1)
    assert emergency.impose(HALTED, "operator", 2) is not None
    assert emergency.impose(REDUCING, "health critical", 3) is None  # refused
    assert emergency.impose(ACTIVE, "health ok", 3) is None
    emergency.from_risk(state(ACTIVE, "new UTC day"))
    assert emergency.effective.level is HALTED
    emergency.resume("operator resumes", 4)
    assert emergency.effective.level is ACTIVE and not emergency.halted


def test_a_resume_also_lifts_risks_own_halt_in_the_supervisors_view():
    # Risk's drawdown halt used to outlive the resume here: the effective
    # state, which is what is persisted, stayed HALTED.
    emergency = EmergencyState(now_ns=1)
    emergency.from_risk(state(HALTED, "drawdown limit"))
    emergency.impose(HALTED, "drawdown limit", 2)
    emergency.resume("operator", 3)
    assert emergency.effective.level is ACTIVE


def test_a_daily_loss_reducing_from_risk_survives_a_resume():
    emergency = EmergencyState(now_ns=1)
    emergency.from_risk(state(REDUCING, "daily loss limit"))
    emergency.impose(HALTED, "operator", 2)
    emergency.resume("operator", 3)
    assert emergency.effective.reason == "daily loss limit"


def test_a_restored_halt_is_marked_restored_once_however_often_it_restarts():
    emergency = EmergencyState(now_ns=5, restored=state(HALTED, "budget spent", at=2))
    assert emergency.halted and emergency.imposed.reason == RESTORED + "budget spent"
    again = EmergencyState(now_ns=9, restored=emergency.imposed)
    assert again.imposed.reason == RESTORED + "budget spent"
    assert again.imposed.since_ns == 2
    assert not EmergencyState(now_ns=5, restored=state(REDUCING)).halted


def test_the_state_file_round_trips_and_resumes_offline(tmp_path):
    file = TradingStateFile(tmp_path / "trading_state.json")
    assert file.load() is None and file.resume_offline("r", 1) is None
    file.save(state(HALTED, "halted here", at=7), run_id="live", mode="live", unwinding=True)
    assert file.load().level is HALTED and file.unwinding()
    assert file.resume_offline("operator", 9).reason == "halted here"
    assert file.load().level is ACTIVE and file.load().reason == "operator"
    assert not file.unwinding()
    assert file.resume_offline("again", 10) is None


@pytest.mark.parametrize("text", ["{", "[]", '{"level": "SIDEWAYS", "reason": "", "since_ns": 0}',
                                  '{"reason": ""}'])
def test_a_damaged_state_file_is_refused_with_its_name(tmp_path, text):
    path = tmp_path / "trading_state.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="trading_state.json: not a trading state"):
        TradingStateFile(path).load()
    assert not TradingStateFile(path).unwinding()
