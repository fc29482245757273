"""Alert rules: what happened -> the alerts an operator gets, and how many.

Plain objects, no threads (the notifier actor is their shell):

* :class:`AlertRules` turns a :class:`~cryptoj_actors.messages.Notice` (or a
  fill, when fill alerts are on) into an :class:`Alert` that says PAPER or
  LIVE, the run, the cause and the time, and holds a burst back: past
  ``max_per_minute`` alerts in a sliding minute the rest are counted, and
  one summary ("12 more alerts in the last minute: restart x11, feed_down
  x1") follows once the minute is over. Halts, resumes and a spent restart
  budget always pass: an operator must never miss those.
* :class:`FeedWatch` sees the live feed's connection state come and go
  (``down`` or ``stale``, and back ``up``).
* :class:`DailySchedule` says when the daily summary is due (once a UTC day
  at ``HH:MM``), and :func:`daily_summary` what it says.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from enum import StrEnum

from cryptoj_actors.clock import NS_PER_SECOND, iso
from cryptoj_actors.config import AlertsConfig
from cryptoj_actors.messages import Fill, Notice, PortfolioSnapshot

MINUTE_NS = 60 * NS_PER_SECOND
DAY_NS = 86_400 * NS_PER_SECOND


class AlertKind(StrEnum):
    HALT = "halt"
    RESUME = "resume"
    TRADING_STATE = "trading_state"  # REDUCING and back to ACTIVE (health, market data)
    RISK_LIMIT = "risk_limit"        # risk's daily loss or drawdown limit
    RESTART = "restart"
    BUDGET_SPENT = "budget_spent"
    FEED_DOWN = "feed_down"
    FEED_RECOVERED = "feed_recovered"
    HEALTH_CRITICAL = "health_critical"
    HEALTH_RECOVERED = "health_recovered"
    FILL = "fill"
    DAILY_SUMMARY = "daily_summary"
    SUPPRESSED = "suppressed"        # the summary of a burst held back


#: Never held back by the burst limit.
ALWAYS = frozenset({AlertKind.HALT, AlertKind.RESUME, AlertKind.BUDGET_SPENT})

#: apprise's notification types (``info``, ``success``, ``warning``, ``failure``).
SEVERITY = {AlertKind.HALT: "failure", AlertKind.BUDGET_SPENT: "failure",
            AlertKind.HEALTH_CRITICAL: "failure", AlertKind.FEED_DOWN: "warning",
            AlertKind.RISK_LIMIT: "warning", AlertKind.TRADING_STATE: "warning",
            AlertKind.RESTART: "warning", AlertKind.SUPPRESSED: "warning",
            AlertKind.RESUME: "success", AlertKind.FEED_RECOVERED: "success",
            AlertKind.HEALTH_RECOVERED: "success"}

TITLES = {AlertKind.HALT: "HALTED", AlertKind.RESUME: "resumed",
          AlertKind.TRADING_STATE: "trading state", AlertKind.RISK_LIMIT: "risk limit",
          AlertKind.RESTART: "actor restart", AlertKind.BUDGET_SPENT: "restart budget spent",
          AlertKind.FEED_DOWN: "feed down", AlertKind.FEED_RECOVERED: "feed recovered",
          AlertKind.HEALTH_CRITICAL: "health CRITICAL",
          AlertKind.HEALTH_RECOVERED: "health recovered", AlertKind.FILL: "fill",
          AlertKind.DAILY_SUMMARY: "daily summary", AlertKind.SUPPRESSED: "alerts held back"}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``title`` (``[PAPER] HALTED``), ``body`` (the cause, the
    run and the time, UTC), ``severity`` (an apprise notification type)."""

    kind: AlertKind
    title: str
    body: str
    severity: str
    ts_ns: int


