"""A command that fails unexpectedly says so in one line, with its own exit
code, and keeps the traceback in a log: never a traceback on the console,
never the exit code of a failed ledger cross-check."""

from __future__ import annotations

import socket

import pytest

from cryptoj_actors.cli import operator
from cryptoj_actors.cli.common import EXIT_CHECK_FAILED, EXIT_UNEXPECTED, EXIT_USAGE
from cryptoj_actors.cli.main import main
from cryptoj_actors.report import build
from tests.integration.test_cli import real_slice  # noqa: F401


def test_an_unexpected_error_is_one_line_its_own_code_and_a_logged_traceback(
        tmp_path, monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("the status board\nis gone")

    monkeypatch.setattr(operator, "cmd_status", broken)
    code = main(["status", "--state-dir", str(tmp_path)])
    assert code == EXIT_UNEXPECTED != EXIT_CHECK_FAILED
    err = capsys.readouterr().err
    log = tmp_path / "crash.log"
    assert err.splitlines() == [f"error: status failed unexpectedly: RuntimeError: the status "
                                f"board is gone; the traceback is in {log}"]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError" in text


def test_keyboard_interrupt_is_not_an_unexpected_error(tmp_path, monkeypatch, capsys):
    """Ctrl-C before a command's own handling: exit 130, one line, no crash log."""
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(operator, "cmd_status", interrupted)
    assert main(["status", "--state-dir", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "status: interrupted (Ctrl-C)\n"
    assert not (tmp_path / "crash.log").exists()


def test_a_failed_cross_check_always_exits_1(real_slice, tmp_path, monkeypatch, capsys):  # noqa: F811
    # A check that fails (as a defect would make it): the replay must not exit 0.
    monkeypatch.setattr(build, "_buys_over_the_limit",
                        lambda equity, trades, limit: [{"time": "t", "product_id": "BTC-USD"}])
    code = main(["replay", "--no-ui", "--state-dir", str(tmp_path), *map(str, real_slice)])
    assert code == EXIT_CHECK_FAILED == 1
    err = capsys.readouterr().err
    assert "error: cross-check FAILED: buys_within_the_limit" in err


@pytest.mark.parametrize("key", ["port", "metrics_port"])
def test_an_admin_port_in_use_stops_start_up_in_one_line(real_slice, tmp_path, key,  # noqa: F811
                                                         capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        config = tmp_path / "busy.toml"
        config.write_text(f"[admin]\n{key} = {port}\n")
        code = main(["replay", "--config", str(config), "--state-dir", str(tmp_path), "--no-ui",
                     *map(str, real_slice)])
    assert code == EXIT_USAGE
    assert capsys.readouterr().err.splitlines()[-1] == \
        f"error: config admin.{key}: 127.0.0.1:{port} is not free (Address already in use)"
    assert not (tmp_path / "runs").exists()
