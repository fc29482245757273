"""scripts/bench_peers.py refuses, in one line, to run without what it compares."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_without_the_peers_environment_it_says_so_in_one_line(tmp_path):
    missing = tmp_path / "no-such-venv" / "bin" / "python"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_peers.py"),
                           "--pairs", "1", "--peers-python", str(missing)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: no ")  # the peers' Python, or the data where it is absent
    assert "Traceback" not in done.stderr
