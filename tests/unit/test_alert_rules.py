"""The alert rules, driven without threads: what an alert says, the burst
limit and its summary, the feed watch, the daily schedule and summary."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from cryptoj_actors.alerts.rules import (
    AlertKind,
    AlertRules,
    DailySchedule,
    FeedWatch,
    daily_summary,
)
from cryptoj_actors.config import AlertsConfig
from cryptoj_actors.messages import Fill, Notice, PortfolioSnapshot
from cryptoj_actors.model import Liquidity, PositionView, Side

S = 1_000_000_000
NOON = 1_764_676_800 * S  # 2025-12-02T12:00:00Z


def notice(kind: AlertKind, cause: str = "why", at: int = NOON) -> Notice:
    return Notice(sender="supervisor", ts_ns=at, kind=kind.value, cause=cause)


def rules(**overrides) -> AlertRules:
    return AlertRules(replace(AlertsConfig(), **overrides), trading="PAPER", run_id="live-7")


def test_an_alert_says_the_mode_the_run_the_cause_and_the_time():
    [alert] = rules().on_notice(notice(AlertKind.HALT, "trading HALTED: operator (cli)"))
    assert alert.title == "[PAPER] HALTED"
    assert alert.body == ("trading HALTED: operator (cli)\n"
                          "run live-7, PAPER trading, at 2025-12-02T12:00:00Z")
    assert alert.severity == "failure"


def test_fill_alerts_are_off_unless_asked_for():
    fill = Fill(sender="executor", ts_ns=NOON, fill_id="f1", client_order_id="o1",
                product_id="BTC-USD", side=Side.BUY, base_size=D("0.0012"),
                price=D("83277.26"), fee=D("1.199192544"), liquidity=Liquidity.TAKER)
    assert rules().on_fill(fill, NOON) == []
    [alert] = rules(fills=True).on_fill(fill, NOON)
    assert alert.body.startswith("BUY 0.0012 BTC-USD at 83277.26, fee 1.199192544 (taker), "
                                 "order o1\n")


def test_a_burst_is_held_back_and_summed_up_once_its_minute_is_over():
    r = rules(max_per_minute=3)
    sent = [r.on_notice(notice(AlertKind.RESTART, f"#{i}", NOON + i * S)) for i in range(7)]
    assert [len(a) for a in sent] == [1, 1, 1, 0, 0, 0, 0]
    # A halt is never held back, and does not count against the others.
    assert len(r.on_notice(notice(AlertKind.HALT, at=NOON + 8 * S))) == 1
    assert r.on_notice(notice(AlertKind.FEED_DOWN, at=NOON + 9 * S)) == []
    assert r.flush(NOON + 60 * S) == []  # the minute since the first held back is not over
    [summary] = r.flush(NOON + 63 * S)
    assert summary.kind is AlertKind.SUPPRESSED
    assert summary.body.startswith("5 more alerts in the last minute (restart x4, "
                                   "feed_down x1); see the log for each\n")
    assert r.held_total == 5 and r.flush(NOON + 200 * S) == []
    # The window slid: alerts pass again.
    assert len(r.on_notice(notice(AlertKind.RESTART, at=NOON + 200 * S))) == 1


def test_the_feed_watch_tells_down_once_and_up_again_with_how_long():
    watch = FeedWatch()
    assert watch.observe("up", NOON) is None
    down = watch.observe("stale", NOON + S)
    assert down is not None and down.kind == AlertKind.FEED_DOWN.value
    assert watch.observe("down", NOON + 2 * S) is None  # still the same outage
    assert watch.observe("connecting", NOON + 3 * S) is None
    up = watch.observe("up", NOON + 43 * S)
    assert up is not None and up.cause == "market data feed up again after 42 s"
    assert watch.observe("up", NOON + 44 * S) is None


def test_the_daily_summary_is_due_once_a_utc_day_at_its_time():
    schedule = DailySchedule("07:30", NOON)  # started after 07:30: tomorrow's first
    tomorrow = NOON + (19 * 3600 + 30 * 60) * S  # 2025-12-03T07:30:00Z
    assert not schedule.due(NOON + S) and not schedule.due(tomorrow - 1)
    assert schedule.due(tomorrow) and not schedule.due(tomorrow + S)
    assert schedule.due(tomorrow + 86_400 * S)
    assert not DailySchedule("", NOON).due(tomorrow)


def test_the_daily_summary_says_equity_pnl_fees_positions_and_fills():
    position = PositionView(product_id="BTC-USD", base_size=D("0.0012"),
                            cost_basis=D("99.932712"), mark_price=D("83300"),
                            realized_pnl=D(0), reserved_base=D(0), reserved_quote=D(0))
    snapshot = PortfolioSnapshot(sender="portfolio", ts_ns=NOON, version=1, seq=9,
                                 cash=D("9898.84"), available_cash=D("9898.84"),
                                 equity=D("9998.80"), realized_pnl=D("0"),
                                 unrealized_pnl=D("0.027288"), fees=D("1.2"),
                                 positions=(position,))
    text = daily_summary(snapshot, D("10000"), 3, NOON).cause
    assert text == ("2025-12-02: equity 9998.80, today's PnL -1.20, realized PnL 0, fees 1.2; "
                    "0.0012 BTC-USD; 3 fills since the last summary")
