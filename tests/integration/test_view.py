"""The live status view, as an operator sees it: in a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, Lines, wait_until, window
from tests.integration.test_cli import real_slice, write_plain_csv  # noqa: F401 - a fixture

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
ROLES = ("admin", "executor", "feed", "health", "portfolio", "risk", "strategy", "supervisor")


def run_in_terminal(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its terminal; its screen text."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "140", "LINES": "60", "TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", *args], cwd=REPO,
                            stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the other end closed: the process has exited
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, ANSI.sub(b"", out).decode("utf-8", "replace")


def test_a_replay_in_a_terminal_shows_the_live_view(real_slice: list[Path], tmp_path):  # noqa: F811
    code, screen = run_in_terminal(["replay", "--state-dir", str(tmp_path),
                                    *map(str, real_slice)])
    assert code == 0, screen[-2000:]
    assert "Equity and performance" in screen and "Equity" in screen
    assert "Sharpe / Sortino" in screen and "Positions" in screen
    for role in ROLES:
        assert re.search(rf"{role}\s+alive\s+(OK|DEGRADED|CRITICAL)", screen), role
    assert "progress 2,000/2,000 batches (100.0%)" in screen
    assert "Run report" in screen  # the table at the end


@pytest.fixture(scope="module")
def long_slice(aligned_real, tmp_path_factory) -> list[Path]:
    """Three plain CSV files of 20,000 real hours from 2017-07-01: a replay
    that lasts seconds even on an idle machine."""
    cut = window(aligned_real, "2017-07-01T11:00:00", 20_000)
    folder = tmp_path_factory.mktemp("long")
    return [write_plain_csv(folder / f"{p}_1h.csv", [bars[i] for _, bars in cut.slices])
            for i, p in enumerate(cut.products)]


# A replay's health is logged, never acted on, but risk's daily loss limit
# makes the trading state REDUCING until the next UTC day, and the data has
# such days: either level is a run going as it should.
STATUS = re.compile(r"status: PAPER [\d,]+/20,000 batches equity [\d,.]+ today -?[\d,.]+ \| "
                    r"(ACTIVE|REDUCING) \| health (OK|DEGRADED|CRITICAL) \| \d+ positions \| "
                    r"8/8 actors alive")


def test_without_a_terminal_it_logs_a_status_line(long_slice: list[Path], tmp_path):
    conf = tmp_path / "fast.toml"
    conf.write_text((REPO / "conf" / "default.toml").read_text().replace(
        "log_interval_s = 10.0", "log_interval_s = 0.05"))
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "replay", "--config",
                             str(conf), "--state-dir", str(tmp_path), *map(str, long_slice)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    stderr = Lines(proc.stderr)
    try:
        # The first lines may come before every actor is up or the portfolio
        # has marked: wait for one that says it all (or for the end).
        wait_until(lambda: stderr.ended or any(STATUS.fullmatch(line)
                                               for line in stderr.lines), timeout=120)
    finally:
        proc.send_signal(signal.SIGINT)  # what it was run for is seen
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = [line for line in stderr.lines if line.startswith("status:")]
    assert any(STATUS.fullmatch(line) for line in lines), stderr.text()[-3000:]
