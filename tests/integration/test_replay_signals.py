"""A replay stopped by SIGTERM (a service manager, ``kill``) stops as cleanly
as on Ctrl-C: it writes what exists and says it was interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import REPO
from tests.integration.test_cli import real_slice  # noqa: F401


def test_sigterm_stops_a_replay_cleanly_with_its_report(real_slice, tmp_path):  # noqa: F811
    config = tmp_path / "slow.toml"  # a strategy slow enough to be caught running
    config.write_text('[strategy]\nname = "tests.integration.test_admin:SlowTrend"\n'
                      '[ui]\nlog_interval_s = 0.2\n')
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "replay", "--no-ui",
                             "--config", str(config), "--state-dir", str(tmp_path / "var"),
                             *map(str, real_slice)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line or line.startswith("status:"):
                break  # running: its first status line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "interrupted (SIGTERM): stopping the system and writing what exists" in err
    assert "Traceback" not in err
    (run,) = (tmp_path / "var" / "runs").iterdir()
    report = json.loads((run / "report.json").read_text())
    assert report["run"]["status"] == "stopped"
    assert report["run"]["bars"] < 2000  # it stopped before the data ended
    assert "ended: stopped (interrupted by SIGTERM)" in out
