"""What a user reads: every subcommand describes itself, options say what
they take, a run id serves as well as its directory, and a refusal comes
before any claim of work."""

from __future__ import annotations

import argparse

import pytest

from cryptoj_actors.cli.main import _parser
from tests.integration.test_cli import cli, real_slice  # noqa: F401

COMMANDS = ("run", "replay", "report", "halt", "status", "resume", "record", "download",
            "doctor", "optimize")


def test_every_subcommand_has_a_description_and_every_option_a_help():
    parser, commands = _parser()
    assert set(commands) == set(COMMANDS)
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        assert command.description and len(command.description) > 40, name
        bare = [a.dest for a in command._actions if not a.help]
        assert not bare, f"{name}: options without help: {bare}"
    listed = {a.dest: a.help for a in sub._choices_actions}
    assert all(listed[name] for name in COMMANDS), listed


@pytest.fixture(scope="module")
def replayed(real_slice, tmp_path_factory):  # noqa: F811
    """A replay of the real slice: its state directory and what it printed."""
    state = tmp_path_factory.mktemp("replayed")
    result = cli("replay", "--state-dir", str(state), "--no-ui", *map(str, real_slice))
    assert result.returncode == 0, result.stderr
    return state, result


def test_report_takes_a_run_id(replayed):
    state, _ = replayed
    (run,) = (state / "runs").iterdir()
    result = cli("report", run.name, "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    assert f"wrote {run / 'positions.png'}" in result.stdout


def test_record_refuses_an_existing_file_before_saying_it_records(tmp_path):
    out = tmp_path / "capture.jsonl"
    out.write_text("")
    result = cli("record", "--out", str(out), "--state-dir", str(tmp_path), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {out} exists: a recording is never overwritten"


def test_a_replay_says_when_in_market_time_and_a_clean_stop_is_not_a_failure(replayed):
    _, result = replayed
    reducing = [line for line in result.stderr.splitlines() if "trading REDUCING" in line]
    assert reducing and all(" at 20" in line and "(market time)" in line for line in reducing)
    assert "actor:admin down" not in result.stderr  # stopping is not being down
    assert "First mark (a bar's close)" in result.stdout and "Intervals marked" in result.stdout


def test_a_directory_given_as_a_csv_is_called_a_directory_not_missing(tmp_path):
    result = cli("replay", str(tmp_path), "--state-dir", str(tmp_path / "var"), "--no-ui")
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path}: not a file (give the CSV files themselves)"


def test_a_warm_up_longer_than_the_data_is_a_warning_not_a_silent_run(real_slice, tmp_path):  # noqa: F811
    config = tmp_path / "long.toml"
    config.write_text("[strategy.params]\nslow_span = 3000\n")
    result = cli("replay", "--config", str(config), "--state-dir", str(tmp_path), "--no-ui",
                 *map(str, real_slice))
    assert result.returncode == 0, result.stderr
    assert ("warning: the strategy needs 3,000 bars before its first decision and the data "
            "has 2,000 intervals: this replay will not trade") in result.stderr
