"""A short soak: ``scripts/soak.py`` for one minute, every fault of its
schedule once (the 30-minute run's figures are in the project's notes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cryptoj_actors.cli.common import EXIT_HALTED
from tests.conftest import REPO


@pytest.mark.slow
def test_a_minute_of_faults_loses_and_doubles_no_fill(advanced_ws_capture, tmp_path):
    out = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "soak.py"), "--minutes", "1.2",
         "--fault-every", "8", "--fault-for", "5", "--actor-fault-batches", "150",
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(out.read_text())
    # The soak halts the system at its end (no new orders while the last
    # fills are polled), so it stops with the halted exit code.
    assert figures["process_lived"] and figures["exit_code"] == EXIT_HALTED
    assert figures["fills"] > 0 and figures["fills"] == figures["venue_fills"]
    assert figures["lost_fills"] == 0 and figures["doubled_fills"] == 0
    assert figures["restarts"]["risk"] >= 1 and figures["tracebacks"] == 0
    assert len(figures["faults"]) >= 7  # each kind once
