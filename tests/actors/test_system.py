"""The whole actor system on real threads, replaying slices of the real data."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.config import Config, FaultsConfig, StrategyConfig, load_config
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import OrderIntent
from cryptoj_actors.money import BPS, ONE
from cryptoj_actors.report.results import RunResults
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.strategy.base import load_strategy
from cryptoj_actors.system import TradingSystem
from tests.conftest import REPO, wait_until, window

# 2017-10-15 to 2018-01-22: the end of the 2017 rally and the first crash:
# warm-up, rebalancing, stop-losses and daily-loss days all happen in it.
START, HOURS = "2017-10-15T00:00:00", 2400


def config_for(state_dir: Path, **feed):
    config = load_config(REPO / "conf" / "default.toml").with_state_dir(state_dir)
    return replace(config, feed=replace(config.feed, **feed)) if feed else config


def replay(aligned, state_dir: Path, *, window_size: int = 1, strategy: StrategyConfig | None = None,
           faults: FaultsConfig | None = None, timeout: float = 120.0
           ) -> tuple[TradingSystem, RunResults]:
    config = config_for(state_dir, credit_window=window_size)
    # quick restarts, so that drills do not wait for a production backoff
    config = replace(config, supervisor=replace(config.supervisor, restart_initial_s=0.02,
                                                restart_max_s=0.1))
    if strategy is not None:
        config = replace(config, strategy=strategy)
    if faults is not None:
        config = replace(config, faults=faults)
    run = RunInfo(run_id="test", mode="replay", state_dir=state_dir, run_dir=state_dir / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(aligned))
    system.start()
    try:
        assert system.wait(timeout), "the replay did not end in time"
        return system, system.results()
    finally:
        system.stop()


@pytest.fixture(scope="module")
def crash_window(aligned_real):
    return window(aligned_real, START, HOURS)


@pytest.fixture(scope="module")
def crash_run(crash_window, tmp_path_factory) -> tuple[Path, RunResults]:
    state = tmp_path_factory.mktemp("state")
    _, results = replay(crash_window, state)
    return state, results


def test_replay_finishes_with_an_exact_ledger(crash_run):
    _, results = crash_run
    assert results.status == "finished"
    pf = results.portfolio
    snap = pf.snapshot
    assert len(pf.equity) == HOURS
    assert snap.equity == snap.cash + sum(p.base_size * p.mark_price for p in snap.positions)
    assert pf.starting_cash + snap.realized_pnl + snap.unrealized_pnl - snap.fees == snap.equity
    assert snap.fees == sum(t.fee for t in pf.trades)
    assert snap.realized_pnl == sum(t.realized_pnl for t in pf.trades)


def test_risk_limits_show_in_the_run(crash_run):
    _, results = crash_run
    reasons = Counter(t.reason for t in results.portfolio.trades)
    assert reasons["stop_loss"] > 0 and reasons["rebalance"] > 0
    denials = Counter(d.reason_code for d in results.risk_denials)
    assert denials["TRADING_REDUCING"] > 0  # the daily loss limit at work
    levels = [s.level.value for s in results.risk_state_changes]
    assert levels[:2] == ["REDUCING", "ACTIVE"]
    for point in results.portfolio.equity:
        assert all(w <= Decimal("0.10") for _, w in point.weights), point


def test_orders_fill_at_the_next_bar_open_never_the_decision_bar(crash_run, crash_window):
    _, results = crash_run
    bars = {(b.product_id, b.start_ns): b for _, slice_ in crash_window.slices for b in slice_}
    slip = Decimal(5) * BPS
    assert results.portfolio.trades
    for trade in results.portfolio.trades:
        decision_seq = int(trade.client_order_id.split("-")[1])
        decided_at = crash_window.slices[decision_seq - 1][0] + crash_window.interval_ns
        assert trade.time_ns == decided_at  # the next bar starts when the decision's bar closes
        bar = bars[(trade.product_id, trade.time_ns)]
        if trade.side == "BUY":
            assert bar.open * (ONE + slip) <= trade.price < bar.open * (ONE + slip) + Decimal("0.01")
        else:
            assert bar.open * (ONE - slip) - Decimal("0.01") < trade.price <= bar.open * (ONE - slip)


def test_every_order_and_fill_is_journaled(crash_run):
    state, results = crash_run
    db = sqlite3.connect(state / "journal.sqlite3")
    fills = db.execute("SELECT client_order_id, base_size, price, fee FROM fills "
                       "WHERE run_id='test' ORDER BY ts_ns, client_order_id").fetchall()
    statuses = dict(db.execute("SELECT status, count(*) FROM orders WHERE run_id='test' "
                               "GROUP BY status").fetchall())
    db.close()
    trades = sorted(results.portfolio.trades, key=lambda t: (t.time_ns, t.client_order_id))
    assert fills == [(t.client_order_id, str(t.base_size), str(t.price), str(t.fee))
                     for t in trades]
    assert "PENDING" not in statuses and "OPEN" not in statuses
    assert statuses.get("FILLED", 0) + statuses.get("EXPIRED", 0) == sum(statuses.values())


def test_a_larger_credit_window_gives_the_same_run(crash_run, crash_window, tmp_path):
    _, lockstep = crash_run
    _, ahead = replay(crash_window, tmp_path, window_size=8)
    assert ahead.portfolio.trades == lockstep.portfolio.trades
    assert ahead.portfolio.equity == lockstep.portfolio.equity
    assert ahead.risk_denials == lockstep.risk_denials


class ExplodingStrategy:
    """A real strategy that raises on a chosen batch: fault injection by config."""

    def __init__(self, *, products, fail_at: int) -> None:
        self.products = products
        self.fail_at = fail_at

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        if batch.seq == self.fail_at:
            raise RuntimeError(f"injected fault at batch {batch.seq}")
        return []


@pytest.mark.parametrize("role", ["strategy", "risk", "portfolio", "executor", "feed"])
def test_an_actor_that_fails_is_restarted_and_the_ledger_is_the_same(
        role, crash_run, crash_window, tmp_path):
    undisturbed_state, undisturbed = crash_run
    system, results = replay(crash_window, tmp_path,
                             faults=FaultsConfig(role=role, at_batch=1200, times=1))
    assert system.rt.faults_fired == 1
    assert results.status == "finished" and not system.rt.halt.is_set()
    assert system.supervisor is None  # stopped
    generations = system.rt.board.generations
    assert generations[role] == 1 and generations["health"] == generations["admin"] == 0
    assert results.portfolio.trades == undisturbed.portfolio.trades
    assert results.portfolio.equity == undisturbed.portfolio.equity
    assert results.portfolio.snapshot.equity == undisturbed.portfolio.snapshot.equity
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    fills = db.execute("SELECT count(*), count(DISTINCT fill_id) FROM fills").fetchone()
    db.close()
    assert fills == (len(undisturbed.portfolio.trades),) * 2  # each fill journaled once
    # the re-execution recognized the orders it held: each ends as in the undisturbed run
    assert journaled_orders(tmp_path) == journaled_orders(undisturbed_state)


def journaled_orders(state: Path) -> list[tuple]:
    db = sqlite3.connect(state / "journal.sqlite3")
    try:
        return db.execute("SELECT client_order_id, status, filled_base, detail, updated_ns "
                          "FROM orders WHERE run_id='test' ORDER BY client_order_id").fetchall()
    finally:
        db.close()


def test_a_strategy_that_always_fails_spends_the_restart_budget_and_halts(crash_window, tmp_path):
    name = f"{__name__}:ExplodingStrategy"
    system, results = replay(crash_window, tmp_path,
                             strategy=StrategyConfig(name=name, params={"fail_at": 300}))
    assert results.status == "halted"
    assert results.reason.startswith("restart budget spent: strategy failed 6 times")
    assert "injected fault at batch 300" in results.reason
    assert system.rt.halt.is_set()
    assert 290 <= len(results.portfolio.equity) < 300 + 16  # it never got past the fault


class EveryBatchStrategy:
    """Holds a sliver (0.1 %) of every product on odd batches and nothing on
    even ones: risk approves an order on almost every batch, so a batch
    decided after a halt would show in the journal."""

    def __init__(self, *, products) -> None:
        self.products = products

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        weight = Decimal("0.001") if batch.seq % 2 else Decimal(0)
        return [OrderIntent(product_id=p, target_weight=weight,
                            rebalance_threshold=Decimal("0.0005")) for p in self.products]


class HeldStrategy:
    """The strategy named ``inner`` (built with the other params), except that
    batch ``hold_at`` waits until ``release`` is set. With a credit window of
    1 the whole pipeline waits with it, so a test chooses the batch an
    operator's halt meets, however fast or slow the machine."""

    def __init__(self, *, products, inner: str, hold_at: int, release: threading.Event,
                 **params) -> None:
        self.products = products
        self.inner = load_strategy(StrategyConfig(name=inner, params=params), products)
        self.hold_at, self.release = hold_at, release

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        if batch.seq == self.hold_at:
            self.release.wait(60)
        return list(self.inner.on_batch(batch))


