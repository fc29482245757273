"""Files of the state directory: atomic writes, the layout, risk's saved state."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.risk.saved_state import RiskStateFile
from cryptoj_actors.state.files import write_atomic
from cryptoj_actors.state.layout import StateDir


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("old")
    write_atomic(path, "new")
    write_atomic(path, b"bytes")
    assert path.read_bytes() == b"bytes"
    assert os.listdir(tmp_path) == ["x.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    path.write_text("old")

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["x.json"]


def test_every_file_of_the_state_directory_is_named_in_one_place():
    state = StateDir(Path("var"))
    run = state.run("replay-1")
    assert run.path == Path("var/runs/replay-1") and run.run_id == "replay-1"
    names = {state.journal.name, state.trading_state.name, state.risk_state.name,
             state.control_file.name, state.admin_endpoint.name, state.lock.name,
             state.admin_token("admin.token").name}
    assert names == {"journal.sqlite3", "trading_state.json", "risk_state.json", "HALT",
                     "admin.json", "run.lock", "admin.token"}
    assert run.manifest.name == "run.json" and run.metrics.name == "metrics.jsonl"


def saved(peak: str | None, day: int = 1, halt: object = None) -> dict:
    return {"day": day, "start_of_day_equity": "100", "daily": None, "halt": halt,
            "equity_peak": peak, "cooldown_until": {}}


def test_risk_state_is_written_on_change_and_a_rising_peak_only_per_percent(tmp_path):
    file = RiskStateFile(tmp_path / "risk_state.json")
    assert file.save_if_changed(saved("100"))
    assert not file.save_if_changed(saved("100.99"))  # under 1 %: not worth a write
    assert file.save_if_changed(saved("101"))
    assert file.save_if_changed(saved("101", day=2))  # anything else: at once
    assert json.loads(file.path.read_text())["day"] == 2
    assert Decimal(file.load()["equity_peak"]) == 101


def test_an_offline_resume_lifts_risks_halt_and_peak_only_when_halted(tmp_path):
    file = RiskStateFile(tmp_path / "risk_state.json")
    assert not file.lift_halt()  # no file
    file.save_if_changed(saved("100"))
    assert not file.lift_halt()
    halt = {"level": "HALTED", "reason": "drawdown", "since_ns": 5}
    file.save_if_changed(saved("100", halt=halt))
    assert file.lift_halt()
    record = file.load()
    assert record["halt"] is None and record["equity_peak"] is None and record["day"] == 1


def test_a_file_that_is_not_a_risk_state_is_refused_with_its_name(tmp_path):
    path = tmp_path / "risk_state.json"
    path.write_text('{"day": 1}')
    with pytest.raises(ValueError, match="risk_state.json: not a risk state"):
        RiskStateFile(path).load()
