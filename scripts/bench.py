"""Benchmark: the whole actor system replaying real recorded bars.

Replays the common window of the recorded hourly bars (by default BTC-USD,
ETH-USD and LTC-USD from ``../shared/data/coinbase_hourly_cdd``, 2017-07 to
2019-10) through every actor, exactly as ``python -m cryptoj_actors replay``
does, and prints a table: time to load the files, time of the replay, bars
per second (one bar per product per hour), market batches per second (one per
hour), and the process's peak resident memory.

    python scripts/bench.py                 # windows 1 and 16, 3 runs each
    python scripts/bench.py --windows 16 --runs 5 FILE...
    python scripts/bench.py --observe        # the cost of watching: view and live metrics
    python scripts/bench.py --optimize       # sweep trials a minute on 1 and 2 Ray workers
    python scripts/bench.py --memory         # peak RSS by the length of the replay

Figures are medians over the runs; the state directory is a fresh temporary
folder per run, so the journal starts empty every time. By default the runs
have no status view, as with ``replay --no-ui`` in a pipe. ``--observe``
instead compares, at the replay's default window, runs with the live status
view (rendered at its configured rate into a virtual terminal) and the live
performance metrics, against runs with neither; runs alternate, A B A B.
``--optimize`` runs a batch of sweep trials (whole replays of the window,
each with other strategy spans) on a local Ray of 1 worker, then of 2,
alternating, ``--runs`` times each, and prints trials a minute, the
speed-up, and a trial's time against the same replay run standalone in
this process (Ray's start-up is shown apart, not counted). ``--memory``
replays the first 2,500, 5,000, 10,000 hours and the whole window, each in
a process of its own that reads only those hours (cut into plain CSVs
first), and prints each one's peak RSS (VmHWM, Linux) and the slope, KiB an
hour.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from cryptoj_actors.admin.status import status_document
from cryptoj_actors.config import DEFAULT_CONFIG_PATH, load_config
from cryptoj_actors.marketdata.bars.align import align
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.system import TradingSystem
from cryptoj_actors.ui.view import Refresher

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "coinbase_hourly_cdd"
DEFAULT_FILES = [DATA / f"Coinbase_{p}USD_1h.csv" for p in ("BTC", "ETH", "LTC")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--windows", default="1,16",
                        help="credit windows to measure, comma-separated (default 1,16)")
    parser.add_argument("--runs", type=int, default=3, help="runs per window (median shown)")
    parser.add_argument("--observe", action="store_true",
                        help="measure the status view and live metrics against none")
    parser.add_argument("--optimize", action="store_true",
                        help="measure sweep trials a minute on 1 and 2 Ray workers")
    parser.add_argument("--trials", type=int, default=8, help="--optimize: trials a batch")
    parser.add_argument("--memory", action="store_true",
                        help="measure peak RSS at 2,500, 5,000, 10,000 hours and the whole window")
    parser.add_argument("--peak-rss-of", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.peak_rss_of:  # a child of --memory: replay these files, say the peak
        aligned = align([load_bars(f) for f in args.files])
        _replay(load_config(REPO / DEFAULT_CONFIG_PATH), aligned, 16)
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a
        # child would report its parent's peak if that was higher.
        with open("/proc/self/status") as status:
            print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
        return 0
    missing = [f for f in args.files if not f.is_file()]
    if missing:
        print(f"error: no such file: {missing[0]} (the recorded data lives in ../shared/data)",
              file=sys.stderr)
        return 2

    started = time.perf_counter()
    aligned = align([load_bars(f) for f in args.files])
    load_s = time.perf_counter() - started
    batches = len(aligned.slices)
    bars = sum(len(bars) for _, bars in aligned.slices)
    config = load_config(REPO / DEFAULT_CONFIG_PATH)

    if args.observe:
        return _observe(config, aligned, args.runs, bars, batches)
    if args.optimize:
        return _optimize(config, aligned, args.runs, args.trials, bars)
    if args.memory:
        return _memory(aligned, args.runs)

    table = Table(title=f"Replay of {', '.join(aligned.products)}: {bars:,} bars, "
                        f"{batches:,} batches; files loaded in {load_s:.2f} s; "
                        f"median of {args.runs} runs")
    for column in ("window", "runs", "replay s", "min s", "max s", "bars/s", "batches/s",
                   "fills", "end equity"):
        table.add_column(column, justify="right")
    for window in (int(w) for w in args.windows.split(",")):
        times = []
        for _ in range(args.runs):
            elapsed, fills, equity = _replay(config, aligned, window)
            times.append(elapsed)
        median = statistics.median(times)
        table.add_row(str(window), str(args.runs), f"{median:.2f}", f"{min(times):.2f}",
                      f"{max(times):.2f}", f"{bars / median:,.0f}", f"{batches / median:,.0f}",
                      str(fills), f"{equity:,.2f}")
    console = Console(width=120)
    console.print(table)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak resident memory of the process: {peak_mib:.0f} MiB")
    return 0


def _memory(aligned, runs: int) -> int:
    import subprocess

    from cryptoj_actors.marketdata.bars.export import write_plain_csv

    sizes = [n for n in (2_500, 5_000, 10_000) if n < len(aligned.slices)] + [len(aligned.slices)]
    peaks: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for hours in sizes:
            folder = Path(tmp) / str(hours)
            folder.mkdir()
            files = []
            for product in aligned.products:
                path = folder / f"{product}_1h.csv"
                write_plain_csv(path, [b for _, bars in aligned.slices[:hours] for b in bars
                                       if b.product_id == product])
                files.append(str(path))
            kib = [int(subprocess.run(
                [sys.executable, __file__, "--peak-rss-of", *files], check=True,
                capture_output=True, text=True).stdout.split()[-1]) for _ in range(runs)]
            peaks[hours] = statistics.median(kib)
    table = Table(title=f"Peak RSS of a replay by its length (median of {runs} processes each)")
    for column in ("hours", "peak RSS MiB", "vs 2,500 h", "KiB an hour since the last"):
        table.add_column(column, justify="right")
    first, previous = sizes[0], None
    for hours in sizes:
        slope = "" if previous is None else \
            f"{(peaks[hours] - peaks[previous]) / (hours - previous):.2f}"
        table.add_row(f"{hours:,}", f"{peaks[hours] / 1024:.1f}",
                      f"{peaks[hours] / peaks[first]:.2f}x", slope)
        previous = hours
    Console(width=120).print(table)
    return 0


def _optimize(config, aligned, runs: int, trials: int, bars: int) -> int:
    from cryptoj_actors.research.cluster import RayCluster
    from cryptoj_actors.research.folds import Window
    from cryptoj_actors.research.trial import evaluate

    points = [{"strategy.fast_span": 96 + 24 * (i % 7), "strategy.slow_span": 504 + 168 * (i % 3)}
              for i in range(trials)]
    whole = Window(0, len(aligned.slices))
    standalone = statistics.median(evaluate(aligned, config, points[i % trials]).seconds
                                   for i in range(runs))
    per_minute: dict[int, list[float]] = {1: [], 2: []}
    startup: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(runs):
        for workers in (1, 2):  # interleaved: 1 2 1 2 ...
            started = time.perf_counter()
            cluster = RayCluster(aligned, config, workers=workers)
            startup[workers].append(time.perf_counter() - started)
            try:
                started = time.perf_counter()
                pending = [cluster.submit(whole, p) for p in points]
                while pending:
                    done = cluster.next_done(pending, 60.0)
                    if done is not None:
                        cluster.result(done)
                        pending.remove(done)
                per_minute[workers].append(trials / (time.perf_counter() - started) * 60)
            finally:
                cluster.close()
    table = Table(title=f"Sweep trials: whole replays of {bars:,} bars; {trials} trials a "
                        f"batch; median of {runs} batches, 1 and 2 workers interleaved")
    for column in ("workers", "trials/min", "min", "max", "s a trial", "vs standalone",
                   "Ray start s"):
        table.add_column(column, justify="right")
    for workers, rates in per_minute.items():
        rate = statistics.median(rates)
        table.add_row(str(workers), f"{rate:.1f}", f"{min(rates):.1f}", f"{max(rates):.1f}",
                      f"{60 / rate * workers:.2f}", f"{60 / rate * workers / standalone:.2f}x",
                      f"{statistics.median(startup[workers]):.1f}")
    console = Console(width=120)
    console.print(table)
    speedup = statistics.median(per_minute[2]) / statistics.median(per_minute[1])
    console.print(f"speed-up with 2 workers: {speedup:.2f}x; a standalone replay of the same "
                  f"window in this process: {standalone:.2f} s (median of {runs})")
    return 0


def _observe(config, aligned, runs: int, bars: int, batches: int) -> int:
    window = config.feed.replay_credit_window
    times: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(runs):
        for watched in (False, True):
            cpu_before = time.process_time()
            times[watched].append(_replay(config, aligned, window, watched=watched)[0])
            cpu[watched].append(time.process_time() - cpu_before)
    table = Table(title=f"The cost of watching a replay ({bars:,} bars, {batches:,} batches, "
                        f"window {window}, median of {runs} runs each, alternating)")
    for column in ("run", "replay s", "min s", "max s", "bars/s", "CPU s"):
        table.add_column(column, justify="right")
    for watched, label in ((False, "no view, no live metrics"),
                           (True, "live view + live metrics")):
        median = statistics.median(times[watched])
        table.add_row(label, f"{median:.2f}", f"{min(times[watched]):.2f}",
                      f"{max(times[watched]):.2f}", f"{bars / median:,.0f}",
                      f"{statistics.median(cpu[watched]):.2f}")
    console = Console(width=120)
    console.print(table)
    cost = statistics.median(times[True]) / statistics.median(times[False]) - 1
    best = min(times[True]) / min(times[False]) - 1
    cpu_cost = statistics.median(cpu[True]) / statistics.median(cpu[False]) - 1
    console.print(f"cost of the view and live metrics: {cost:+.1%} of replay time (median), "
                  f"{best:+.1%} (best runs), {cpu_cost:+.1%} of CPU time (median)")
    return 0


def _replay(config, aligned, window: int, watched: bool = False) -> tuple[float, int, object]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        cfg = replace(config.with_state_dir(state),
                      feed=replace(config.feed, credit_window=window),
                      ui=replace(config.ui, live_metrics=watched))
        run = RunInfo(run_id="bench", mode="replay", state_dir=state,
                      run_dir=state / "runs" / "bench")
        system = TradingSystem(cfg, run, lambda: BarReplaySource(aligned))
        started = time.perf_counter()
        system.start()
        if watched:
            with open(os.devnull, "w") as sink:
                screen = Console(file=sink, force_terminal=True, width=140, height=60)
                with Live(Refresher(lambda: status_document(system.rt)), console=screen,
                          refresh_per_second=cfg.ui.refresh_per_second):
                    system.wait()
        else:
            system.wait()
        elapsed = time.perf_counter() - started
        results = system.results()
        system.stop()
    if results.status != "finished":
        raise SystemExit(f"error: the replay did not finish: {results.status} {results.reason}")
    return elapsed, len(results.portfolio.trades), results.portfolio.snapshot.equity


if __name__ == "__main__":
    sys.exit(main())