class AlertRules:
    """Notices in, alerts out, at most ``config.max_per_minute`` a minute
    (except :data:`ALWAYS`).

    Args:
        config: the ``[alerts]`` section.
        trading: ``PAPER`` or ``LIVE`` (real money), said in every alert.
        run_id: the run, said in every alert.
    """

    def __init__(self, config: AlertsConfig, *, trading: str, run_id: str) -> None:
        self.config = config
        self.trading = trading
        self.run_id = run_id
        self._sent: deque[int] = deque()       # times of the alerts let through, last minute
        self._held: Counter[str] = Counter()   # kinds held back since _held_since
        self._held_since: int | None = None
        #: Alerts held back by the burst limit since the start.
        self.held_total = 0

    def on_notice(self, notice: Notice) -> list[Alert]:
        """The alert for ``notice`` (none while a burst is held back, or for a
        kind this configuration turns off).

        Raises:
            ValueError: ``notice.kind`` is not an :class:`AlertKind`.
        """
        kind = AlertKind(notice.kind)
        if kind is AlertKind.FILL and not self.config.fills:
            return []
        return self._admit(kind, notice.cause, notice.ts_ns)

    def on_fill(self, fill: Fill, now_ns: int) -> list[Alert]:
        """A fill's alert, when ``config.fills`` is on: side, base size,
        product, price and fee (quote currency), maker or taker."""
        if not self.config.fills:
            return []
        cause = (f"{fill.side.value} {fill.base_size} {fill.product_id} at {fill.price}, fee "
                 f"{fill.fee} ({fill.liquidity.value.lower()}), order {fill.client_order_id}")
        return self._admit(AlertKind.FILL, cause, now_ns)

    def flush(self, now_ns: int) -> list[Alert]:
        """The summary of a burst once its minute is over (call it every few
        seconds); nothing otherwise."""
        since = self._held_since
        if since is None or now_ns - since < MINUTE_NS:
            return []
        held, self._held, self._held_since = self._held, Counter(), None
        total = sum(held.values())
        kinds = ", ".join(f"{kind} x{count}" for kind, count in held.most_common())
        return [self._alert(AlertKind.SUPPRESSED,
                            f"{total} more alert{'s' if total != 1 else ''} in the last minute "
                            f"({kinds}); see the log for each", now_ns)]

    def _admit(self, kind: AlertKind, cause: str, now_ns: int) -> list[Alert]:
        sent = self._sent
        while sent and now_ns - sent[0] >= MINUTE_NS:
            sent.popleft()
        if kind not in ALWAYS and len(sent) >= self.config.max_per_minute:
            self._held[kind.value] += 1
            self.held_total += 1
            if self._held_since is None:
                self._held_since = now_ns
            return []
        sent.append(now_ns)
        return [self._alert(kind, cause, now_ns)]

    def _alert(self, kind: AlertKind, cause: str, now_ns: int) -> Alert:
        return Alert(kind=kind, title=f"[{self.trading}] {TITLES[kind]}",
                     body=f"{cause}\nrun {self.run_id}, {self.trading} trading, at {iso(now_ns)}",
                     severity=SEVERITY.get(kind, "info"), ts_ns=now_ns)


class FeedWatch:
    """The live feed's connection state, seen every few seconds: a notice
    when it goes ``down`` or ``stale``, and one when it is ``up`` again after
    that (a reconnect too quick to be seen is the feed's own business, counted
    in its reconnects)."""

    DOWN = ("down", "stale")

    def __init__(self) -> None:
        self._down_since: int | None = None

    def observe(self, state: str, now_ns: int) -> Notice | None:
        if state in self.DOWN and self._down_since is None:
            self._down_since = now_ns
            return Notice(sender="notifier", ts_ns=now_ns, kind=AlertKind.FEED_DOWN.value,
                          cause=f"market data feed {state}: no data, reconnecting; risk adds "
                                "no exposure to products without fresh data")
        if state == "up" and self._down_since is not None:
            down_s = (now_ns - self._down_since) / NS_PER_SECOND
            self._down_since = None
            return Notice(sender="notifier", ts_ns=now_ns,
                          kind=AlertKind.FEED_RECOVERED.value,
                          cause=f"market data feed up again after {down_s:.0f} s")
        return None


class DailySchedule:
    """Due once a UTC day at ``hh_mm`` (``"07:30"``); never when empty. The
    first day counts from the time it is made: a start after the hour waits
    for the next day."""

    def __init__(self, hh_mm: str, now_ns: int) -> None:
        self._offset_ns = None if not hh_mm else \
            (int(hh_mm[:2]) * 3600 + int(hh_mm[3:]) * 60) * NS_PER_SECOND
        self._next_ns = None if self._offset_ns is None else self._after(now_ns)

    def _after(self, now_ns: int) -> int:
        assert self._offset_ns is not None
        due = now_ns - now_ns % DAY_NS + self._offset_ns
        return due if due > now_ns else due + DAY_NS

    def due(self, now_ns: int) -> bool:
        """True once when the time has come (then not again until the next day)."""
        if self._next_ns is None or now_ns < self._next_ns:
            return False
        self._next_ns = self._after(now_ns)
        return True


def utc_label(ts_ns: int) -> str:
    """``2026-12-02`` (the UTC day of ``ts_ns``)."""
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, tz=timezone.utc).strftime("%Y-%m-%d")


def daily_summary(snapshot: PortfolioSnapshot | None, day_start_equity: Decimal | None,
                  fills_today: int, now_ns: int) -> Notice:
    """The daily summary's notice: equity, today's PnL (against the equity
    at the UTC day's start), realized PnL and fees (quote currency, exact),
    the positions held and the fills since the last summary."""
    if snapshot is None:
        cause = f"{utc_label(now_ns)}: no market data marked yet; {fills_today} fills"
    else:
        today = "n/a" if day_start_equity is None else f"{snapshot.equity - day_start_equity:+}"
        held = ", ".join(f"{p.base_size} {p.product_id}" for p in snapshot.positions
                         if p.base_size) or "flat"
        cause = (f"{utc_label(now_ns)}: equity {snapshot.equity}, today's PnL {today}, "
                 f"realized PnL {snapshot.realized_pnl}, fees {snapshot.fees}; {held}; "
                 f"{fills_today} fills since the last summary")
    return Notice(sender="notifier", ts_ns=now_ns, kind=AlertKind.DAILY_SUMMARY.value,
                  cause=cause)
