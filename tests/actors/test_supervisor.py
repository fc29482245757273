"""The supervisor on real threads: restarts with backoff, the restart budget,
failures in ``on_start``, significant children, and the stop order."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pykka
import pytest

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.actors.supervisor import ChildSpec, SupervisorActor
from cryptoj_actors.config import Config, SupervisorConfig
from cryptoj_actors.messages import HealthStatus, OperatorCommand, Tick, TradingState
from cryptoj_actors.model import HealthLevel, TradingLevel
from cryptoj_actors.runtime import RunInfo, Runtime
from cryptoj_actors.state.trading import TradingStateFile
from cryptoj_actors.supervision.restart import RestartType
from tests.conftest import wait_until


class Worker(RoleActor):
    """A child that crashes when told ``Tick(name="crash")``."""

    def __init__(self, runtime: Runtime, generation: int, *, role: str, events: list,
                 fail_on_start: bool = False) -> None:
        self.role = role
        super().__init__(runtime, generation)
        self.events = events
        self.fail_on_start = fail_on_start

    def handlers(self) -> dict[type, Handler]:
        return {Tick: self.on_tick}

    def started(self) -> None:
        self.events.append(("start", self.role, self.generation))
        if self.fail_on_start:
            raise RuntimeError("cannot start")

    def stopping(self) -> None:
        self.events.append(("stop", self.role, self.generation))

    def on_tick(self, tick: Tick) -> None:
        if tick.name == "crash":
            raise RuntimeError(f"{self.role} crashed on purpose")


def spec(role: str, events: list, restart: RestartType = RestartType.PERMANENT,
         significant: bool = False, fail_on_start: bool = False) -> ChildSpec:
    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Worker.start(rt, generation, role=role, events=events,
                            fail_on_start=fail_on_start)
    return ChildSpec(role=role, factory=factory, restart=restart, significant=significant,
                     shutdown_timeout_s=2.0)


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    config = replace(Config(), supervisor=SupervisorConfig(
        restart_initial_s=0.02, restart_max_s=0.1, restart_reset_s=60, max_restarts=3,
        restart_window_s=30))
    return Runtime(config=config, run=RunInfo("sup", "replay", tmp_path, tmp_path / "run"))


@pytest.fixture(autouse=True)
def stop_everything():
    yield
    pykka.ActorRegistry.stop_all()


def crash(runtime: Runtime, role: str) -> pykka.ActorRef:
    # The child's on_start can run before the supervisor has registered it.
    wait_until(lambda: (ref := runtime.directory.get(role)) is not None and ref.is_alive())
    ref = runtime.directory.get(role)
    ref.tell(Tick(sender="test", ts_ns=0, name="crash"))
    return ref


def test_a_permanent_child_is_restarted_and_reachable_again(runtime):
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("a", events), spec("b", events)])
    wait_until(lambda: ("start", "b", 0) in events)
    old = crash(runtime, "a")
    # children() is answered between the supervisor's messages: once it shows
    # generation 1, the restarted child is registered.
    wait_until(lambda: sup.proxy().children().get()["a"] == 1)
    wait_until(lambda: ("start", "a", 1) in events)
    new = runtime.directory.get("a")
    assert new is not old and new.is_alive() and not old.is_alive()
    assert runtime.directory.get("b").is_alive()  # one_for_one: b was left alone
    assert not runtime.halt.is_set()
    assert sup.proxy().policy.get().restarts == {"a": 1}


def test_a_restart_storm_spends_the_budget_and_halts(runtime):
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("a", events)])
    for generation in range(4):  # max_restarts = 3: the 4th failure is one too many
        wait_until(lambda g=generation: ("start", "a", g) in events
                 and sup.proxy().children().get()["a"] == g)
        crash(runtime, "a")
    wait_until(lambda: runtime.outcome.status == "halted")
    assert "restart budget spent" in runtime.halt.reason
    state = json.loads(runtime.run.trading_state_file.read_text())
    assert state["level"] == "HALTED" and "restart budget spent" in state["reason"]
    time.sleep(0.2)
    assert ("start", "a", 4) not in events  # not restarted after the halt


def test_a_significant_temporary_child_failing_halts(runtime):
    events: list = []
    SupervisorActor.start(runtime, [spec("ledger", events, RestartType.TEMPORARY,
                                         significant=True)])
    wait_until(lambda: ("start", "ledger", 0) in events)
    crash(runtime, "ledger")
    wait_until(runtime.halt.is_set)
    assert "ledger failed and cannot be restarted safely" in runtime.halt.reason
    assert ("start", "ledger", 1) not in events


def test_a_resume_is_refused_while_a_significant_child_is_down(runtime):
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("ledger", events, RestartType.TEMPORARY,
                                               significant=True), spec("admin", events)])
    wait_until(lambda: ("start", "admin", 0) in events)
    crash(runtime, "ledger")
    wait_until(runtime.halt.is_set)
    refusal = sup.proxy().resume("operator").get(timeout=5)
    assert refusal == "ledger down or hung: restart the process to resume"
    assert runtime.halt.is_set() and sup.proxy().emergency.get().halted


def test_a_failure_in_on_start_is_reported_and_restarted(runtime):
    events: list = []
    SupervisorActor.start(runtime, [spec("flaky", events, fail_on_start=True)])
    # Every start fails, so the budget runs out: the failures were all seen.
    wait_until(runtime.halt.is_set)
    assert [e for e in events if e[0] == "start"] == [("start", "flaky", g) for g in range(4)]
    assert "flaky" in runtime.halt.reason


def test_children_stop_in_reverse_start_order(runtime):
    events: list = []
    sup = SupervisorActor.start(runtime, [spec(r, events) for r in ("first", "second", "third")])
    wait_until(lambda: ("start", "third", 0) in events)
    sup.proxy().shutdown().get(timeout=10)
    assert [e[1] for e in events if e[0] == "stop"] == ["third", "second", "first"]


class Unlisted(Worker):
    """A child that notes, as it stops, whether its role still leads to it."""

    listed_at_stop: list = []

    def stopping(self) -> None:
        self.listed_at_stop.append((self.role, self.rt.directory.get(self.role) is not None))
        super().stopping()


def test_a_clean_stop_takes_each_child_out_of_the_directory_before_stopping_it(runtime):
    # Health samples the directory: a role still listed while it stops would
    # be "down" to it, and each clean stop would log CRITICAL actor:<role> down.
    events: list = []

    def unlisted(role: str) -> ChildSpec:
        return replace(spec(role, events), factory=lambda rt, gen: Unlisted.start(
            rt, gen, role=role, events=events))

    sup = SupervisorActor.start(runtime, [unlisted("health"), unlisted("admin")])
    wait_until(lambda: ("start", "admin", 0) in events)
    sup.proxy().shutdown().get(timeout=10)
    assert Unlisted.listed_at_stop == [("admin", False), ("health", False)]


class Sleeper(Worker):
    """A child that hangs (blocks its thread) when told ``Tick(name="hang")``."""

    release = threading.Event()

    def on_tick(self, tick: Tick) -> None:
        if tick.name == "hang":
            self.release.wait(30)
        super().on_tick(tick)


def test_a_hung_significant_child_halts_the_system(runtime):
    runtime = replace(runtime, config=replace(runtime.config, supervisor=replace(
        runtime.config.supervisor, liveness_interval_s=0.05, liveness_timeout_s=0.3)))
    events: list = []

    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Sleeper.start(rt, generation, role="risk", events=events)

    Sleeper.release.clear()
    sup = SupervisorActor.start(runtime, [ChildSpec(role="risk", factory=factory,
                                                    restart=RestartType.TEMPORARY,
                                                    significant=True, shutdown_timeout_s=0.1)])
    wait_until(lambda: (ref := runtime.directory.get("risk")) is not None and ref.is_alive())
    runtime.directory.get("risk").tell(Tick(sender="test", ts_ns=0, name="hang"))
    try:
        wait_until(runtime.halt.is_set, timeout=5)
        assert "risk hung: no answer to a liveness ping in 0.3 s" in runtime.halt.reason
        # alive but hung: a resume would trade without it
        assert sup.proxy().resume("operator").get(timeout=5) == \
            "risk down or hung: restart the process to resume"
        assert runtime.halt.is_set()
    finally:
        Sleeper.release.set()


def hang_and_answer(tmp_path: Path, auto_resume_after_s: float, caplog) -> Runtime:
    """A live system whose significant risk actor hangs (a halt) and then
    answers again; returned once the hang has cleared."""
    config = replace(Config(), supervisor=replace(
        Config().supervisor, liveness_interval_s=0.05, liveness_timeout_s=0.2,
        auto_resume_after_s=auto_resume_after_s))
    runtime = Runtime(config=config, run=RunInfo("live-1", "live", tmp_path, tmp_path / "run"))
    events: list = []

    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Sleeper.start(rt, generation, role="risk", events=events)

    Sleeper.release.clear()
    SupervisorActor.start(runtime, [ChildSpec(role="risk", factory=factory,
                                              restart=RestartType.PERMANENT, significant=True,
                                              shutdown_timeout_s=0.1)])
    wait_until(lambda: (ref := runtime.directory.get("risk")) is not None and ref.is_alive())
    runtime.directory.get("risk").tell(Tick(sender="test", ts_ns=0, name="hang"))
    try:
        wait_until(runtime.halt.is_set, timeout=5)
    finally:
        Sleeper.release.set()
    wait_until(lambda: runtime.board.hung == ())
    return runtime


def test_a_halt_for_a_hung_actor_is_resumed_automatically_when_configured(tmp_path, caplog):
    runtime = hang_and_answer(tmp_path, 0.3, caplog)
    wait_until(lambda: not runtime.halt.is_set(), timeout=5)
    assert runtime.board.trading_state.level is TradingLevel.ACTIVE
    assert "automatic: nothing hung for" in runtime.board.trading_state.reason
    # The supervisor says the alert just after it clears the halt: waited for.
    wait_until(lambda: any("ALERT: automatic resume" in r.getMessage()
                           for r in caplog.records), timeout=5)


def test_without_the_rule_a_hung_actors_halt_waits_for_the_operator(tmp_path, caplog):
    runtime = hang_and_answer(tmp_path, 0.0, caplog)
    seen = set()
    for _ in range(40):  # 1 s: about 20 liveness ticks with nothing hung
        seen.add(runtime.halt.is_set())
        time.sleep(0.025)
    assert seen == {True}


def test_a_hung_child_stays_hung_until_it_answers(runtime, caplog):
    runtime = replace(runtime, config=replace(runtime.config, supervisor=replace(
        runtime.config.supervisor, liveness_interval_s=0.05, liveness_timeout_s=0.2)))
    events: list = []
    Sleeper.release.clear()

    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Sleeper.start(rt, generation, role="admin", events=events)

    SupervisorActor.start(runtime, [ChildSpec(role="admin", factory=factory,
                                              restart=RestartType.PERMANENT,
                                              significant=False, shutdown_timeout_s=0.1)])
    wait_until(lambda: (ref := runtime.directory.get("admin")) is not None and ref.is_alive())
    runtime.directory.get("admin").tell(Tick(sender="test", ts_ns=0, name="hang"))
    try:
        wait_until(lambda: runtime.board.hung == ("admin",))
        seen = set()
        for _ in range(40):  # 1 s: about 20 liveness ticks, each must still see it hung
            seen.add(runtime.board.hung)
            time.sleep(0.025)
        assert seen == {("admin",)}
        assert sum("admin hung" in r.message for r in caplog.records) == 1
        assert not runtime.halt.is_set()  # admin is not significant
    finally:
        Sleeper.release.set()
    wait_until(lambda: runtime.board.hung == ())


def test_health_reducing_lifts_only_after_a_quiet_spell(tmp_path):
    config = replace(Config(), health=replace(Config().health, recover_after_s=30),
                     supervisor=replace(Config().supervisor, liveness_interval_s=0.05))
    runtime = Runtime(config=config, run=RunInfo("live-5", "live", tmp_path, tmp_path / "run"))
    events: list = []
    clock = [1000.0]  # the rule's monotonic seconds, moved by the test alone
    sup = SupervisorActor.start(runtime, [spec("risk", events)], clock=lambda: clock[0])
    sup.proxy().children().get(timeout=5)

    def level() -> TradingLevel:
        return sup.proxy().emergency.get().effective.level

    def health(level: HealthLevel) -> None:
        sup.tell(HealthStatus(sender="health", ts_ns=0, level=level,
                              checks=(("feed", "lag s 12 > 10"),) if level is
                              HealthLevel.CRITICAL else ()))
        sup.proxy().children().get(timeout=5)  # taken in before the clock moves on

    def ticks(n: int = 3) -> None:
        # Liveness ticks check the rule too: let a few pass at this time.
        for _ in range(n):
            sup.tell(Tick(sender="test", ts_ns=0, name="liveness"))
        sup.proxy().children().get(timeout=5)  # behind them in the mailbox

    health(HealthLevel.CRITICAL)
    assert level() is TradingLevel.REDUCING
    health(HealthLevel.OK)
    clock[0] += 29.9
    ticks()
    assert level() is TradingLevel.REDUCING  # not yet: 29.9 s of 30
    health(HealthLevel.CRITICAL)  # a relapse starts the spell again
    health(HealthLevel.OK)
    clock[0] += 29.9
    ticks()
    assert level() is TradingLevel.REDUCING
    clock[0] += 0.1
    ticks()
    assert level() is TradingLevel.ACTIVE
    saved = TradingStateFile(runtime.run.trading_state_file)
    assert saved.load().level is TradingLevel.ACTIVE
    assert saved.load().reason == "health OK again for 30.0 s"


def test_health_never_changes_trading_in_a_replay(runtime):
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("risk", events)])
    wait_until(lambda: ("start", "risk", 0) in events)
    sup.tell(HealthStatus(sender="health", ts_ns=0, level=HealthLevel.CRITICAL,
                          checks=(("memory", "5000 MiB > 4096 MiB"),)))
    assert sup.proxy().emergency.get().effective.level is TradingLevel.ACTIVE


def test_a_live_system_restarts_halted_and_health_cannot_lift_it(tmp_path):
    config = replace(Config(), supervisor=replace(Config().supervisor, restart_initial_s=0.01))
    run = RunInfo("live-1", "live", tmp_path, tmp_path / "run")
    TradingStateFile(run.trading_state_file).save(
        TradingState(sender="supervisor", ts_ns=0, level=TradingLevel.HALTED,
                     reason="drawdown drill", since_ns=5), run_id="live-0", mode="live")
    runtime = Runtime(config=config, run=run)
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("risk", events)])
    wait_until(lambda: ("start", "risk", 0) in events)
    assert runtime.halt.is_set() and "drawdown drill" in runtime.halt.reason
    for level in (HealthLevel.CRITICAL, HealthLevel.OK):
        sup.tell(HealthStatus(sender="health", ts_ns=0, level=level))
    sup.tell(TradingState(sender="risk", ts_ns=0, level=TradingLevel.ACTIVE,
                          reason="new UTC day", since_ns=0))
    state = sup.proxy().emergency.get().effective
    assert state.level is TradingLevel.HALTED
    assert TradingStateFile(run.trading_state_file).load().level is TradingLevel.HALTED


def test_an_operator_resume_leaves_halted_and_tells_risk(tmp_path):
    from tests.actors.recorder import Recorder

    run = RunInfo("live-2", "live", tmp_path, tmp_path / "run")
    runtime = Runtime(config=Config(), run=run)

    def recorder(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Recorder.start(rt, "risk")

    sup = SupervisorActor.start(runtime, [ChildSpec(role="risk", factory=recorder,
                                                    restart=RestartType.PERMANENT,
                                                    significant=False)])
    sup.proxy().children().get(timeout=5)
    sup.tell(OperatorCommand(sender="admin", ts_ns=0, command="halt", reason="drill"))
    wait_until(runtime.halt.is_set)
    assert sup.proxy().resume("all clear").get(timeout=5) is None
    wait_until(lambda: not runtime.halt.is_set())
    assert TradingStateFile(run.trading_state_file).load().level is TradingLevel.ACTIVE

    def told() -> list[TradingState]:
        return [m for m in runtime.directory.get("risk").proxy().messages().get(timeout=5)
                if isinstance(m, TradingState)]

    wait_until(lambda: len(told()) == 2)
    assert [(m.level, m.reason) for m in told()] == [(TradingLevel.HALTED, "drill"),
                                                  (TradingLevel.ACTIVE, "all clear")]


def test_a_resume_under_critical_health_resumes_to_reducing(tmp_path):
    run = RunInfo("live-3", "live", tmp_path, tmp_path / "run")
    runtime = Runtime(config=Config(), run=run)
    events: list = []
    sup = SupervisorActor.start(runtime, [spec("risk", events)])
    sup.proxy().children().get(timeout=5)
    sup.tell(HealthStatus(sender="health", ts_ns=0, level=HealthLevel.CRITICAL,
                          checks=(("memory", "5000 MiB > 4096 MiB"),)))
    sup.tell(OperatorCommand(sender="admin", ts_ns=0, command="halt", reason="drill"))
    assert sup.proxy().resume("all clear").get(timeout=5) is None
    wait_until(lambda: not runtime.halt.is_set())
    # health reports changes only: the critical report before the halt still stands
    state = sup.proxy().emergency.get().effective
    assert (state.level, state.reason) == (TradingLevel.REDUCING,
                                           "health critical: memory 5000 MiB > 4096 MiB")
    assert TradingStateFile(run.trading_state_file).load().level is TradingLevel.REDUCING


def test_a_live_restart_during_an_unwind_goes_on_unwinding(tmp_path):
    from tests.actors.recorder import Recorder

    run = RunInfo("live-4", "live", tmp_path, tmp_path / "run")
    TradingStateFile(run.trading_state_file).save(
        TradingState(sender="supervisor", ts_ns=0, level=TradingLevel.HALTED,
                     reason="drawdown limit", since_ns=5), run_id="live-3", mode="live",
        unwinding=True)
    runtime = Runtime(config=Config(), run=run)

    def recorder(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Recorder.start(rt, "risk")

    sup = SupervisorActor.start(runtime, [ChildSpec(role="risk", factory=recorder,
                                                    restart=RestartType.PERMANENT)])
    sup.proxy().children().get(timeout=5)
    assert runtime.halt.is_set() and runtime.halt.unwinding  # the market data keeps flowing

    def commands() -> list[OperatorCommand]:
        return [m for m in runtime.directory.get("risk").proxy().messages().get(timeout=5)
                if isinstance(m, OperatorCommand)]

    wait_until(lambda: len(commands()) == 1)
    assert commands()[0].command == "unwind"
    assert TradingStateFile(run.trading_state_file).unwinding()
    sup.proxy().resume("flat now").get(timeout=5)
    assert not TradingStateFile(run.trading_state_file).unwinding()


class Listener(Worker):
    """A child that keeps the trading states it is told, per generation."""

    told: list = []

    def handlers(self) -> dict[type, Handler]:
        return {**super().handlers(), TradingState: self.on_state}

    def on_state(self, state: TradingState) -> None:
        self.told.append((self.generation, state.level))


def live_runtime(tmp_path: Path, **supervisor) -> Runtime:
    config = replace(Config(), supervisor=replace(Config().supervisor, restart_initial_s=0.01,
                                                  **supervisor))
    return Runtime(config=config, run=RunInfo("live-1", "live", tmp_path, tmp_path / "run"))


def test_a_restarted_pipeline_hears_the_level_imposed_before_it(tmp_path):
    """Health's REDUCING stands when a pipeline actor fails: the new
    generation of risk must hear it, or it would trade ACTIVE."""
    runtime = live_runtime(tmp_path)
    events: list = []
    Listener.told = []

    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Listener.start(rt, generation, role="risk", events=events)

    sup = SupervisorActor.start(runtime, [ChildSpec(
        role="risk", factory=factory, restart=RestartType.PERMANENT, shutdown_timeout_s=2.0,
        restart_from="risk")])
    wait_until(lambda: ("start", "risk", 0) in events)
    sup.tell(HealthStatus(sender="health", ts_ns=0, level=HealthLevel.CRITICAL))
    wait_until(lambda: (0, TradingLevel.REDUCING) in Listener.told)
    crash(runtime, "risk")
    wait_until(lambda: (1, TradingLevel.REDUCING) in Listener.told)


def test_a_live_child_that_does_not_stop_for_its_restart_halts_rather_than_doubles(tmp_path):
    runtime = live_runtime(tmp_path)
    events: list = []
    Sleeper.release.clear()

    def factory(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Sleeper.start(rt, generation, role="executor", events=events)

    def worker(rt: Runtime, generation: int) -> pykka.ActorRef:
        return Worker.start(rt, generation, role="risk", events=events)

    SupervisorActor.start(runtime, [
        ChildSpec(role="executor", factory=factory, restart=RestartType.PERMANENT,
                  shutdown_timeout_s=0.2, restart_from="executor"),
        ChildSpec(role="risk", factory=worker, restart=RestartType.PERMANENT,
                  shutdown_timeout_s=0.2, restart_from="executor")])
    wait_until(lambda: ("start", "risk", 0) in events)
    runtime.directory.get("executor").tell(Tick(sender="test", ts_ns=0, name="hang"))
    try:
        crash(runtime, "risk")
        wait_until(runtime.halt.is_set, timeout=5)
        assert "executor did not stop for a restart after risk failed" in runtime.halt.reason
        assert ("start", "executor", 1) not in events
    finally:
        Sleeper.release.set()
