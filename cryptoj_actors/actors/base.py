"""The common shell of every actor: dispatch by message type, failure reports.

pykka stops an actor whose ``tell`` handler raises and calls ``on_failure``
(not ``on_stop``); an exception in ``on_start`` calls neither. Both are turned
here into a :class:`~cryptoj_actors.messages.ChildDown` for the supervisor
(DESIGN.md section 5), so no failure goes unnoticed. Subclasses stay thin:
they map message types to handlers and delegate to a domain object.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar

import pykka

from cryptoj_actors.messages import ChildDown, Message, Ping, Registered, Tick
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

Handler = Callable[[Any], Any]


class InjectedFault(RuntimeError):
    """A failure asked for by the ``[faults]`` config, for drills."""


class RoleActor(pykka.ThreadingActor):
    """Base of all the system's actors.

    Args:
        runtime: what the running system shares (directory, halt switch...).
        generation: how many times this role was restarted before.
    """

    role: ClassVar[str] = "actor"
    # A hung actor's thread cannot be killed; it must not keep the process
    # alive once the supervisor has halted and the operator's command ends.
    use_daemon_thread = True

    @staticmethod
    def _create_actor_inbox() -> queue.SimpleQueue[Any]:
        # pykka's runtime hook for the mailbox. SimpleQueue is implemented in
        # C; with hundreds of thousands of messages in a replay it costs
        # markedly less CPU per message than the default queue.Queue.
        return queue.SimpleQueue()

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__()
        self.rt = runtime
        self.generation = generation
        self.unhandled: Counter[str] = Counter()
        faults = runtime.config.faults
        self._fault_at = faults.at_batch if faults.role == self.role else None
        self._handlers: dict[type, Handler] = {Registered: lambda _: self.registered(),
                                               Ping: lambda _: self.generation,
                                               **self.handlers()}
        self._timers: list[Periodic] = []

    def handlers(self) -> dict[type, Handler]:
        """Message type -> bound handler. Override in each actor."""
        return {}

    def started(self) -> None:
        """Set-up in the actor's own thread, before any message. Override."""

    def registered(self) -> None:
        """Called once the supervisor has registered this actor under its role.

        pykka runs ``on_start`` as soon as the actor exists, possibly before
        the directory knows it; an actor that starts activity whose answers
        come back to its role (the feed) starts it here. Override.
        """

    def stopping(self) -> None:
        """Clean-up on a normal stop and after a failure. Override."""

    # pykka hooks -------------------------------------------------------------------

    def on_start(self) -> None:
        try:
            self.started()
        except Exception as exc:
            self._report_down(exc)
            self._stop_timers()
            raise

    def on_stop(self) -> None:
        self._stop_timers()
        self.stopping()

    def on_failure(self, exception_type: type[BaseException] | None,
                   exception_value: BaseException | None,
                   traceback: TracebackType | None) -> None:
        self._stop_timers()
        self._report_down(exception_value)
        try:
            self.stopping()
        except Exception:
            log.exception("%s: clean-up after failure failed", self.role)

    def on_receive(self, message: Any) -> Any:
        if self._fault_at is not None and getattr(message, "seq", None) == self._fault_at:
            self._inject_fault()
        handler = self._handlers.get(type(message))
        if handler is None:
            name = type(message).__name__
            self.unhandled[name] += 1
            self.rt.telemetry.errors[self.role] += 1
            if self.unhandled[name] == 1:
                log.warning("%s: ignoring unexpected message %s", self.role, name)
            return None
        return handler(message)

    # helpers -----------------------------------------------------------------------

    def _inject_fault(self) -> None:
        if self.rt.faults_fired < self.rt.config.faults.times:
            self.rt.faults_fired += 1
            raise InjectedFault(f"injected fault #{self.rt.faults_fired} in {self.role} at "
                                f"batch {self._fault_at}")

    def send(self, role: str, message: Message) -> bool:
        """Tell ``role`` through the directory; False if it is down (a dead letter)."""
        return self.rt.directory.tell(role, message)

    def every(self, interval_s: float, name: str) -> None:
        """Send this role a ``Tick(name=name)`` every ``interval_s`` seconds."""
        timer = Periodic(self.rt, self.role, interval_s, name)
        self._timers.append(timer)
        timer.start()

    def _stop_timers(self) -> None:
        for timer in self._timers:
            timer.stop()
        self._timers.clear()

    def _report_down(self, exc: BaseException | None) -> None:
        error = f"{type(exc).__name__}: {exc}" if exc else "unknown error"
        log.error("%s failed: %s", self.role, error)
        self.rt.telemetry.errors[self.role] += 1
        self.send("supervisor", ChildDown(sender=self.role, ts_ns=time.time_ns(),
                                          role=self.role, error=error,
                                          generation=self.generation))


class Periodic:
    """A daemon thread that tells a role a :class:`Tick` at a fixed interval.

    It addresses the role through the directory, so ticks follow restarts;
    it stops when told to or when the role is gone.
    """

    def __init__(self, runtime: Runtime, role: str, interval_s: float, name: str) -> None:
        self._rt = runtime
        self._role = role
        self._interval = interval_s
        self._name = name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{role}-{name}-timer",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            tick = Tick(sender=self._role, ts_ns=time.time_ns(), name=self._name)
            ref = self._rt.directory.get(self._role)
            if ref is None:
                continue
            try:
                ref.tell(tick)
            except pykka.ActorDeadError:
                return
