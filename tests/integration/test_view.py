"""The live status view, as an operator sees it: in a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.integration.test_cli import real_slice  # noqa: F401 - the shared fixture

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


def test_without_a_terminal_it_logs_a_status_line(real_slice: list[Path], tmp_path):  # noqa: F811
    conf = tmp_path / "fast.toml"
    conf.write_text((REPO / "conf" / "default.toml").read_text().replace(
        "log_interval_s = 10.0", "log_interval_s = 0.2"))
    result = subprocess.run([sys.executable, "-m", "cryptoj_actors", "replay", "--config",
                             str(conf), "--state-dir", str(tmp_path), *map(str, real_slice)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("status:")]
    assert lines, result.stderr
    assert re.match(r"status: PAPER [\d,]+/2,000 batches equity [\d,.]+ today -?[\d,.]+ \| ACTIVE \| "
                    r"health (OK|DEGRADED|CRITICAL) \| \d+ positions \| 8/8 actors alive",
                    lines[-1]), lines[-1]
