"""Emergency levels on real data and real threads: the daily loss limit, a
drawdown halt that unwinds the book, and an operator's halt with unwind."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal

import pytest

from cryptoj_actors.actors.admin import UNWIND_LINE
from cryptoj_actors.clock import NS_PER_DAY
from cryptoj_actors.config import FaultsConfig
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.report.results import RunResults
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.state.trading import TradingStateFile
from cryptoj_actors.system import TradingSystem
from tests.actors.test_system import HOURS, START, config_for, held_at, replay
from tests.conftest import wait_until, window


@pytest.fixture(scope="module")
def crash_window(aligned_real):
    return window(aligned_real, START, HOURS)


def positions_at_end(results: RunResults) -> dict[str, Decimal]:
    return {p.product_id: p.base_size for p in results.portfolio.snapshot.positions}


def test_the_daily_loss_limit_reduces_until_the_next_utc_day(crash_window, tmp_path):
    _, results = replay(crash_window, tmp_path)
    changes = results.risk_state_changes
    assert [c.level.value for c in changes[:2]] == ["REDUCING", "ACTIVE"]
    reduced, lifted = changes[0], changes[1]
    assert "daily loss limit" in reduced.reason
    assert lifted.since_ns == (reduced.since_ns // NS_PER_DAY + 1) * NS_PER_DAY  # midnight
    buys_in_between = [t for t in results.portfolio.trades if t.side == "BUY"
                       and reduced.since_ns < t.time_ns <= lifted.since_ns]
    assert buys_in_between == []


def test_a_drawdown_breach_halts_and_unwinds_gradually(crash_window, tmp_path):
    config = config_for(tmp_path)
    config = replace(config, risk=replace(config.risk, max_drawdown=Decimal("0.03")))
    run = RunInfo(run_id="dd", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(crash_window))
    system.start()
    try:
        assert system.wait(120)
        results = system.results()
    finally:
        system.stop()
    assert results.status == "halted" and "drawdown limit" in results.reason
    assert len(results.portfolio.equity) == HOURS  # the data kept flowing for the unwind
    trades = results.portfolio.trades
    unwind = [t for t in trades if t.reason.startswith("unwind")]
    halted_at = unwind[0].time_ns
    assert len(unwind) >= 3 and all(t.side == "SELL" for t in unwind)
    assert [t for t in trades if t.time_ns >= halted_at and t.side == "BUY"] == []
    assert all(size == 0 for size in positions_at_end(results).values())
    # the first slice went to the biggest position at the time of the halt
    before = [p for p in results.portfolio.equity if p.time_ns <= halted_at][-1]
    biggest = max(before.weights, key=lambda pw: pw[1])[0]
    assert unwind[0].product_id == biggest
    state = TradingStateFile(run.trading_state_file).load()
    assert state.level.value == "HALTED" and "drawdown limit" in state.reason


def test_an_operator_halt_with_unwind_closes_the_book(crash_window, tmp_path):
    # The halt meets batch 1500, however fast the replay: with the data still
    # flowing for the unwind, a halt seen late would find the data over.
    release = threading.Event()
    config = held_at(config_for(tmp_path, credit_window=1), 1500, release)
    run = RunInfo(run_id="op", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(crash_window))
    system.start()
    try:
        wait_until(lambda: system.rt.progress.settled >= 1499, timeout=60)
        StateDir(tmp_path).control_file.write_text(f"drill\n{UNWIND_LINE}\n")
        wait_until(system.rt.halt.is_set, timeout=5)
        release.set()
        assert system.wait(120)
        results = system.results()
    finally:
        release.set()
        system.stop()
    assert results.status == "halted" and "control file HALT: drill" in results.reason
    trades = results.portfolio.trades
    unwind = [t for t in trades if t.reason.startswith("unwind")]
    assert unwind, "the book held positions in mid-December 2017"
    assert [t for t in trades if t.time_ns >= unwind[0].time_ns and t.side == "BUY"] == []
    assert all(size == 0 for size in positions_at_end(results).values())


def test_a_trading_state_that_cannot_be_recorded_halts(crash_window, tmp_path):
    run = RunInfo(run_id="disk", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    # The state file's place is taken by a directory: every atomic write (a
    # rename onto it) fails, even as root.
    (tmp_path / "run" / "trading_state.json").mkdir(parents=True)
    system = TradingSystem(config_for(tmp_path), run, lambda: BarReplaySource(crash_window))
    system.start()
    try:
        assert system.wait(60)
        results = system.results()
        system.supervisor.proxy().resume("operator").get(timeout=5)
        assert system.rt.halt.is_set(), "a resume that cannot be recorded is refused"
    finally:
        system.stop()
    assert results.status == "halted"
    assert results.reason.startswith(f"cannot record the trading state in {run.trading_state_file}")
    assert results.portfolio.trades == ()


def test_a_pipeline_failure_during_an_unwind_ends_the_replay_halted(crash_window, tmp_path):
    config = config_for(tmp_path)
    config = replace(config, risk=replace(config.risk, max_drawdown=Decimal("0.03")),
                     faults=FaultsConfig(role="strategy", at_batch=HOURS - 400, times=1),
                     supervisor=replace(config.supervisor, restart_initial_s=0.02))
    run = RunInfo(run_id="dd", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(crash_window))
    system.start()
    try:
        assert system.wait(60), "a replay whose pipeline died while halted must still end"
        results = system.results()
    finally:
        system.stop()
    assert system.rt.faults_fired == 1
    assert results.status == "halted"
    assert "drawdown limit" in results.reason
    assert results.reason.endswith("strategy failed while halted, not restarted")
