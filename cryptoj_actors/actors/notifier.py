"""The notifier actor: alerts to the operator's channels (live runs).

It hears of halts, resumes, trading-state changes, restarts, a spent
restart budget and health going CRITICAL and back from the supervisor
(:class:`~cryptoj_actors.messages.Notice`), and of fills from the portfolio
when fill alerts are on. Every few seconds it looks at what the system
publishes: the feed's connection state (:class:`~cryptoj_actors.alerts.rules.FeedWatch`),
a burst held back that is due its summary, the daily summary. The rules are
:mod:`cryptoj_actors.alerts.rules`; delivery is
:class:`~cryptoj_actors.alerts.delivery.AlertSender`'s thread, so a slow or
dead channel never holds this mailbox, let alone trading. Every alert is
logged too, so that the log tells what the channels were told.
"""

from __future__ import annotations

import logging
import time

from cryptoj_actors.actors.base import Handler, RoleActor
from cryptoj_actors.alerts.delivery import AlertSender
from cryptoj_actors.alerts.rules import (
    Alert,
    AlertRules,
    DailySchedule,
    FeedWatch,
    daily_summary,
)
from cryptoj_actors.messages import Fill, Notice, Tick
from cryptoj_actors.runtime import Runtime

log = logging.getLogger(__name__)

#: How often the published state is looked at, seconds.
WATCH_INTERVAL_S = 1.0
#: How long a stop waits for the alerts still queued, seconds.
STOP_DELIVERY_S = 5.0


class NotifierActor(RoleActor):
    role = "notifier"

    def __init__(self, runtime: Runtime, generation: int = 0) -> None:
        super().__init__(runtime, generation)
        cfg = runtime.config.alerts
        self.rules = AlertRules(cfg, trading=runtime.run.trading, run_id=runtime.run.run_id)
        self.sender = AlertSender(cfg, runtime.telemetry)
        self.feed = FeedWatch()
        self.daily = DailySchedule(cfg.daily_summary_utc, time.time_ns())
        self._fills_at_summary = runtime.board.fills

    def handlers(self) -> dict[type, Handler]:
        return {Notice: self.on_notice, Fill: self.on_fill, Tick: self.on_tick}

    def started(self) -> None:
        self.sender.start()
        if self.generation == 0:
            log.info("notifier: alerts to %d channel(s)%s", self.sender.channels,
                     "" if self.sender.channels else " ([alerts] urls is empty: logged only)")
        self.every(WATCH_INTERVAL_S, "watch")

    def stopping(self) -> None:
        self.sender.stop(STOP_DELIVERY_S)

    def on_notice(self, notice: Notice) -> None:
        self._send(self.rules.on_notice(notice))

    def on_fill(self, fill: Fill) -> None:
        self._send(self.rules.on_fill(fill, time.time_ns()))

    def on_tick(self, tick: Tick) -> None:
        now = time.time_ns()
        change = self.feed.observe(self.rt.telemetry.feed_state, now)
        if change is not None:
            self.on_notice(change)
        if self.daily.due(now):
            board = self.rt.board
            fills = board.fills
            self.on_notice(daily_summary(board.snapshot, board.day_start_equity,
                                         fills - self._fills_at_summary, now))
            self._fills_at_summary = fills
        self._send(self.rules.flush(now))

    def _send(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            log.warning("ALERT %s: %s", alert.title, alert.body.replace("\n", "; "))
            self.sender.send(alert)
        self.rt.telemetry.alerts["held_back"] = self.rules.held_total
