"""``optimize`` on a real local Ray, over the real hourly data: walk-forward
folds, an interrupted sweep resumed, and the best point replayed by
``replay`` to the same result."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoj_actors.research.folds import folds
from tests.conftest import REPO, wait_until
from tests.integration.conftest import screenshot
from tests.integration.test_cli import cli, run_dir_of, write_plain_csv

SPACE = ('[strategy.params]\nfast_span = { low = 96, high = 240, step = 24 }\n'
         'slow_span = { choices = [504, 672, 840] }\n')


def rows(folder: Path) -> list[dict[str, str]]:
    path = folder / "trials.csv"
    if not path.exists():
        return []
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_a_walk_forward_sweep_resumes_and_its_best_point_replays_the_same(
        aligned_real, cdd_files, tmp_path, browser):
    space = tmp_path / "space.toml"
    space.write_text(SPACE)
    state = tmp_path / "state"
    args = ["optimize", "--space", str(space), "--trials", "4", "--folds", "2", "--top", "2",
            "--workers", "2", "--state-dir", str(state), *map(str, cdd_files)]
    folder = state / "optimize" / "sweep"

    # Ctrl-C once the first trials are in: they are kept.
    proc = subprocess.Popen([sys.executable, "-m", "cryptoj_actors", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until(lambda: len(rows(folder)) >= 2 or proc.poll() is not None, timeout=120)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "the same command resumes the sweep" in err and "Traceback" not in err
    kept = rows(folder)
    assert 2 <= len(kept) < 12

    resumed = cli(*args, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    final = rows(folder)
    inside = [r for r in final if r["sample"] == "in"]
    outside = [r for r in final if r["sample"] == "out"]
    assert len(inside) == 8 and len(outside) == 4  # 4 trials and the best 2, each fold
    assert all(r["status"] in ("finished", "halted") and r["sharpe"] for r in final)
    for row in kept:  # what the interrupted sweep finished was not replayed again
        assert row in final
    assert "parameter sets by out-of-sample sharpe" in resumed.stdout
    assert "in-sample mean sharpe" in resumed.stdout and "gap" in resumed.stdout
    page = browser.new_page(viewport={"width": 1200, "height": 500})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:"))
            else errors.append(f"a request left the page: {r.url}"))
    page.goto((folder / "objective.html").as_uri())
    page.wait_for_selector(".scatterlayer .trace")
    # a panel a parameter, a trace a fold in each, one colour a fold in every panel
    colours = page.evaluate("""() => [...document.querySelectorAll('.scatterlayer .trace')]
        .map(t => t.querySelector('.point').style.fill)""")
    assert len(colours) == 4 and colours[0] == colours[2] != colours[1] == colours[3], colours
    screenshot(page, tmp_path, "objective.png")
    page.close()
    assert errors == []

    # The best out-of-sample point, replayed by `replay` on its window alone.
    best = max(outside, key=lambda r: float(r["sharpe"]))
    window = folds(len(aligned_real.slices), 2)[int(best["fold"]) - 1].out_of_sample
    cut = window.of(aligned_real)
    files = [write_plain_csv(tmp_path / f"{p}.csv", [bars[i] for _, bars in cut.slices])
             for i, p in enumerate(cut.products)]
    config = tmp_path / "best.toml"
    config.write_text(f'[strategy.params]\nfast_span = {best["strategy.fast_span"]}\n'
                      f'slow_span = {best["strategy.slow_span"]}\n')
    replayed = cli("replay", "--config", str(config), "--state-dir", str(tmp_path / "replay"),
                   "--no-ui", *(f"{p}={f}" for p, f in zip(cut.products, files, strict=True)))
    assert replayed.returncode in (0, 3), replayed.stderr
    report = json.loads((run_dir_of(tmp_path / "replay") / "report.json").read_text())
    assert report["run"]["bars"] == len(cut.slices)
    assert report["final"]["equity"] == best["end_equity"]
    assert report["performance"]["number_of_trades"] == int(best["trades"])
    assert report["performance"]["sharpe"] == pytest.approx(float(best["sharpe"]), rel=1e-9)
