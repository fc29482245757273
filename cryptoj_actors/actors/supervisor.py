"""The emergency supervisor: starts every actor, restarts failed ones with
backoff within a budget, finds hung ones, and halts the system when recovery
is not possible (DESIGN.md sections 5 and 6).

It keeps the trading state the operator sees (:mod:`cryptoj_actors.supervision.emergency`):
every change is written atomically to ``trading_state.json`` (in the state
directory when live, so a restarted system starts halted if it was; in the
run directory in replay, where every run starts afresh). Its rules (restarts,
when health's ``REDUCING`` lifts, when a resume is refused) are plain objects
in :mod:`cryptoj_actors.supervision`; this shell receives, asks and acts.

In replay, health reports are logged but never change the trading state:
a replay's results must not depend on how busy the machine was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pykka

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.alerts.rules import AlertKind
from cryptoj_actors.messages import (
    ChildDown,
    EndOfData,
    HealthStatus,
    Notice,
    OperatorCommand,
    Ping,
    Registered,
    RestartDue,
    Tick,
    TradingState,
)
from cryptoj_actors.model import HealthLevel, TradingLevel
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.state.trading import TradingStateFile
from cryptoj_actors.supervision.emergency import EmergencyState
from cryptoj_actors.supervision.restart import RestartPolicy, RestartType
from cryptoj_actors.supervision.rules import QuietSpell, resume_refusal

log = logging.getLogger(__name__)


#: Start order; stop order is the reverse.
START_ORDER = ("health", "notifier", "portfolio", "executor", "risk", "strategy", "feed",
               "admin")


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start one role and what to do when it fails.

    ``factory(runtime, generation)`` starts a fresh actor (fresh domain
    objects too) and returns its ref. ``significant`` children are ones the
    system cannot trade without: when such a child is down for good, the
    supervisor halts. ``shutdown_timeout_s`` bounds a normal stop.

    ``restart_from`` chooses the restart strategy (OTP): None restarts the
    child alone (``one_for_one``); a role restarts that role and every child
    started after it that names the same role (``rest_for_one`` within that
    group), for children whose state only makes sense together with the
    others'.
    """

    role: str
    factory: Callable[[Runtime, int], pykka.ActorRef[Any]]
    restart: RestartType
    significant: bool = True
    shutdown_timeout_s: float = 5.0
    restart_from: str | None = None


