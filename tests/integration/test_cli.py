"""The command line as an operator uses it: real processes, real files."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs
import requests

from cryptoj_actors.admin.client import call, running_endpoint
from cryptoj_actors.clock import iso
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.state.lock import StateDirLock
from tests.conftest import REPO, Lines, wait_until, window


def cli(*args: str, cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cryptoj_actors", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def write_plain_csv(path: Path, bars) -> Path:
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["timestamp", "open", "high", "low", "close", "volume"])
        for b in bars:
            out.writerow([iso(b.start_ns), b.open, b.high, b.low, b.close, b.volume])
    return path


@pytest.fixture(scope="module")
def real_slice(aligned_real, tmp_path_factory) -> list[Path]:
    """Three plain CSV files cut from the real data: 2017-10-15, 2,000 hours."""
    cut = window(aligned_real, "2017-10-15T00:00:00", 2000)
    folder = tmp_path_factory.mktemp("slice")
    return [write_plain_csv(folder / f"{p}_1h.csv", [bars[i] for _, bars in cut.slices])
            for i, p in enumerate(cut.products)]


def run_dir_of(state: Path) -> Path:
    (run,) = (state / "runs").iterdir()
    return run


def test_replay_on_a_slice_of_real_data_writes_the_report(real_slice, tmp_path):
    result = cli("replay", "--state-dir", str(tmp_path), "--no-ui",
                 *map(str, real_slice))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Sharpe ratio" in result.stdout
    assert "2,000 intervals of one hour (6,000 bars of 3 products) in" in result.stdout
    run = run_dir_of(tmp_path)
    report = json.loads((run / "report.json").read_text())
    assert report["run"]["products"] == ["BTC-USD", "ETH-USD", "LTC-USD"]
    assert report["run"]["bars"] == 2000 and report["run"]["status"] == "finished"
    assert all(report["cross_checks"].values()), report["cross_checks"]
    values = report["cross_check_values"]
    assert values["cash_plus_marked_positions"] == values["end_equity"] == \
        values["start_plus_transfers_plus_realized_plus_unrealized_minus_fees"]
    with open(run / "trades.csv") as fh:
        trades = list(csv.DictReader(fh))
    assert trades and set(trades[0]) == {"time", "product_id", "side", "base_size", "price",
                                         "fee", "client_order_id", "realized_pnl", "reason",
                                         "liquidity"}
    assert {t["liquidity"] for t in trades} == {"taker"}  # market orders: they cross
    assert report["performance"]["number_of_trades"] == len(trades)
    with open(run / "equity.csv") as fh:
        equity = list(csv.DictReader(fh))
    assert len(equity) == 2000 and equity[-1]["equity"] == report["final"]["equity"]
    assert (run / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "journal.sqlite3").exists()


@pytest.mark.slow
def test_two_replays_of_the_whole_window_are_byte_identical(cdd_files, tmp_path):
    runs = []
    for name in ("first", "second"):
        state = tmp_path / name
        result = cli("replay", "--state-dir", str(state), "--no-ui", *map(str, cdd_files))
        assert result.returncode == 0, result.stderr
        runs.append(run_dir_of(state))
    for name in ("report.json", "trades.csv", "equity.csv"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    report = json.loads((runs[0] / "report.json").read_text())
    assert report["run"]["bars"] == 20111
    assert report["run"]["start"] == "2017-07-01T12:00:00Z"
    assert all(report["cross_checks"].values())
    assert report["denials_by_reason"].get("TRADING_REDUCING", 0) > 0
    assert report["fills_by_reason"].get("stop_loss", 0) > 0
    assert all(float(w) <= 0.10 for w in report["max_position_weight"].values())
    assert report["positions_over_limit"] == {"count": 0, "first": []}


@pytest.mark.parametrize("content, problem", [
    ("timestamp,open,high,low,close,volume\n2019-01-01T00:00:00Z,1,2,0.5,1.5,10\n"
     "2019-01-01T01:00:00Z,1,2,0.5,abc,10\n", ":3:"),
    ("timestamp,open,high,low,close\n2019-01-01T00:00:00Z,1,2,0.5,1.5\n", "unknown layout"),
    ("hello world\n", "unknown layout"),
])
def test_bad_data_gives_one_clear_line(tmp_path, content, problem):
    bad = tmp_path / "BTC-USD_1h.csv"
    bad.write_text(content)
    result = cli("replay", "--state-dir", str(tmp_path), str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "BTC-USD_1h.csv" in lines[0]
    assert problem in lines[0]


def test_bad_config_stops_start_up_with_the_key_named(tmp_path, real_slice):
    conf = tmp_path / "bad.toml"
    conf.write_text('[risk]\nmax_position_fraction = "1.5"\n')
    result = cli("replay", "--config", str(conf), "--state-dir", str(tmp_path),
                 str(real_slice[0]))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: config {conf}: risk.max_position_fraction: must be a fraction in (0, 1] "
        "(0.10 means 10 %), got 1.5"]


def test_halt_and_status_use_the_control_file(tmp_path):
    assert "never run live here" in cli("status", "--state-dir", str(tmp_path)).stdout
    result = cli("halt", "--state-dir", str(tmp_path), "--reason", "maintenance")
    assert result.returncode == 0
    assert (tmp_path / "HALT").read_text() == "maintenance\n"
    assert "control file" in cli("status", "--state-dir", str(tmp_path)).stdout
    result = cli("resume", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and "removed" in result.stdout  # said, not silent
    assert not (tmp_path / "HALT").exists()


def test_resume_offline_also_lifts_risks_drawdown_halt(tmp_path):
    since = 1_700_000_000_000_000_000
    halt = {"level": "HALTED", "reason": "drawdown limit 20%", "since_ns": since}
    (tmp_path / "risk_state.json").write_text(json.dumps({
        "day": 19675, "start_of_day_equity": "9000", "daily": None, "halt": halt,
        "equity_peak": "12000", "cooldown_until": {"BTC-USD": since}}))
    (tmp_path / "trading_state.json").write_text(json.dumps({
        "level": "HALTED", "reason": "drawdown limit 20%", "since_ns": since, "since": "",
        "run_id": "live-x", "mode": "live"}))
    result = cli("resume", "--state-dir", str(tmp_path), "--reason", "checked")
    assert result.returncode == 0, result.stderr
    assert "resumed: the next start trades again (checked)" in result.stdout
    risk = json.loads((tmp_path / "risk_state.json").read_text())
    assert risk["halt"] is None and risk["equity_peak"] is None
    assert risk["start_of_day_equity"] == "9000"  # the rest of the day is kept
    assert risk["cooldown_until"] == {"BTC-USD": since}
    assert json.loads((tmp_path / "trading_state.json").read_text())["level"] == "ACTIVE"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_run_without_network_retries_and_stops_cleanly_on_ctrl_c(tmp_path):
    url = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "run", "--feed-url", url,
                             "--state-dir", str(tmp_path)], cwd=REPO, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stderr = Lines(proc.stderr)
    try:
        wait_until(lambda: stderr.ended or sum("reconnecting" in line
                                               for line in stderr.lines) >= 2, timeout=30)
        assert proc.poll() is None, "the system must keep running without a network"
        assert any(f"cannot reach {url}" in line for line in stderr.lines), stderr.lines
        wait_until(lambda: running(tmp_path, proc.pid), timeout=30)  # every actor is up
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("no clean stop within 30 s of Ctrl-C; the system said:\n"
                        + "\n".join(stderr.lines[-40:]))
    finally:
        if proc.poll() is None:
            proc.kill()
    said = stderr.text()
    assert proc.returncode == 0, said
    assert "stopped cleanly" in said and "Traceback" not in said
    state = json.loads((tmp_path / "trading_state.json").read_text())
    assert state["mode"] == "live" and state["level"] == "ACTIVE"


def test_one_running_system_per_state_directory_even_after_a_kill_9(tmp_path):
    url = f"ws://127.0.0.1:{free_port()}"  # nothing listens there
    first = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "run", "--feed-url", url,
                              "--state-dir", str(tmp_path), "--no-ui"], cwd=REPO,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stderr = Lines(first.stderr)
    try:
        wait_until(lambda: stderr.ended or any("reconnecting" in line for line in stderr.lines),
                   timeout=30)
        assert first.poll() is None, stderr.lines
        second = cli("run", "--feed-url", url, "--state-dir", str(tmp_path), "--no-ui",
                     timeout=30)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            f"error: state directory {tmp_path} is in use by another running system "
            f"(pid {first.pid}); stop it first"]
        first.kill()  # SIGKILL: no clean-up runs, the lock file stays behind
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert (tmp_path / "run.lock").exists()
    lock = StateDirLock(StateDir(tmp_path))
    lock.acquire()  # the kernel dropped the dead process's lock
    lock.release()


def running(state: Path, pid: int) -> bool:
    try:
        return json.loads((state / "admin.json").read_text())["pid"] == pid
    except (OSError, ValueError, KeyError):
        return False


def test_a_replay_killed_at_random_points_and_resumed_ends_the_same(real_slice, tmp_path):
    reference = tmp_path / "reference"
    assert cli("replay", "--state-dir", str(reference), "--no-ui",
               *map(str, real_slice)).returncode == 0
    expected = run_dir_of(reference)

    state = tmp_path / "killed"
    command = [sys.executable, "-m", "cryptoj_actors", "replay", "--state-dir", str(state),
               "--no-ui", *map(str, real_slice)]
    rng = random.Random(7)
    kills = 0
    while True:
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        stderr = Lines(proc.stderr)
        # the actors are up and trading (or the run, resumed, is already over)
        wait_until(lambda: running(state, proc.pid) or proc.poll() is not None, timeout=30)
        time.sleep(rng.uniform(0.0, 0.8))  # where to kill it: chosen, not waited for
        if kills == 3 or proc.poll() is not None:
            assert proc.wait(timeout=120) == 0, stderr.text()
            break
        proc.send_signal(signal.SIGKILL)  # kill -9: no clean-up of any kind
        proc.wait(timeout=10)
        kills += 1
        command = [sys.executable, "-m", "cryptoj_actors", "replay", "--no-ui",
                   "--resume", str(run_dir_of(state))]
    resumed = run_dir_of(state)
    assert kills >= 1
    assert (resumed / "trades.csv").read_bytes() == (expected / "trades.csv").read_bytes()
    assert json.loads((resumed / "report.json").read_text())["final"] == \
        json.loads((expected / "report.json").read_text())["final"]
    db = sqlite3.connect(state / "journal.sqlite3")
    fills = db.execute("SELECT count(*), count(DISTINCT fill_id) FROM fills").fetchone()
    db.close()
    with open(expected / "trades.csv") as fh:
        assert fills == (len(fh.readlines()) - 1,) * 2  # every fill journaled exactly once


def test_a_restart_storm_halts_and_status_shows_why(real_slice, tmp_path):
    conf = tmp_path / "storm.toml"
    conf.write_text((REPO / "conf" / "default.toml").read_text()
                    .replace('role = ""', 'role = "risk"').replace("at_batch = 0", "at_batch = 900")
                    .replace("times = 1 ", "times = 99 ")
                    .replace("restart_initial_s = 0.5", "restart_initial_s = 0.01")
                    .replace("restart_max_s = 30.0", "restart_max_s = 0.05"))
    result = cli("replay", "--config", str(conf), "--state-dir", str(tmp_path), "--no-ui",
                 *map(str, real_slice))
    assert result.returncode == 3, result.stderr
    assert "restart budget spent: risk failed 6 times" in result.stdout
    status = cli("status", "--state-dir", str(tmp_path)).stdout
    assert "last replay replay-" in status
    assert "HALTED" in status and "restart budget spent: risk failed 6 times" in status
    assert "injected fault" in status


def test_report_renders_a_finished_run_with_figures_and_one_html_page(real_slice, tmp_path):
    assert cli("replay", "--state-dir", str(tmp_path), "--no-ui",
               *map(str, real_slice)).returncode == 0
    run = run_dir_of(tmp_path)
    result = cli("report", str(run), "--html")
    assert result.returncode == 0, result.stderr
    for heading in ("Run report", "By product", "By exit reason", "Monthly returns",
                    "Fills by liquidity"):
        assert heading in result.stdout
    assert "stop-loss" in result.stdout and "signal" in result.stdout
    for name in ("positions.png", "monthly_returns.png"):
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (run / "report.html").read_text()
    assert "<h2>By exit reason</h2>" in page and 'id="trades"' in page
    assert "<h2>By liquidity (maker: resting orders; taker: crossing ones)</h2>" in page
    for figure in ("equity", "prices", "weights", "monthly"):
        assert f'id="{figure}"' in page
    # self-contained: plotly.js is in the page, and nothing else refers elsewhere
    assert get_plotlyjs() in page and "<script src" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page.replace(get_plotlyjs(), ""))


def test_report_of_an_unfinished_run_says_what_is_missing(tmp_path):
    (tmp_path / "runs" / "r").mkdir(parents=True)
    result = cli("report", str(tmp_path / "runs" / "r"))
    assert result.returncode == 2
    assert "no report.json, trades.csv, equity.csv" in result.stderr


def settled(state: Path) -> int:
    """Batches settled in the system running on ``state``, once its portfolio
    has marked, as its admin interface says; 0 before it answers."""
    endpoint = running_endpoint(StateDir(state), "admin.token")
    if endpoint is None:
        return 0
    try:
        status = call(endpoint, "GET", "/status")
    except requests.RequestException:
        return 0
    return status["progress"]["batches_settled"] if "portfolio" in status else 0


def test_report_of_a_running_run_is_as_of_now(real_slice, tmp_path):
    conf = tmp_path / "slow.toml"
    # 10 ms a batch: the 2,000 batches take 20 s, long after the report is asked for
    conf.write_text((REPO / "conf" / "default.toml").read_text().replace(
        'name = "trend_risk_parity"', 'name = "tests.integration.test_admin:SlowTrend"')
        .replace("[strategy.params]\n", "[strategy.params]\npause_s = 0.01\n"))
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "replay", "--config",
                             str(conf), "--state-dir", str(state), "--no-ui",
                             *map(str, real_slice)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: settled(state) >= 24 or proc.poll() is not None, timeout=60)
        assert proc.poll() is None  # a day of hours traded, and still running
        run = run_dir_of(state)
        result = cli("report", str(run))
        assert result.returncode == 0, result.stderr
        assert f"run {run.name} is running: its report as of now" in result.stdout
        report = json.loads((run / "report.json").read_text())
        assert report["run"]["status"] == "running"
        assert 0 < report["run"]["bars"] < 2000
        assert proc.poll() is None  # still running
    finally:
        proc.kill()
        proc.wait(timeout=10)
