"""A drill: the live system (``run``, a real process) on the replay server
serving the real capture with malformed frames slipped in, 5 % and 50 % of
them. No frame may fail an actor: every one keeps its first generation, the
system is not halted, and the junk is counted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoj_actors.admin.client import call, running_endpoint
from cryptoj_actors.state.layout import StateDir
from tests.conftest import REPO, load_script, wait_until

replay_server = load_script("replay_server")


@pytest.mark.parametrize("fraction", [0.05, 0.5])
def test_malformed_frames_fail_no_actor(advanced_ws_capture, tmp_path: Path, fraction):
    capture = replay_server.Capture.read(advanced_ws_capture)
    server = replay_server.ReplayServer(capture, speed=4, loop=True,
                                        faults=replay_server.Faults(malformed=fraction))
    config = tmp_path / "drill.toml"
    config.write_text('[feed]\nproducts = ["BTC-USD", "ETH-USD"]\n'
                      'batch_interval_s = 0.1\nbar_interval_s = 1\n')
    with replay_server.Running(server):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cryptoj_actors", "run", "--config", str(config),
             "--state-dir", str(tmp_path), "--feed-url", f"ws://127.0.0.1:{server.port}",
             "--no-ui"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_until(lambda: running_endpoint(StateDir(tmp_path), "admin.token"), timeout=30)
            endpoint = running_endpoint(StateDir(tmp_path), "admin.token")

            def status() -> dict:
                return call(endpoint, "GET", "/status")

            wait_until(lambda: status()["feed"]["messages"].get("invalid", 0) >= 40,
                       timeout=60)
            doc = status()
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    actors = doc["actors"]
    assert {role: (a["alive"], a["generation"], a["restarts"]) for role, a in actors.items()} \
        == {role: (True, 0, 0) for role in actors}
    assert doc["trading_state"]["level"] != "HALTED"
    assert doc["feed"]["messages"]["frames"] > 0