def held_at(config: Config, batch: int, release: threading.Event) -> Config:
    """``config`` with its strategy holding ``batch`` until ``release`` is set."""
    strategy = config.strategy
    return replace(config, strategy=StrategyConfig(
        name=f"{__name__}:HeldStrategy",
        params={**strategy.params, "inner": strategy.name, "hold_at": batch, "release": release}))


HALT_AT = 1201  # the batch the halt meets: odd, so its orders are buys, which a halt refuses


def test_halt_control_file_stops_new_orders_within_a_second(crash_window, tmp_path):
    config = config_for(tmp_path, credit_window=1)
    config = replace(config, strategy=StrategyConfig(name=f"{__name__}:EveryBatchStrategy"),
                     # a stop-loss would pause a product's buys: orders on every batch
                     risk=replace(config.risk, stop_loss_cooldown_s=0))
    release = threading.Event()
    config = held_at(config, HALT_AT, release)
    run = RunInfo(run_id="halt", mode="replay", state_dir=tmp_path, run_dir=tmp_path / "run")
    system = TradingSystem(config, run, lambda: BarReplaySource(crash_window))
    system.start()
    try:
        wait_until(lambda: system.rt.progress.settled >= HALT_AT - 1, timeout=60)
        assert system.rt.progress.settled == HALT_AT - 1  # the next batch waits at the strategy
        StateDir(tmp_path).control_file.write_text("test drill\n")
        created = time.monotonic()
        wait_until(system.rt.halt.is_set, timeout=5)
        release.set()  # batch HALT_AT is decided after the halt
        assert system.wait(5)
        assert time.monotonic() - created < 1.0
        results = system.results()
        time.sleep(0.5)  # nothing more comes: a feed that went on would decide more batches
    finally:
        release.set()
        system.stop()
    assert results.status == "halted" and "test drill" in results.reason
    db = sqlite3.connect(run.state.journal)
    decided = {seq for (seq,) in db.execute("SELECT DISTINCT decision_seq FROM orders "
                                            "WHERE run_id=?", (run.ledger_id,))}
    [(sent,)] = db.execute("SELECT count(*) FROM orders WHERE run_id=? AND decision_seq >= ? "
                           "AND status != 'REJECTED' AND NOT reduce_only",
                           (run.ledger_id, HALT_AT)).fetchall()
    db.close()
    assert min(decided) == 1 and decided & {HALT_AT - 2, HALT_AT - 1}  # orders up to the halt
    assert max(decided) <= HALT_AT, f"orders decided on batches up to {max(decided)}"
    assert sent == 0, f"{sent} orders decided on batch {HALT_AT} or later went out"
    settled = system.rt.progress.settled
    assert settled <= HALT_AT, f"batches settled up to {settled} after a halt at {HALT_AT}"
    state = run.trading_state_file.read_text()  # a replay keeps its state in its run directory
    assert '"HALTED"' in state and "test drill" in state


