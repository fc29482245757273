"""Benchmark: our whole replay process beside NautilusTrader's, interleaved.

Both replay the same real recorded bars (BTC-USD, ETH-USD and LTC-USD hourly
from ``../shared/data/coinbase_hourly_cdd``, the three-product common window,
60,333 bars): ours is ``python -m cryptoj_actors replay --no-ui`` of the
three files, every actor and every report as a user runs it; theirs is
``../shared/peers/backtest/bench_nautilus.py ALL tick``, NautilusTrader's
``BacktestEngine`` with its reference strategy (an SMA crossover; ours runs
the default trend strategy, whose work per bar is of the same order: the
engines' own costs dominate both). Each is timed as a whole process, from
start to exit, as an operator would wait for it.

The machines this runs on are noisy, so runs come in pairs, one of each,
the order alternating from pair to pair, after one warm-up run of each that
is not counted; the figure is the ratio of the medians (ours over theirs),
shown with every pair's raw times and their own ratio. The ratio depends on
the processor too (CPython's interpreter and NautilusTrader's compiled core
do not speed up alike: the same code measured 1.54 on one machine and 0.95
on another), so the table names the processor it was measured on.

    python scripts/bench_peers.py                  # 5 pairs
    python scripts/bench_peers.py --pairs 9 --peers-python ../peers-venv/bin/python

The peers run in a virtual environment of their own, never one of the
project's dependencies (``../shared/peers/README.md`` says how to make it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "coinbase_hourly_cdd"
FILES = [DATA / f"Coinbase_{p}USD_1h.csv" for p in ("BTC", "ETH", "LTC")]
NAUTILUS = SHARED / "peers" / "backtest" / "bench_nautilus.py"
#: The issue's target: our whole process at most this share of NautilusTrader's.
TARGET = 0.8


def timed(command: list[str]) -> tuple[float, float, str]:
    """Run ``command`` to its end: wall seconds, CPU seconds (user + system)
    of the child, and its standard output.

    Raises:
        SystemExit: the command failed (its last line of error output is shown).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SystemExit(f"error: {Path(command[1]).name} exited {done.returncode}: {last}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def processor() -> str:
    """The processor's model name (Linux's ``/proc/cpuinfo``) and the CPUs this
    process may use; ``unknown`` where that file is missing."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown")
    return f"{model}, {len(os.sched_getaffinity(0))} CPUs"


def ours() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as state:
        wall, cpu, _ = timed([sys.executable, "-m", "cryptoj_actors", "replay", "--no-ui",
                              "--state-dir", state, *map(str, FILES)])
    return wall, cpu


def theirs(python: str) -> tuple[float, float, float]:
    """NautilusTrader's whole process: wall and CPU seconds, and the timed
    replay it reports itself (``wall_s`` of its ``RESULT`` line)."""
    wall, cpu, out = timed([python, str(NAUTILUS), "ALL", "tick"])
    result = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
    if result is None:
        raise SystemExit("error: bench_nautilus.py printed no RESULT line")
    return wall, cpu, float(json.loads(result.removeprefix("RESULT "))["wall_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5, help="interleaved pairs (default 5)")
    parser.add_argument("--peers-python", default=str(REPO.parent / "peers-venv" / "bin" / "python"),
                        help="the Python of the peers' virtual environment "
                             "(default ../peers-venv/bin/python)")
    args = parser.parse_args()
    missing = [f for f in (*FILES, NAUTILUS) if not f.is_file()]
    if missing:
        print(f"error: no such file: {missing[0]} (the recorded data and the peers live in "
              "../shared)", file=sys.stderr)
        return 2
    if not Path(args.peers_python).is_file():
        print(f"error: no peers' Python at {args.peers_python}: make the environment as "
              "../shared/peers/README.md says, or name it with --peers-python", file=sys.stderr)
        return 2

    ours()  # warm-ups: the file cache and compiled modules, for both
    theirs(args.peers_python)
    table = Table(title=f"Whole process, replay of the 3-product hourly window: ours "
                        f"(replay --no-ui) against NautilusTrader (ALL tick), {args.pairs} "
                        "interleaved pairs, seconds")
    for column in ("pair", "first", "ours wall", "ours CPU", "Nautilus wall", "Nautilus CPU",
                   "Nautilus timed replay", "ours / Nautilus"):
        table.add_column(column, justify="right")
    mine: list[float] = []
    peer: list[float] = []
    ratios: list[float] = []
    for pair in range(1, args.pairs + 1):
        ours_first = pair % 2 == 1
        if ours_first:
            (a, a_cpu), (b, b_cpu, b_timed) = ours(), theirs(args.peers_python)
        else:
            (b, b_cpu, b_timed), (a, a_cpu) = theirs(args.peers_python), ours()
        mine.append(a)
        peer.append(b)
        ratios.append(a / b)
        table.add_row(str(pair), "ours" if ours_first else "Nautilus", f"{a:.2f}",
                      f"{a_cpu:.2f}", f"{b:.2f}", f"{b_cpu:.2f}", f"{b_timed:.2f}",
                      f"{a / b:.2f}")
    console = Console(width=140)
    console.print(table)
    ratio = statistics.median(mine) / statistics.median(peer)
    console.print(f"median wall: ours {statistics.median(mine):.2f} s, NautilusTrader "
                  f"{statistics.median(peer):.2f} s; ratio of the medians {ratio:.2f} "
                  f"(pairs {min(ratios):.2f} to {max(ratios):.2f}); target at most {TARGET}")
    console.print(f"measured on: {processor()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
