"""A full disk, for real: the state directory on a small tmpfs mounted in a
namespace of the test's own (``unshare``). Whatever fails to be written is
named in one line, nothing partial is left (no torn report file, no stray
temporary), and no traceback or "Logging error" reaches the console."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_cli import real_slice  # noqa: F401

#: Run inside the namespace after the command, while the tmpfs is still there:
#: names every temporary left behind and every report file that is not whole.
LEFT_BEHIND = """
import json, pathlib, sys
for path in pathlib.Path(sys.argv[1]).rglob("*"):
    if path.name.endswith((".tmp", ".part")):
        print("LEFT", path)
    if path.name == "report.json":
        try:
            json.loads(path.read_text())
        except ValueError:
            print("TORN", path)
    if path.suffix in (".csv", ".png") and path.stat().st_size == 0:
        print("TORN", path)
"""


def on_tmpfs(size: str, folder: Path, *command: str) -> subprocess.CompletedProcess:
    script = (f'mount -t tmpfs -o size={size} tmpfs "{folder}" && cd "{REPO}" && '
              + " ".join(f"'{c}'" for c in command)
              + f'; rc=$?; "{sys.executable}" -c \'{LEFT_BEHIND}\' "{folder}"; exit $rc')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.fixture(scope="module")
def can_mount(tmp_path_factory) -> None:
    folder = tmp_path_factory.mktemp("probe")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare: a full disk cannot be made here")
    probe = on_tmpfs("64k", folder, "true")
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a namespace here: {probe.stderr.strip()}")


def test_a_replay_on_a_full_disk_names_the_file_and_leaves_nothing_torn(
        can_mount, real_slice, tmp_path):  # noqa: F811
    state = tmp_path / "state"
    state.mkdir()
    # 256 KiB: the journal fills it, the executor's restarts are spent (a
    # halt), and the report no longer fits.
    result = on_tmpfs("256k", state, sys.executable, "-m", "cryptoj_actors", "replay", "--no-ui",
                      "--state-dir", str(state), *map(str, real_slice))
    err = result.stderr
    assert "Traceback" not in err and "Logging error" not in err, err[-3000:]
    assert "LEFT" not in result.stdout and "TORN" not in result.stdout, result.stdout
    assert result.returncode == 74, err[-3000:]
    said = [line for line in err.splitlines()
            if line.startswith(("error:", "warning:", "CRITICAL")) or "cannot" in line]
    assert said and any(str(state) in line for line in said), err[-3000:]
    assert any("No space left on device" in line for line in said), err[-3000:]