class SupervisorActor(RoleActor):
    role = "supervisor"

    def __init__(self, runtime: Runtime, specs: Sequence[ChildSpec],
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(runtime)
        self.specs = {spec.role: spec for spec in specs}
        self.order = [spec.role for spec in specs]
        self.policy = RestartPolicy(runtime.config.supervisor)
        self.recovery = QuietSpell(runtime.config.health.recover_after_s, clock)
        after = runtime.config.supervisor.auto_resume_after_s
        #: The automatic rule out of a halt that clears by itself (off: None).
        self.auto_resume = QuietSpell(after, clock) if after > 0 else None
        #: Why the system is halted, by kind: only a halt whose every cause is
        #: ``hung`` may be resumed automatically.
        self._halt_causes: set[str] = set()
        self.generations: dict[str, int] = {}
        self.state_file = TradingStateFile(runtime.run.trading_state_file)
        self.emergency = EmergencyState(time.time_ns())
        self.history: list[TradingState] = []
        self._restart_timers: list[threading.Timer] = []
        self._pings: dict[str, tuple[pykka.Future[Any], float]] = {}
        self._restarting: set[str] = set()
        self._stopping = False
        self._health: HealthStatus | None = None
        self._critical_alerted = False  # health CRITICAL told to the notifier, not yet over

    def handlers(self) -> dict[type, Handler]:
        return {ChildDown: self.on_child_down, RestartDue: self.on_restart_due,
                HealthStatus: self.on_health, TradingState: self.on_trading_state,
                OperatorCommand: self.on_command, EndOfData: self.on_end, Tick: self.on_tick}

    def started(self) -> None:
        self.rt.directory.register(self.role, self.actor_ref)
        unwind = False
        if self.rt.run.mode == "live":
            self.emergency = EmergencyState(time.time_ns(), self.state_file.load())
            unwind = self.emergency.halted and self.state_file.unwinding()
        if self.emergency.halted:
            self._halt_causes.add("restored")  # its cause unknown: never lifted automatically
            self.rt.halt.set(self.emergency.imposed.reason, unwinding=unwind)
            log.critical("supervisor: starting HALTED%s (%s); `resume` lifts it",
                         ", still unwinding the book" if unwind else "",
                         self.emergency.imposed.reason)
        self._persist()
        for role in self.order:
            self._start(role)
        if self.emergency.halted:
            for role in ("risk", "executor"):
                self.send(role, self.emergency.imposed)
        if unwind:  # the unwind the last process did not finish goes on
            self.send("risk", OperatorCommand(sender=self.role, ts_ns=time.time_ns(),
                                              command="unwind",
                                              reason=self.emergency.imposed.reason))
        self.every(self.rt.config.supervisor.liveness_interval_s, "liveness")

    def stopping(self) -> None:
        for timer in self._restart_timers:
            timer.cancel()

    # --- children ------------------------------------------------------------------

    def _start(self, role: str) -> None:
        generation = self.generations.get(role, -1) + 1
        self.generations[role] = generation
        ref = self.specs[role].factory(self.rt, generation)
        self.rt.directory.register(role, ref)
        self.policy.started(role, time.monotonic())
        self.rt.board.generations = dict(self.generations)
        self.rt.board.restarts = dict(self.policy.restarts)
        try:
            ref.tell(Registered(sender=self.role, ts_ns=time.time_ns(), role=role))
        except pykka.ActorDeadError:
            pass  # it failed in on_start; its ChildDown is on the way

    def children(self) -> dict[str, int]:
        """Role -> generation of every child started so far."""
        return dict(self.generations)

    def shutdown(self) -> None:
        """Stop every child in reverse start order (called through a proxy).

        From here on, failures and health reports are the shutdown itself and
        are ignored: nothing is restarted or escalated.
        """
        self._stopping = True
        for timer in self._restart_timers:
            timer.cancel()
        for role in reversed(self.order):
            ref = self.rt.directory.get(role)
            if ref is None:
                continue
            # Out of the directory first: a role stopped on purpose is not
            # "down" to health, which samples until it stops itself.
            self.rt.directory.unregister(role, ref)
            try:
                ref.stop(block=True, timeout=self.specs[role].shutdown_timeout_s)
            except pykka.Timeout:
                log.error("supervisor: %s did not stop within %.1f s", role,
                          self.specs[role].shutdown_timeout_s)

    def on_child_down(self, down: ChildDown) -> None:
        if (self._stopping or down.role in self._restarting
                or down.generation != self.generations.get(down.role)):
            return  # the shutdown itself, a restart under way, or an older incarnation
        spec = self.specs[down.role]
        verdict = self.policy.on_down(down.role, spec.restart, spec.significant,
                                      time.monotonic())
        log.error("supervisor: %s down (%s): %s", down.role, down.error, verdict.reason)
        if verdict.halt:
            if verdict.budget_spent:
                self._notify(AlertKind.BUDGET_SPENT, f"{verdict.reason} ({down.error})")
            self.halt(f"{verdict.reason} ({down.error})")
        elif verdict.restart:
            roles = self._restart_set(down.role)
            self._notify(AlertKind.RESTART, f"{down.role} failed ({down.error}): restarting "
                                            f"{', '.join(roles)} in {verdict.delay_s:.1f} s "
                                            f"({verdict.reason})")
            self._restarting.update(roles)
            stuck = [role for role in reversed(roles)  # rest_for_one: the dependents first
                     if not self._stop_child(role)]
            if stuck and self.rt.run.mode == "live":
                # A successor beside a generation that still runs could send an
                # order twice or book a fill twice: halt instead.
                self.halt(f"{', '.join(stuck)} did not stop for a restart after {down.role} "
                          f"failed ({down.error}): not restarted", cause="hung")
                return
            timer = threading.Timer(verdict.delay_s, self._remind, args=(down.role,))
            timer.daemon = True
            self._restart_timers.append(timer)
            timer.start()

    def _restart_set(self, role: str) -> list[str]:
        """The roles a failure of ``role`` restarts, in start order: itself, or
        its group (``rest_for_one`` from the anchor: the roles from the anchor
        on that name the same anchor, so admin, started last, is not one)."""
        anchor = self.specs[role].restart_from
        if anchor is None:
            return [role]
        return [r for r in self.order[self.order.index(anchor):]
                if self.specs[r].restart_from == anchor]

    def _stop_child(self, role: str) -> bool:
        """Stop ``role`` for its restart; False when it did not stop in time
        (its thread, still running, could act beside a successor)."""
        ref = self.rt.directory.get(role)
        if ref is None:
            return True
        self.rt.directory.unregister(role, ref)
        if ref.is_alive():
            try:
                ref.stop(block=True, timeout=self.specs[role].shutdown_timeout_s)
            except pykka.Timeout:
                log.error("supervisor: %s did not stop for its restart", role)
                return False
        return True

    def _remind(self, role: str) -> None:
        try:
            self.actor_ref.tell(RestartDue(sender=self.role, ts_ns=time.time_ns(), role=role))
        except pykka.ActorDeadError:
            pass

    def on_restart_due(self, due: RestartDue) -> None:
        if self._stopping:
            return
        if self.rt.halt.is_set():
            # A halted system starts nothing new. Without a pipeline role its
            # unwind (if any) ends here, and a replay ends too: its data no
            # longer reaches the end.
            reason = f"{self.rt.halt.reason}; {due.role} failed while halted, not restarted"
            log.critical("supervisor: %s", reason)
            if self.rt.run.mode == "replay" and any(
                    self.specs[role].significant for role in self._restart_set(due.role)):
                self.rt.outcome.end("halted", reason)
            return
        roles = self._restart_set(due.role)
        log.warning("supervisor: restarting %s", ", ".join(roles))
        for role in roles:
            self._restarting.discard(role)
            self._start(role)
        imposed = self.emergency.imposed
        if imposed.level is not TradingLevel.ACTIVE:
            # A new generation starts ACTIVE: it must hear the level imposed on
            # the one before (health's REDUCING), as a new process does.
            for role in ("risk", "executor"):
                if role in roles:
                    self.send(role, imposed)

    def on_tick(self, tick: Tick) -> None:
        """Liveness: every child must answer a ping within the time-out. A
        thread cannot be killed, so a hung significant child halts the system.
        A hung child stays hung until it answers that same ping (no second
        ping is sent meanwhile), so health does not see it come and go."""
        if self._stopping:
            return
        now = time.monotonic()
        timeout = self.rt.config.supervisor.liveness_timeout_s
        hung = []
        for role, (future, sent) in list(self._pings.items()):
            try:
                future.get(timeout=0)
            except pykka.Timeout:
                if now - sent >= timeout:
                    hung.append(role)
                    if role not in self.rt.board.hung:  # newly hung: act once
                        reason = f"{role} hung: no answer to a liveness ping in {timeout:g} s"
                        if self.specs[role].significant:
                            self.halt(reason, cause="hung")
                        else:
                            log.error("supervisor: %s", reason)
                continue
            except Exception:  # noqa: BLE001 - it died; its ChildDown tells the rest
                pass
            del self._pings[role]
        self.rt.board.hung = tuple(hung)
        self._lift_reducing_if_recovered()
        self._resume_if_cleared(hung)
        for role in self.order:
            ref = self.rt.directory.get(role)
            if role not in self._pings and role not in self._restarting and ref is not None \
                    and ref.is_alive():
                ping = Ping(sender=self.role, ts_ns=time.time_ns())
                self._pings[role] = (ref.ask(ping, block=False), now)

    # --- trading state -------------------------------------------------------------

    def on_trading_state(self, state: TradingState) -> None:
        """A change decided by risk (daily loss limit, drawdown): record and
        persist it. Risk's own halt (drawdown) becomes the system's, with the
        market data kept flowing so that risk can unwind at real prices."""
        self.emergency.from_risk(state)
        self.history.append(state)
        self._persist()
        if state.level is not TradingLevel.HALTED:  # a halt is told as one, below
            self._notify(AlertKind.RISK_LIMIT, f"risk: {state.level.value}: {state.reason}")
        if state.level is TradingLevel.HALTED:
            self.halt(state.reason, unwind=True, tell_risk=False)

    def on_health(self, status: HealthStatus) -> None:
        self._health = status
        if self._stopping:
            return
        checks = "; ".join(f"{name} {detail}" for name, detail in status.checks)
        if self.rt.run.mode == "replay":
            log.warning("supervisor: health %s %s (replay: trading is not affected)",
                        status.level.value, checks)
            return
        if status.level is HealthLevel.CRITICAL:
            if not self._critical_alerted:
                self._critical_alerted = True
                self._notify(AlertKind.HEALTH_CRITICAL, f"health CRITICAL: {checks}")
            self.recovery.critical()
            self._impose(TradingLevel.REDUCING, f"health critical: {checks}")
            return
        if self._critical_alerted:
            self._critical_alerted = False
            self._notify(AlertKind.HEALTH_RECOVERED, f"health {status.level.value} again"
                         + (f": {checks}" if checks else ""))
        if self.emergency.imposed.level is TradingLevel.REDUCING:
            self.recovery.calm()
            self._lift_reducing_if_recovered()

    def _lift_reducing_if_recovered(self) -> None:
        """The automatic rule out of health's ``REDUCING``
        (:class:`~cryptoj_actors.supervision.rules.QuietSpell`), checked on
        every health report and liveness tick."""
        if self.emergency.imposed.level is not TradingLevel.REDUCING:
            return
        held = self.recovery.lift()
        if held is None:
            return
        level = self._health.level.value if self._health is not None else "OK"
        log.warning("supervisor: health %s for %.1f s; lifting REDUCING (automatic rule)",
                    level, held)
        self._impose(TradingLevel.ACTIVE, f"health {level} again for {held:.1f} s")

    def _resume_if_cleared(self, hung: list[str]) -> None:
        """The automatic rule out of a halt that clears by itself
        (``[supervisor] auto_resume_after_s``): every cause was a hung actor,
        and nothing has been hung for the quiet time. Logged as an alert."""
        spell = self.auto_resume
        if spell is None or self.rt.run.mode != "live" or not self.emergency.halted \
                or self._halt_causes != {"hung"}:
            return
        if any(self.specs[role].significant for role in hung):
            spell.critical()
            return
        spell.calm()
        held = spell.lift()
        if held is None:
            return
        refusal = self.resume(f"automatic: nothing hung for {held:.1f} s "
                              "([supervisor] auto_resume_after_s)")
        if refusal is None:
            log.critical("supervisor: ALERT: automatic resume: the halt's cause (a hung "
                         "actor) cleared %.1f s ago", held)
        else:
            # Not again: what stands in the way (a significant actor down)
            # does not clear by itself; the operator decides.
            self._halt_causes.add("refused")
            log.critical("supervisor: ALERT: automatic resume refused (%s); still HALTED",
                         refusal)

    def on_command(self, command: OperatorCommand) -> None:
        reason = command.reason or f"operator ({command.source})"
        if command.command == "halt":
            self.halt(reason, unwind=command.unwind)
        else:
            log.warning("supervisor: unknown operator command %r", command.command)

    def on_end(self, end: EndOfData) -> None:
        if self.rt.halt.is_set():
            self.rt.outcome.end("halted", f"{self.rt.halt.reason} (data ran to batch "
                                          f"{end.last_seq})")
        else:
            self.rt.outcome.end("finished", f"end of data after {end.last_seq} batches")

    def halt(self, reason: str, *, unwind: bool = False, tell_risk: bool = True,
             cause: str = "other") -> None:
        """HALTED: no new orders and open ones cancelled (reduce-only exits
        stay). Without ``unwind`` the feed stops (a replay ends); with it the
        data keeps flowing and risk closes the book gradually. ``cause``:
        ``hung`` for a halt that may clear by itself, else ``other``."""
        self._halt_causes.add(cause)
        self.rt.halt.set(reason, unwinding=unwind)
        if self._impose(TradingLevel.HALTED, reason):
            log.critical("supervisor: HALT%s: %s", " and unwind" if unwind else "", reason)
        if unwind and tell_risk:
            self.send("risk", OperatorCommand(sender=self.role, ts_ns=time.time_ns(),
                                              command="unwind", reason=reason))
        if self.rt.run.mode == "replay" and not self.rt.halt.unwinding:
            self.rt.outcome.end("halted", self.rt.halt.reason)

    def resume(self, reason: str) -> str | None:
        """The operator's resume: leave ``HALTED``, trade again.

        Returns:
            None when resumed (or not halted), else why the resume is refused:
            a significant child is down or hung (a halted system restarts
            nothing, and a system without its whole pipeline cannot trade:
            restart the process, which rebuilds from the journal), or the
            resume cannot be recorded.
        """
        if not self.emergency.halted and not self.rt.halt.is_set():
            log.info("supervisor: resume: not halted")
            return None
        refusal = resume_refusal(
            (role for role in self.order if self.specs[role].significant),
            lambda role: (ref := self.rt.directory.get(role)) is not None and ref.is_alive(),
            self.rt.board.hung)
        if refusal is not None:
            log.critical("supervisor: resume refused, still HALTED: %s", refusal)
            return refusal
        state = self.emergency.resume(reason, time.time_ns())
        if not self._persist():  # halted again, for the disk
            refusal = f"the resume cannot be recorded in {self.state_file.path}"
            log.critical("supervisor: resume refused: %s", refusal)
            return refusal
        log.warning("supervisor: RESUME: %s", reason)
        self._notify(AlertKind.RESUME, f"trading resumed: {reason}")
        self._halt_causes.clear()
        self.history.append(state)
        for role in ("risk", "executor", "feed"):
            self.send(role, state)
        self.rt.halt.clear()  # last: the new state is on record and on its way
        if self._health is not None:
            # Health reports changes only: a critical one from before the
            # halt still stands, and still means REDUCING.
            self.on_health(self._health)
        return None

    def _impose(self, level: TradingLevel, reason: str) -> bool:
        state = self.emergency.impose(level, reason, time.time_ns())
        if state is None:
            return False
        if level is TradingLevel.HALTED:
            self._notify(AlertKind.HALT, f"trading HALTED: {reason}")
        else:
            self._notify(AlertKind.TRADING_STATE, f"trading {level.value}: {reason}")
        self.history.append(state)
        self._persist()
        for role in ("risk", "executor"):
            self.send(role, state)
        return True

    def _notify(self, kind: AlertKind, cause: str) -> None:
        """Tell the notifier, where there is one (live runs)."""
        if "notifier" in self.specs:
            self.send("notifier", Notice(sender=self.role, ts_ns=time.time_ns(),
                                         kind=kind.value, cause=cause))

    def _persist(self) -> bool:
        """Record the effective trading state; False when it cannot be.

        A state that is not on disk would be lost by a restart (a halt
        forgotten), so failing to write it halts: trading stops until the
        operator has fixed the disk and resumes.
        """
        self.rt.board.trading_state = self.emergency.effective
        try:
            self.state_file.save(self.emergency.effective, run_id=self.rt.run.run_id,
                                 mode=self.rt.run.mode, unwinding=self.rt.halt.unwinding)
        except OSError as exc:
            reason = f"cannot record the trading state in {self.state_file.path}: {exc}"
            log.critical("supervisor: %s", reason)
            if not self.emergency.halted:  # halt() persists too: once is enough
                self.halt(reason)
            return False
        return True
