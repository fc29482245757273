"""The launch command itself, as an operator types it: ``python -m
cryptoj_actors`` with no arguments, from a directory that holds nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO

LOOPBACK_SITE = REPO / "tests" / "loopback_site"


def test_the_bare_command_starts_paper_trading_and_ctrl_c_exits_0(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(LOOPBACK_SITE), str(REPO)])}
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any("reconnecting" in line for line in seen) and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
        assert proc.poll() is None, "".join(seen)
        assert any("PAPER WARNING starting: PAPER trading (no real orders)" in line
                   for line in seen), seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(seen) + err
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert (tmp_path / "var" / "trading_state.json").is_file()  # it ran, in this directory
