"""Drills: the live system (``run``, a real process, paper venue) on the
replay server heals a failed pipeline actor in the running process.

A fault injected into any pipeline role restarts the pipeline as one group:
the process goes on, the trading state is not HALTED, the role's generation
goes up, trading continues, and every fill is journaled once. A fault storm
spends the restart budget and halts with the budget's words. A ``kill -9``
while a restart waits out its backoff, then a new start, rebuilds the ledger
the journal holds.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.admin.client import call, running_endpoint
from cryptoj_actors.execution.journal import Journal
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, OrderIntent
from cryptoj_actors.portfolio.recovery import rebuild_ledger
from cryptoj_actors.runtime import LIVE_LEDGER
from cryptoj_actors.state.backup import backups
from cryptoj_actors.state.layout import StateDir
from tests.conftest import REPO, Lines, journal_count, load_script, wait_until

replay_server = load_script("replay_server")

PIPELINE = ("portfolio", "executor", "risk", "strategy", "feed")
STRATEGY = f"{__name__}:Seesaw"


class Seesaw:
    """5 % of equity in a product on one bar, 2 % on its next: an order on
    every bar, so that trading going on shows as fills going on."""

    def __init__(self, *, products) -> None:
        self.bars: dict[str, int] = {}

    def on_batch(self, batch: MarketBatch) -> list[OrderIntent]:
        intents = []
        for bar in (e for e in batch.events if isinstance(e, Bar)):
            n = self.bars[bar.product_id] = self.bars.get(bar.product_id, 0) + 1
            intents.append(OrderIntent(product_id=bar.product_id,
                                       target_weight=Decimal("0.05" if n % 2 else "0.02"),
                                       rebalance_threshold=Decimal("0.01")))
        return intents


def drill_config(tmp_path: Path, faults: str = "", supervisor: str = "") -> Path:
    path = tmp_path / "drill.toml"
    path.write_text('[feed]\nproducts = ["BTC-USD", "ETH-USD"]\nbatch_interval_s = 0.05\n'
                    f'bar_interval_s = 1\n[strategy]\nname = "{STRATEGY}"\n'
                    f"[faults]\n{faults}\n[supervisor]\n{supervisor}\n")
    return path


class Live:
    """A ``run`` process and its admin endpoint."""

    def __init__(self, proc: subprocess.Popen, state: Path) -> None:
        self.proc, self.state = proc, state
        self.stderr = Lines(proc.stderr)

    def status(self) -> dict:
        endpoint = running_endpoint(StateDir(self.state), "admin.token")
        assert endpoint is not None
        return call(endpoint, "GET", "/status")

    def generation(self, role: str) -> int:
        """The role's generation; -1 while it is out of the directory (restarting)."""
        return self.status()["actors"].get(role, {}).get("generation", -1)

    def fills(self) -> int:
        return journal_count(self.state / "journal.sqlite3", "fills", LIVE_LEDGER)


@contextmanager
def live_run(tmp_path: Path, config: Path) -> Iterator[Live]:
    """``run`` on the replay server; stopped with Ctrl-C at the end (unless
    the test killed it)."""
    capture = replay_server.Capture.read(
        REPO.parent / "shared" / "data" / "coinbase_advanced_ws_2026-09-30_fastmm"
        / "advanced_md_stream.jsonl")
    server = replay_server.ReplayServer(capture, speed=4, loop=True)
    with replay_server.Running(server):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cryptoj_actors", "run", "--config", str(config),
             "--state-dir", str(tmp_path / "var"), "--feed-url",
             f"ws://127.0.0.1:{server.port}", "--no-ui"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        live = Live(proc, tmp_path / "var")
        try:
            wait_until(lambda: running_endpoint(StateDir(live.state), "admin.token"),
                       timeout=30)
            yield live
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
            wait_until(lambda: live.stderr.ended, timeout=10)


