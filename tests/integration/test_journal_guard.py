"""A damaged journal, or one emptied under an earlier live run, stops
start-up in one line (exit 2): the ledger is never silently lost or
rebuilt from nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_cli import cli, free_port, real_slice, run_dir_of  # noqa: F401


def damage(path: Path, how: str) -> None:
    if how == "truncated":
        os.truncate(path, 10_000)
    else:  # the header overwritten
        with open(path, "r+b") as fh:
            fh.write(b"\x00" * 100)


@pytest.fixture(scope="module")
def replayed(real_slice, tmp_path_factory) -> Path:  # noqa: F811
    state = tmp_path_factory.mktemp("journaled")
    result = cli("replay", "--state-dir", str(state), "--no-ui", *map(str, real_slice))
    assert result.returncode == 0, result.stderr
    assert (state / "journal.sqlite3").stat().st_size > 10_000
    return state


@pytest.mark.parametrize("how", ["truncated", "header"])
def test_a_damaged_journal_stops_run_and_resume_in_one_line(replayed, tmp_path, how):
    state = tmp_path / "state"
    subprocess.run(["cp", "-r", str(replayed), str(state)], check=True)
    for extra in state.glob("journal.sqlite3-*"):
        extra.unlink()
    (run_dir,) = (state / "runs").iterdir()
    manifest = run_dir / "run.json"  # the copy resumes against its own journal
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()),
                                    "state_dir": str(state)}))
    damage(state / "journal.sqlite3", how)
    for args in (("run", "--state-dir", str(state), "--feed-url",
                  f"ws://127.0.0.1:{free_port()}", "--no-ui"),
                 ("replay", "--resume", str(run_dir), "--no-ui")):
        result = cli(*args, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.strip().splitlines()
                 if not line.startswith("note: ")]  # what replay says of its input files
        assert len(lines) == 1, result.stderr
        line = lines[0]
        assert line.startswith(f"error: {state / 'journal.sqlite3'}: ")
        assert "damaged" in line or "cannot" in line


def earlier_live_run(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    (state / "trading_state.json").write_text(json.dumps({
        "level": "ACTIVE", "reason": "started", "since_ns": 1, "since": "", "set_by":
        "supervisor", "run_id": "live-20261130T000000Z-abcdef", "mode": "live"}))


@pytest.mark.parametrize("journal", ["emptied", "missing"])
def test_an_emptied_journal_under_an_earlier_live_run_is_refused(tmp_path, journal):
    earlier_live_run(tmp_path)
    if journal == "emptied":
        (tmp_path / "journal.sqlite3").write_bytes(b"")
    result = cli("run", "--state-dir", str(tmp_path), "--feed-url",
                 f"ws://127.0.0.1:{free_port()}", "--no-ui", timeout=60)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    state = "empty" if journal == "emptied" else "missing"
    assert line == (f"error: {tmp_path / 'journal.sqlite3'} is {state}, but {tmp_path} shows "
                    "an earlier live run (live-20261130T000000Z-abcdef): its fills and "
                    "positions would be lost. Restore the journal, or start over with "
                    "`run --fresh`")


def test_run_fresh_moves_the_old_state_aside_and_starts(tmp_path):
    earlier_live_run(tmp_path)
    (tmp_path / "journal.sqlite3").write_bytes(b"")
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", "run", "--fresh",
                             "--state-dir", str(tmp_path), "--feed-url",
                             f"ws://127.0.0.1:{free_port()}", "--no-ui"], cwd=REPO,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any("reconnecting" in line for line in seen) and time.monotonic() < deadline:
            seen.append(proc.stderr.readline())
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert any("starting over (--fresh): moved" in line for line in seen), seen
    (archive,) = (tmp_path / "archive").iterdir()
    assert {p.name for p in archive.iterdir()} == {"journal.sqlite3", "trading_state.json"}
