"""Delivery of alerts through apprise, on a thread of its own.

apprise is one library for webhooks (``json://``), Discord, Slack,
Telegram, e-mail and many more; each configured URL is a channel of its own
here, so a channel that fails is retried without sending the others twice.

Nothing here can slow trading or raise anywhere else: :meth:`AlertSender.send`
only queues (a full queue drops the alert, counted and logged); a delivery
that fails is tried again with backoff, then counted and logged. Counts go
to ``telemetry.alerts``: ``sent`` and ``failed`` (per channel and alert),
``retried``, ``dropped``. URLs carry secrets (tokens, passwords): the log
names a channel by its number and service, never by its URL.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence

from cryptoj_actors.alerts.rules import Alert
from cryptoj_actors.backoff import Backoff
from cryptoj_actors.config import AlertsConfig
from cryptoj_actors.health.telemetry import Telemetry

log = logging.getLogger(__name__)

#: Alerts waiting for delivery before new ones are dropped.
QUEUE_LIMIT = 1000


class _Channel:
    def __init__(self, number: int, url: str) -> None:
        # Imported here: apprise takes a tenth of a second to import, and
        # a system without alert URLs (every replay) has no channel.
        import apprise

        self.name = f"channel {number} ({url.split('://', 1)[0]})"
        self.apprise = apprise.Apprise()
        if not self.apprise.add(url):  # the config checked it: only a library change lands here
            raise ValueError(f"alerts: {self.name}: apprise cannot send to this URL")


class AlertSender:
    """Sends each alert to every channel of ``config.urls``; :meth:`start`
    the thread, :meth:`send` alerts, :meth:`stop` at the end.

    Raises:
        ValueError: a URL apprise does not take (at construction).
    """

    def __init__(self, config: AlertsConfig, telemetry: Telemetry) -> None:
        self.config = config
        self._channels: Sequence[_Channel] = [_Channel(i, url)
                                              for i, url in enumerate(config.urls, 1)]
        self._counts = telemetry.alerts
        self._queue: queue.Queue[Alert | None] = queue.Queue(QUEUE_LIMIT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alerts", daemon=True)

    @property
    def channels(self) -> int:
        return len(self._channels)

    def start(self) -> None:
        if self._channels:
            self._thread.start()

    def send(self, alert: Alert) -> None:
        """Queue ``alert`` for every channel; never blocks, never raises."""
        if not self._channels:
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self._counts["dropped"] += 1
            log.error("alerts: %d waiting for delivery: %r dropped", QUEUE_LIMIT, alert.title)

    def stop(self, timeout_s: float) -> None:
        """Deliver what is queued within ``timeout_s`` seconds (no more waiting
        between retries), then end; what is left is counted and logged."""
        if not self._thread.is_alive():
            return
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.error("alerts: delivery still under way after %.0f s at the stop; %d alert(s) "
                      "not sent", timeout_s, self._queue.qsize())

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            for channel in self._channels:
                self._deliver(channel, alert)

    def _deliver(self, channel: _Channel, alert: Alert) -> None:
        cfg = self.config
        backoff = Backoff(cfg.retry_initial_s, cfg.retry_max_s)
        for attempt in range(cfg.retries + 1):
            try:
                ok = bool(channel.apprise.notify(body=alert.body, title=alert.title,
                                                 notify_type=alert.severity))
            except Exception as exc:  # noqa: BLE001 - a plugin's defect must not end delivery
                log.warning("alerts: %s raised %s: %s", channel.name, type(exc).__name__, exc)
                ok = False
            if ok:
                self._counts["sent"] += 1
                return
            if attempt == cfg.retries or self._stop.is_set():
                break
            self._counts["retried"] += 1
            if self._stop.wait(backoff.next_delay()):
                break  # stopping: no more waiting
        self._counts["failed"] += 1
        log.error("alerts: %s: %r not delivered after %d attempt(s)", channel.name,
                  alert.title, attempt + 1)
