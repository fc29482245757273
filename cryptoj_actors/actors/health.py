"""The health actor: samples the system on a timer, keeps every sample in the
run directory, publishes the assessment for operators, and reports changes of
the overall level to the supervisor (DESIGN.md section 2). Live, it also
checkpoints the journal's WAL at every sample and takes the journal's online
backups, at its first sample and once a UTC day
(:mod:`cryptoj_actors.state.backup`): a timer the system already has, off
the order path.

The samples go to ``metrics.jsonl`` (one JSON object a line, append-only,
rotated by size with :class:`logging.handlers.RotatingFileHandler`).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import sqlite3
import time
from datetime import UTC, datetime

import psutil

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.execution.journal import checkpoint
from cryptoj_actors.health.model import HealthModel, Sample
from cryptoj_actors.messages import HealthStatus, Tick
from cryptoj_actors.model import HealthLevel
from cryptoj_actors.runtime import Runtime
from cryptoj_actors.state.backup import backup_journal
from cryptoj_actors.state.files import OnceOnFailure

log = logging.getLogger(__name__)



class HealthActor(RoleActor):
    role = "health"

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__(runtime, generation)
        self.model = HealthModel(runtime.config.health)
        self.level = HealthLevel.OK
        self._process = psutil.Process()
        self._last_sample = time.monotonic()
        self._metrics: logging.Logger | None = None
        self._handler: logging.Handler | None = None

    def handlers(self) -> dict[type, Handler]:
        return {Tick: self.on_tick}

    def started(self) -> None:
        self._process.cpu_percent()  # the first call only starts the measurement
        cfg = self.rt.config.health
        run_dir = self.rt.run.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self._handler = _MetricsFile(
            self.rt.run.files.metrics, maxBytes=cfg.metrics_file_mb * 2**20,
            backupCount=cfg.metrics_files, encoding="utf-8")
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._metrics = logging.getLogger(f"cryptoj_actors.metrics.{self.rt.run.run_id}")
        self._metrics.propagate = False
        self._metrics.setLevel(logging.INFO)
        self._metrics.addHandler(self._handler)
        self.every(cfg.interval_s, "sample")

    def registered(self) -> None:
        self.on_tick(None)  # a first assessment right away, not one interval late

    def _back_up(self) -> None:
        """The journal's backup, when one is due (live only)."""
        now = datetime.now(UTC)
        schedule = self.rt.backup_schedule
        if self.rt.run.mode != "live" or not schedule.due(now):
            return
        schedule.done(now)  # a failing backup is tried again tomorrow, not every sample
        state = self.rt.run.state
        try:
            path = backup_journal(state.journal, state.backups,
                                  self.rt.config.system.backups, now)
        except (OSError, sqlite3.Error) as exc:
            self.rt.telemetry.errors["health.backup"] += 1
            log.error("health: the journal's backup to %s failed: %s", state.backups, exc)
            return
        if path is not None:
            log.info("health: journal backed up to %s", path)

    def stopping(self) -> None:
        if self._metrics is not None and self._handler is not None:
            self._metrics.removeHandler(self._handler)
            self._handler.close()

    def sample(self) -> Sample:
        now = time.monotonic()
        elapsed, self._last_sample = now - self._last_sample, now
        mailboxes: dict[str, int] = {}
        down: list[str] = []
        for role, ref in self.rt.directory.roles().items():
            if ref.is_alive():
                mailboxes[role] = ref.actor_inbox.qsize()
            else:
                down.append(role)
        tm = self.rt.telemetry
        return Sample(elapsed_s=elapsed, rss_mb=self._process.memory_info().rss / 2**20,
                      cpu_percent=self._process.cpu_percent(),
                      available_mb=psutil.virtual_memory().available / 2**20,
                      mailboxes=mailboxes, down=tuple(sorted(down)), hung=self.rt.board.hung,
                      dead_letters=sum(self.rt.directory.dead_letters.values()),
                      errors=dict(tm.errors), feed_lag_s=tm.feed_lag.last,
                      feed_state=tm.feed_state,
                      tick_to_order_count=tm.tick_to_order.count,
                      tick_to_order_total_s=tm.tick_to_order.total)

    def on_tick(self, tick: Tick | None) -> None:
        sample = self.sample()
        found = self.model.assess(sample)
        status = HealthStatus(sender=self.role, ts_ns=time.time_ns(), level=found.level,
                              checks=found.checks,
                              components=tuple(sorted(found.components.items())))
        board = self.rt.board
        board.health = status
        board.mailboxes = dict(sample.mailboxes)
        board.resources = {"rss_mb": sample.rss_mb, "cpu_percent": sample.cpu_percent,
                           "available_mb": sample.available_mb}
        self._persist(status, sample)
        if found.level is not self.level:
            self.level = found.level
            log.log(logging.INFO if found.level is HealthLevel.OK else logging.WARNING,
                    "health: %s %s", found.level.value,
                    "; ".join(f"{name} {detail}" for name, detail in found.checks))
            self.send("supervisor", status)
        self._checkpoint()
        self._back_up()

    def _checkpoint(self) -> None:
        """Live: the journal's WAL checkpoint, which the executor leaves here."""
        if self.rt.run.mode != "live" or not self.rt.run.state.journal.exists():
            return
        try:
            checkpoint(self.rt.run.state.journal)
        except sqlite3.Error as exc:
            self.rt.telemetry.errors["health.checkpoint"] += 1
            log.warning("health: the journal's checkpoint failed: %s", exc)

    def _persist(self, status: HealthStatus, sample: Sample) -> None:
        if self._metrics is None:
            return
        tm = self.rt.telemetry
        snap = self.rt.board.snapshot
        self._metrics.info(json.dumps({
            "ts_ns": status.ts_ns, "level": status.level.value,
            "checks": dict(status.checks), "rss_mb": round(sample.rss_mb, 1),
            "cpu_percent": sample.cpu_percent, "available_mb": round(sample.available_mb),
            "mailboxes": sample.mailboxes, "dead_letters": sample.dead_letters,
            "errors": sample.errors, "feed_messages": dict(tm.feed_messages),
            "feed_lag_s": sample.feed_lag_s, "tick_to_order_mean_s": tm.tick_to_order.mean,
            "order_round_trip_mean_s": tm.order_round_trip.mean,
            "batches_settled": self.rt.progress.settled,
            "equity": None if snap is None else str(snap.equity),
        }, separators=(",", ":")))


class _MetricsFile(OnceOnFailure, logging.handlers.RotatingFileHandler):
    """``metrics.jsonl``, rotated; one line on the console when it cannot be written."""
