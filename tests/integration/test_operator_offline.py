"""The operator's commands when no system runs on the state directory: each
says so, ``status --json`` is JSON all the same, and nothing happens
silently."""

from __future__ import annotations

import json

from tests.integration.test_cli import cli


def test_status_json_with_no_system_running_is_json(tmp_path):
    result = cli("status", "--json", "--state-dir", str(tmp_path))
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc == {"running": False, "state_dir": str(tmp_path), "trading_state": None,
                   "last_replay": None, "control_file": None}
    (tmp_path / "HALT").write_text("maintenance\n")
    doc = json.loads(cli("status", "--json", "--state-dir", str(tmp_path)).stdout)
    assert doc["control_file"] == str(tmp_path / "HALT")


def test_halt_with_no_system_running_says_the_next_start_starts_halted(tmp_path):
    result = cli("halt", "--state-dir", str(tmp_path))
    assert result.returncode == 0
    assert "no system runs on" in result.stdout and "next start" in result.stdout
    assert "halts within a second" not in result.stdout


def test_resume_says_it_removed_the_control_file(tmp_path):
    (tmp_path / "HALT").write_text("maintenance\n")
    result = cli("resume", "--state-dir", str(tmp_path))
    assert result.returncode == 0
    assert f"removed {tmp_path / 'HALT'}" in result.stdout
    assert "nothing to resume" not in result.stdout
    assert "nothing to resume" in cli("resume", "--state-dir", str(tmp_path)).stdout
