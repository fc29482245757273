"""Child specifications (DESIGN.md section 5, after Erlang/OTP)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from cryptoj_actors.runtime import Runtime
from cryptoj_actors.supervision.restart import RestartType

#: Start order; stop order is the reverse.
START_ORDER = ("health", "portfolio", "executor", "risk", "strategy", "feed", "admin")


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