class FloatStrategy:
    """Returns a float weight: a broken strategy, which must be blamed as such."""

    def __init__(self, *, products) -> None:
        self.products = products

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        return [OrderIntent(product_id=self.products[0], target_weight=0.05,
                            rebalance_threshold=Decimal("0.01"))]


def test_an_invalid_intent_halts_with_the_strategy_named(crash_window, tmp_path):
    _, results = replay(crash_window, tmp_path,
                        strategy=StrategyConfig(name=f"{__name__}:FloatStrategy"))
    assert results.status == "halted"
    assert results.reason.startswith("restart budget spent: strategy failed")
    assert "target_weight must be a Decimal fraction in [0, 1]" in results.reason


def test_the_ledger_rebuilt_from_the_journal_equals_the_live_one(crash_run):
    from cryptoj_actors.execution.journal import Journal
    from cryptoj_actors.portfolio.recovery import rebuild_ledger

    state, results = crash_run
    journal = Journal(state / "journal.sqlite3", "test")
    try:
        ledger = rebuild_ledger(journal, results.portfolio.starting_cash)
    finally:
        journal.close()
    snap = results.portfolio.snapshot
    assert (ledger.cash, ledger.fees, ledger.realized_pnl) == (snap.cash, snap.fees,
                                                              snap.realized_pnl)
    rebuilt = ledger.snapshot(sender="recovery", ts_ns=0, seq=0)
    assert {p.product_id: (p.base_size, p.cost_basis) for p in rebuilt.positions if p.base_size} \
        == {p.product_id: (p.base_size, p.cost_basis) for p in snap.positions if p.base_size}
    ledger.check_invariants()


def test_the_live_metrics_at_the_end_are_the_reports(crash_window, tmp_path):
    from cryptoj_actors.report.metrics import performance, periods_per_year

    system, results = replay(crash_window, tmp_path)
    pf = results.portfolio
    expected = performance(pf.equity, pf.trades, risk_free_rate=0.0,
                           periods_per_year=periods_per_year(crash_window.interval_ns))
    assert system.rt.board.performance == expected
    samples = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert samples and all(json.loads(line)["level"] in ("OK", "DEGRADED", "CRITICAL")
                           for line in samples)
