"""The systemd unit and the Dockerfile: checked with the tools there are."""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

UNIT = REPO / "conf" / "systemd" / "cryptoj.service"
PYTHON = "/opt/cryptoj/venv/bin/python"


def tool(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def docker_engine() -> bool:
    return shutil.which("docker") is not None and tool("docker", "info").returncode == 0


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (Debian's systemd package)")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # verify also checks that ExecStart's program exists: this interpreter
    # stands in for the unit's virtual environment.
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(PYTHON, sys.executable))
    result = tool("systemd-analyze", "verify", str(unit))
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_unit_restarts_a_crash_stops_cleanly_and_never_loops_on_a_bad_config():
    settings = unit_settings()
    assert settings["Restart"] == ["on-failure"]
    assert settings["KillSignal"] == ["SIGINT"]  # Ctrl-C: run's clean stop
    assert settings["RestartPreventExitStatus"] == ["2"]  # a bad config, a refused start
    assert settings["SuccessExitStatus"] == ["3"]  # stopped while HALTED
    assert settings["User"] != ["root"]
    (start,) = settings["ExecStart"]
    assert start.startswith(f"{PYTHON} -m cryptoj_actors run ") and "--live" not in start


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    lines = (REPO / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def test_the_dockerfile_is_multi_stage_and_runs_unprivileged_on_a_state_volume():
    build, run = dockerfile_stages()
    assert build[0][1].endswith(" AS build")
    final = dict(run)  # the last of each instruction
    assert final["USER"] not in ("root", "0")
    assert final["VOLUME"] == '["/var/lib/cryptoj"]' == f'["{final["WORKDIR"]}"]'
    assert final["STOPSIGNAL"] == "SIGINT"
    assert any(i == "COPY" and a.startswith("--from=build ") for i, a in run)
    assert not any(i == "RUN" and "pip install" in a for i, a in run)  # no build tools


def test_everything_the_dockerfile_copies_exists_and_passes_the_dockerignore():
    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines()
                if line and not line.startswith("#")]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(path, pattern.lstrip("!").rstrip("/")):
                verdict = not negated
        return verdict

    sources = [a.split()[:-1] for stage in dockerfile_stages() for i, a in stage
               if i == "COPY" and not a.startswith("--from=")]
    assert sources
    for path in (p for paths in sources for p in paths):
        assert (REPO / path).exists(), path
        assert not ignored(path), f"{path} is excluded by .dockerignore"


@pytest.mark.slow
def test_the_image_builds_and_runs_the_command_line():
    if not docker_engine():
        pytest.skip("no Docker engine to build the image with")
    tag = "cryptoj-actors-test"
    build = tool("docker", "build", "-q", "-t", tag, str(REPO), timeout=900)
    assert build.returncode == 0, build.stderr
    result = tool("docker", "run", "--rm", tag, "--version", timeout=120)
    assert result.returncode == 0 and "cryptoj" in result.stdout, result.stderr
