"""The health actor: samples the system on a timer and reports changes of
its health level to the supervisor (DESIGN.md section 2)."""

from __future__ import annotations

import logging
import time

import psutil

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.health.model import HealthModel, Sample
from cryptoj_actors.messages import HealthLevel, HealthStatus, Tick
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)


class HealthActor(RoleActor):
    role = "health"

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__(runtime, generation)
        self.model = HealthModel(runtime.config.health)
        self.level = HealthLevel.OK
        self._process = psutil.Process()

    def handlers(self) -> dict[type, Handler]:
        return {Tick: self.on_tick}

    def started(self) -> None:
        self._process.cpu_percent()  # the first call only starts the measurement
        self.every(self.rt.config.health.interval_s, "sample")

    def sample(self) -> Sample:
        mailboxes: dict[str, int] = {}
        down: list[str] = []
        for role, ref in self.rt.directory.roles().items():
            if ref.is_alive():
                mailboxes[role] = ref.actor_inbox.qsize()
            else:
                down.append(role)
        return Sample(rss_mb=self._process.memory_info().rss / 2**20,
                      cpu_percent=self._process.cpu_percent(), mailboxes=mailboxes,
                      down=tuple(sorted(down)),
                      dead_letters=sum(self.rt.directory.dead_letters.values()))

    def on_tick(self, tick: Tick) -> None:
        sample = self.sample()
        level, checks = self.model.assess(sample)
        status = HealthStatus(sender=self.role, ts_ns=time.time_ns(), level=level, checks=checks)
        self.rt.board.health = status
        self.rt.board.mailboxes = dict(sample.mailboxes)
        if level is not self.level:
            self.level = level
            log.log(logging.INFO if level is HealthLevel.OK else logging.WARNING,
                    "health: %s %s", level.value,
                    "; ".join(f"{name} {detail}" for name, detail in checks))
            self.send("supervisor", status)
