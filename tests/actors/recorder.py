"""A stand-in for a role, for tests of one actor among real threads."""

from __future__ import annotations

from cryptoj_actors.actors.base import RoleActor
from cryptoj_actors.runtime import Runtime


class Recorder(RoleActor):
    """Stands in for the roles the portfolio talks to, keeping what it hears."""

    def __init__(self, runtime: Runtime, role: str) -> None:
        self.role = role
        super().__init__(runtime)
        self.received: list[object] = []

    def on_receive(self, message: object) -> None:
        self.received.append(message)

    def messages(self) -> list[object]:
        return list(self.received)
