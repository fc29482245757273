"""``[feed] replay_one_cpu``: a replay's actor threads stay on one CPU, and the
command gives its caller back the CPUs it had."""

from __future__ import annotations

import os
import threading

import pytest

from cryptoj_actors.cli.main import main
from tests.integration.test_cli import real_slice  # noqa: F401

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or
                                len(os.sched_getaffinity(0)) < 2,
                                reason="needs a Linux machine with two CPUs or more")


def replay_watching_the_portfolio(args: list[str]) -> tuple[int, set[int]]:
    """Run ``replay`` here while a watcher reads the portfolio actor's CPUs."""
    seen: set[int] = set()
    done = threading.Event()
    earlier = set(threading.enumerate())  # an actor another test left behind is not this one

    def watch() -> None:
        while not done.is_set() and not seen:
            for thread in threading.enumerate():
                if thread.name.startswith("PortfolioActor") and thread.native_id and \
                        thread not in earlier:
                    try:
                        seen.update(os.sched_getaffinity(thread.native_id))
                    except OSError:
                        pass  # it ended meanwhile
            done.wait(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        code = main(args)
    finally:
        done.set()
        watcher.join()
    return code, seen


def test_the_actors_run_on_one_cpu_and_the_caller_gets_its_cpus_back(
        real_slice, tmp_path):  # noqa: F811
    before = os.sched_getaffinity(0)
    code, portfolio_cpus = replay_watching_the_portfolio(
        ["replay", "--no-ui", "--state-dir", str(tmp_path), *map(str, real_slice)])
    assert code == 0
    assert len(portfolio_cpus) == 1 and portfolio_cpus <= before
    assert os.sched_getaffinity(0) == before
    (run,) = (tmp_path / "runs").iterdir()
    assert f"threads kept on CPU {min(portfolio_cpus)}" in (run / "run.log").read_text()


def test_replay_one_cpu_false_leaves_the_cpus_alone(real_slice, tmp_path):  # noqa: F811
    config = tmp_path / "every-cpu.toml"
    config.write_text("[feed]\nreplay_one_cpu = false\n")
    before = os.sched_getaffinity(0)
    code, portfolio_cpus = replay_watching_the_portfolio(
        ["replay", "--no-ui", "--config", str(config), "--state-dir", str(tmp_path / "s"),
         *map(str, real_slice)])
    assert code == 0
    assert portfolio_cpus == before