def journaled_once(journal: Path) -> bool:
    """Every order's fills add up to what the order says was filled, no more:
    a fill booked twice (or lost) breaks the sum."""
    db = sqlite3.connect(journal)
    try:
        filled = dict(db.execute("SELECT client_order_id, filled_base FROM orders "
                                 "WHERE run_id=?", (LIVE_LEDGER,)))
        booked: dict[str, Decimal] = {}
        for coid, size in db.execute("SELECT client_order_id, base_size FROM fills "
                                     "WHERE run_id=?", (LIVE_LEDGER,)):
            booked[coid] = booked.get(coid, Decimal(0)) + Decimal(size)
    finally:
        db.close()
    return bool(booked) and all(Decimal(filled[coid]) == size for coid, size in booked.items())


@pytest.fixture(autouse=True)
def _needs_the_capture(advanced_ws_capture):
    """The drills serve the real recorded frames (skipped, with the reason, without them)."""


@pytest.mark.parametrize("role", PIPELINE)
def test_a_failed_pipeline_actor_is_healed_in_the_running_process(tmp_path, role):
    config = drill_config(tmp_path, f'role = "{role}"\nat_batch = 20\ntimes = 1')
    with live_run(tmp_path, config) as live:
        wait_until(lambda: live.generation(role) >= 1, timeout=30)
        healed = live.fills()
        # Trading goes on after the restart: more fills than at the restart.
        wait_until(lambda: live.fills() > healed, timeout=30)
        doc = live.status()
        assert live.proc.poll() is None  # the process never exited
    assert live.proc.returncode == 0, "\n".join(live.stderr.lines[-40:])
    actors = doc["actors"]
    assert all(actors[r]["alive"] for r in actors)
    assert actors[role]["generation"] == 1 and actors["health"]["generation"] == 0
    assert doc["trading_state"]["level"] != "HALTED", doc["trading_state"]
    text = "\n".join(live.stderr.lines)
    assert f"injected fault #1 in {role}" in text and "restarting portfolio" in text
    assert "Traceback" not in text
    assert journaled_once(tmp_path / "var" / "journal.sqlite3")


def test_a_fault_storm_spends_the_budget_and_halts_with_its_message(tmp_path):
    config = drill_config(tmp_path, 'role = "risk"\nat_batch = 3\ntimes = 100',
                          "restart_initial_s = 0.05\nrestart_max_s = 0.1\nmax_restarts = 3\n")
    with live_run(tmp_path, config) as live:
        wait_until(lambda: live.status()["trading_state"]["level"] == "HALTED", timeout=30)
        doc = live.status()
        assert live.proc.poll() is None  # halted, still running for the operator
    assert "restart budget spent" in doc["trading_state"]["reason"]
    assert doc["actors"]["risk"]["generation"] == 3


def test_a_kill_during_a_restart_then_a_start_rebuilds_the_same_ledger(tmp_path):
    # A long backoff holds the pipeline down between the failure and its restart.
    config = drill_config(tmp_path, 'role = "executor"\nat_batch = 40\ntimes = 1',
                          "restart_initial_s = 30\nrestart_max_s = 30\n")
    journal = tmp_path / "var" / "journal.sqlite3"
    with live_run(tmp_path, config) as live:
        wait_until(lambda: any("restart #1" in line for line in live.stderr.lines), timeout=30)
        assert live.fills() > 0
        live.proc.kill()
        live.proc.wait(timeout=10)
    ledger = rebuild_ledger(Journal(journal, LIVE_LEDGER), Decimal(10000),
                            Decimal("0.10"))
    positions = {p.product_id: p.base_size for p in ledger.snapshot(
        sender="test", ts_ns=0, seq=0).positions if p.base_size}
    restart = drill_config(tmp_path)
    with live_run(tmp_path, restart) as live:
        wait_until(lambda: any("ledger restored from the journal" in line
                               for line in live.stderr.lines), timeout=30)
        restored = next(line for line in live.stderr.lines
                        if "ledger restored from the journal" in line)
    assert f"cash {ledger.cash}" in restored
    for product, size in positions.items():
        assert f"{size} {product}" in restored
    assert journaled_once(journal)
    # Each start took an online backup of the journal; doctor opens the newest.
    assert len(backups(tmp_path / "var" / "backups")) == 2
    doctor = subprocess.run([sys.executable, "-m", "cryptoj_actors", "doctor", "--state-dir",
                             str(tmp_path / "var")], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    line = next(x for x in doctor.stdout.splitlines() if "journal backup" in x)
    assert line.startswith("OK   journal backup: journal-") and "all in the journal" in line
