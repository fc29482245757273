"""The emergency supervisor: starts every actor, restarts failed ones with
backoff within a budget, and halts the system when recovery is not possible
(DESIGN.md sections 5 and 6).

It also keeps the trading state the operator sees: every change, with its
reason and time, is written atomically to ``trading_state.json`` in the state
directory (temp file, fsync, rename).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import pykka

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.clock import iso
from cryptoj_actors.messages import (
    ChildDown, EndOfData, HealthLevel, HealthStatus, OperatorCommand, Registered, RestartDue,
    TradingLevel, TradingState,
)
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.supervision.restart import RestartPolicy
from cryptoj_actors.supervision.specs import ChildSpec

log = logging.getLogger(__name__)

STATE_FILE = "trading_state.json"


class SupervisorActor(RoleActor):
    role = "supervisor"

    def __init__(self, runtime: Runtime, specs: Sequence[ChildSpec]) -> None:
        super().__init__(runtime)
        self.specs = {spec.role: spec for spec in specs}
        self.order = [spec.role for spec in specs]
        self.policy = RestartPolicy(runtime.config.supervisor)
        self.generations: dict[str, int] = {}
        self.state = TradingState(sender=self.role, ts_ns=time.time_ns(),
                                  level=TradingLevel.ACTIVE, reason="started",
                                  since_ns=time.time_ns())
        self.history: list[TradingState] = []
        self._restart_timers: list[threading.Timer] = []
        self._health_reducing = False
        self._stopping = False

    def handlers(self) -> dict[type, Handler]:
        return {ChildDown: self.on_child_down, RestartDue: self.on_restart_due,
                HealthStatus: self.on_health, TradingState: self.on_trading_state,
                OperatorCommand: self.on_command, EndOfData: self.on_end}

    def started(self) -> None:
        self.rt.directory.register(self.role, self.actor_ref)
        self._persist(self.state)
        for role in self.order:
            self._start(role)

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
            try:
                ref.stop(block=True, timeout=self.specs[role].shutdown_timeout_s)
            except pykka.Timeout:
                log.error("supervisor: %s did not stop within %.1f s", role,
                          self.specs[role].shutdown_timeout_s)
            self.rt.directory.unregister(role, ref)

    def on_child_down(self, down: ChildDown) -> None:
        if self._stopping or down.generation != self.generations.get(down.role):
            return  # an older incarnation, already replaced
        spec = self.specs[down.role]
        verdict = self.policy.on_down(down.role, spec.restart, spec.significant,
                                      time.monotonic())
        log.error("supervisor: %s down (%s): %s", down.role, down.error, verdict.reason)
        if verdict.halt:
            self.halt(f"{verdict.reason} ({down.error})")
        elif verdict.restart:
            timer = threading.Timer(verdict.delay_s, self._remind, args=(down.role,))
            timer.daemon = True
            self._restart_timers.append(timer)
            timer.start()

    def _remind(self, role: str) -> None:
        try:
            self.actor_ref.tell(RestartDue(sender=self.role, ts_ns=time.time_ns(), role=role))
        except pykka.ActorDeadError:
            pass

    def on_restart_due(self, due: RestartDue) -> None:
        if not self.rt.halt.is_set():
            log.warning("supervisor: restarting %s", due.role)
            self._start(due.role)

    # --- trading state -------------------------------------------------------------

    def on_trading_state(self, state: TradingState) -> None:
        """A change decided by risk (the daily loss limit): record and persist it."""
        self._record(state)

    def on_health(self, status: HealthStatus) -> None:
        if self._stopping:
            return
        checks = "; ".join(f"{name} {detail}" for name, detail in status.checks)
        if status.level is HealthLevel.CRITICAL and not self._health_reducing:
            self._health_reducing = True
            self._impose(TradingLevel.REDUCING, f"health critical: {checks}")
        elif status.level is not HealthLevel.CRITICAL and self._health_reducing:
            self._health_reducing = False
            log.warning("supervisor: health %s again; lifting REDUCING (automatic rule)",
                        status.level.value)
            self._impose(TradingLevel.ACTIVE, f"health {status.level.value} again")

    def on_command(self, command: OperatorCommand) -> None:
        if command.command == "halt":
            self.halt(command.reason or f"operator ({command.source})")
        else:
            log.warning("supervisor: unknown operator command %r", command.command)

    def on_end(self, end: EndOfData) -> None:
        self.rt.outcome.end("finished", f"end of data after {end.last_seq} batches")

    def halt(self, reason: str) -> None:
        """HALTED: no new orders, open orders cancelled, the feed stops."""
        if self.state.level is TradingLevel.HALTED:
            return
        self.rt.halt.set(reason)
        log.critical("supervisor: HALT: %s", reason)
        self._impose(TradingLevel.HALTED, reason)
        if self.rt.run.mode == "replay":
            self.rt.outcome.end("halted", reason)

    def _impose(self, level: TradingLevel, reason: str) -> None:
        now = time.time_ns()
        state = TradingState(sender=self.role, ts_ns=now, level=level, reason=reason,
                             since_ns=now)
        self._record(state)
        for role in ("risk", "executor"):
            self.send(role, state)

    def _record(self, state: TradingState) -> None:
        self.state = state
        self.history.append(state)
        self._persist(state)

    def _persist(self, state: TradingState) -> None:
        path = self.rt.run.state_dir / STATE_FILE
        record: dict[str, Any] = {
            "level": state.level.value, "reason": state.reason, "since": iso(state.since_ns),
            "set_by": state.sender, "run_id": self.rt.run.run_id, "mode": self.rt.run.mode}
        write_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n")


def write_atomic(path: os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new
    file, never a torn one: write a temp file, fsync it, rename it over."""
    tmp = f"{os.fspath(path)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
