"""Addressing by role (DESIGN.md section 4).

pykka cannot restart an actor: a restart is a new actor with a new
:class:`pykka.ActorRef`. Actors therefore never keep each other's refs; they
send to a role through the :class:`Directory`, which the supervisor keeps
current. A message to a role that is down is a dead letter: counted, logged
(the first one per role, then every 1000th), and the sender carries on.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import pykka

log = logging.getLogger(__name__)


class Directory:
    """Role -> current actor ref. Written by the supervisor, read by everyone.

    Reads take no lock: replacing a dict entry is atomic in CPython, and a
    reader that races a restart either reaches the new actor or gets a dead
    letter, which is the contract anyway.
    """

    def __init__(self) -> None:
        self._refs: dict[str, pykka.ActorRef[Any]] = {}
        self._lock = threading.Lock()
        self.dead_letters: Counter[str] = Counter()

    def register(self, role: str, ref: pykka.ActorRef[Any]) -> None:
        with self._lock:
            self._refs[role] = ref

    def unregister(self, role: str, ref: pykka.ActorRef[Any] | None = None) -> None:
        """Forget ``role`` (only if it still points at ``ref``, when given)."""
        with self._lock:
            if ref is None or self._refs.get(role) is ref:
                self._refs.pop(role, None)

    def get(self, role: str) -> pykka.ActorRef[Any] | None:
        return self._refs.get(role)

    def roles(self) -> dict[str, pykka.ActorRef[Any]]:
        return dict(self._refs)

    def tell(self, role: str, message: object) -> bool:
        """Send ``message`` to ``role``; False (and a dead letter) if it is down."""
        ref = self._refs.get(role)
        if ref is not None:
            try:
                ref.tell(message)
                return True
            except pykka.ActorDeadError:
                pass
        with self._lock:
            self.dead_letters[role] += 1
            count = self.dead_letters[role]
        if count == 1 or count % 1000 == 0:
            log.warning("dead letter #%d to %s: %s", count, role, type(message).__name__)
        return False
