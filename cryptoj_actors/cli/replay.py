"""``replay``: the whole system over recorded bars or a websocket capture,
then the report; ``replay --resume RUN_DIR`` finishes a killed one."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

from cryptoj_actors.adapters.coinbase.capture import capture_inputs
from cryptoj_actors.adapters.coinbase.download import granularity_of
from cryptoj_actors.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_HALTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    UsageError,
    add_no_ui,
    check_admin,
    command,
    config_path,
    load,
    new_run,
    product_list,
    setup_logging,
    state_dir,
    utc_date,
)
from cryptoj_actors.clock import NS_PER_SECOND, iso
from cryptoj_actors.config import Config
from cryptoj_actors.config_fields import MAX_CREDIT_WINDOW
from cryptoj_actors.execution.journal import Journal, check_journal
from cryptoj_actors.marketdata.bars.export import write_plain_csv
from cryptoj_actors.marketdata.bars.series import duration
from cryptoj_actors.marketdata.inputs import ReplayInputs, bar_inputs
from cryptoj_actors.model import Bar
from cryptoj_actors.portfolio.recovery import journal_summary
from cryptoj_actors.report.build import report_writer
from cryptoj_actors.report.plot_worker import PlotWorker
from cryptoj_actors.report.table import print_report
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state.candles import CandleCache, CandleCacheError
from cryptoj_actors.state.layout import RunDir
from cryptoj_actors.state.manifest import ManifestError, RunManifest
from cryptoj_actors.strategy.base import load_strategy, warmup_bars
from cryptoj_actors.system import TradingSystem
from cryptoj_actors.ui.watch import watch

log = logging.getLogger(__name__)


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while the replay runs: it stops as cleanly as it ends."""

    def __init__(self, received: signal.Signals = signal.SIGINT) -> None:
        super().__init__(received.name)
        self.signal = received


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(signal.Signals(signum))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    replay = command(sub, common, "replay", cmd_replay,
                     "run the whole system over recorded bars (or a websocket capture) and "
                     "report",
                     "Every actor runs as it does live, on the recorded data; the same files "
                     "and config give the same report, byte for byte.")
    replay.add_argument("files", nargs="*", metavar="FILE",
                        help="OHLCV CSV (CryptoDataDownload or timestamp,open,high,low,close,"
                             "volume; PRODUCT=FILE names the product of a plain CSV), or one "
                             "websocket capture (.jsonl, as record writes it)")
    replay.add_argument("--products", type=product_list, default=None, metavar="PRODUCTS",
                        help="replay from the candle cache (filled by download) instead of "
                             "files: these products, in bars of [feed] bar_interval_s")
    replay.add_argument("--start", type=utc_date, default=None, metavar="DATE",
                        help="with --products: the first day (or time), ISO 8601, UTC")
    replay.add_argument("--end", type=utc_date, default=None, metavar="DATE",
                        help="with --products: the end, exclusive (default: the start of "
                             "the current bar)")
    replay.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="finish an interrupted replay (a killed process): the same "
                             "files, config and run id, re-executed against its journal")
    replay.add_argument("--credit-window", type=int, default=None,
                        help="market batches in flight (default: [feed] replay_credit_window)")
    add_no_ui(replay)


def _inputs(files: list[str], config: Config) -> ReplayInputs:
    """What a replay reads: bars (CSV files) or one websocket capture
    (``.jsonl``, as ``record`` writes it); the defects found are printed.

    Raises:
        UsageError: a capture with other files, or bars that cannot be aligned.
        DataError: an input cannot be read.
    """
    captures = [f for f in files if f.endswith(".jsonl")]
    if captures:
        if len(files) != 1:
            raise UsageError("a websocket capture (.jsonl) is replayed alone: give one file")
        if config.feed.batch_interval_s == 0:
            raise UsageError(f"config {config.source}: feed.batch_interval_s: a capture is "
                             "replayed in batches of recorded time: set it above 0")
        return capture_inputs(Path(captures[0]), config.feed)
    try:
        inputs = bar_inputs(files, config.feed.replay_stale_bars)
    except ValueError as exc:  # the files cannot be aligned
        raise UsageError(str(exc)) from None
    for note in inputs.notes:
        print(f"note: {note}", file=sys.stderr)
    return inputs


def _say_warmup(strategy: object, inputs: ReplayInputs) -> None:
    """Warn when the strategy's warm-up is longer than the data: the replay
    would run to its end without a decision."""
    needed, have = warmup_bars(strategy), inputs.source().total_batches
    if needed > have:
        print(f"warning: the strategy needs {needed:,} bars before its first decision and "
              f"the data has {have:,} intervals: this replay will not trade (shorten the "
              "spans, or give more data)", file=sys.stderr)


def _say_products(config: Config, replayed: tuple[str, ...]) -> None:
    """A replay trades the products of its files: say so when ``[feed]
    products`` names others, and when a product has no trading rules."""
    unused = [p for p in config.feed.products if p not in replayed]
    if unused:
        print(f"note: [feed] products {', '.join(unused)} of {config.source} are not in the "
              f"replayed files: the replay trades {', '.join(replayed)}", file=sys.stderr)
    generic = config.without_rules(replayed)
    if generic:
        print(f"note: no [products.X] table for {', '.join(generic)} in {config.source}: "
              "generic trading rules (size increment 0.00000001, price increment 0.01, "
              "minimum notional 1)", file=sys.stderr)


def _interval(ns: int) -> str:
    seconds = ns // 1_000_000_000
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds == size:
            return f"one {unit}"
    return f"{seconds:,} s"


def _resume(args: argparse.Namespace) -> RunManifest:
    """Load the interrupted run's manifest and put its inputs into ``args``.

    Raises:
        UsageError: no manifest, or an input or the config changed since.
    """
    if args.files or args.config or args.state_dir:
        raise UsageError("--resume takes the run's own files, config and state directory; "
                         "give no others")
    try:
        manifest = RunManifest.load(RunDir(args.resume))
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    args.files = list(manifest.files)
    args.config = Path(manifest.config) if manifest.config else None
    args.state_dir = Path(manifest.state_dir)
    args.credit_window = manifest.credit_window
    return manifest


def _cached_bars(config: Config, args: argparse.Namespace) -> dict[str, list[Bar]]:
    """``--products`` from ``--start`` to ``--end``: each product's bars in the
    candle cache, in bars of ``[feed] bar_interval_s``.

    Raises:
        UsageError: files given too, no ``--start``, or the cache lacks a span
            (the line says which ``download`` fills it).
    """
    if args.files or args.resume:
        raise UsageError("--products replays from the candle cache: give no FILE and no "
                         "--resume")
    if args.start is None:
        raise UsageError("--products needs --start DATE (and --end DATE, default now)")
    interval_s = config.feed.bar_interval_s
    start = int(args.start.timestamp())
    start -= start % interval_s
    now = int(time.time())
    # By default up to the current bar: an unfinished candle is no bar yet.
    end = int(args.end.timestamp()) if args.end is not None else now - now % interval_s
    if end <= start:
        raise UsageError("--end must be after --start")
    granularity = granularity_of(interval_s) or f"<none for {interval_s} s>"
    day = NS_PER_SECOND * 86_400
    shown = [iso(t * NS_PER_SECOND)[:10] if t * NS_PER_SECOND % day == 0
             else iso(t * NS_PER_SECOND) for t in (start, end)]
    fill = (f"fetch them first with download --products {','.join(args.products)} "
            f"--granularity {granularity} --start {shown[0]} --end {shown[1]}")
    try:
        cache = CandleCache(state_dir(config).candles)
    except CandleCacheError as exc:
        raise UsageError(str(exc)) from None
    try:
        out = {}
        for product in args.products:
            lacking = cache.missing(product, interval_s, start, end)
            if lacking:
                since, until = lacking[0]
                raise UsageError(
                    f"the candle cache lacks {product} bars of "
                    f"{duration(interval_s * NS_PER_SECOND)} from {iso(since * NS_PER_SECOND)} "
                    f"to {iso(until * NS_PER_SECOND)}: {fill}")
            out[product] = cache.bars(product, interval_s, start, end)
    except CandleCacheError as exc:
        raise UsageError(str(exc)) from None
    finally:
        cache.close()
    return out


def _write_inputs(run: RunInfo, cached: dict[str, list[Bar]], interval_s: int) -> list[str]:
    """The cache's bars as the run's own input files (``inputs/BTC-USD_1h.csv``):
    the report names them, and ``--resume`` replays them."""
    folder = run.run_dir / "inputs"
    paths = [folder / f"{product}_{duration(interval_s * NS_PER_SECOND)}.csv"
             for product in cached]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, bars in zip(paths, cached.values()):
            write_plain_csv(path, bars)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot write: {exc.strerror}") from None
    return [str(path) for path in paths]


@contextlib.contextmanager
def _on_one_cpu(wanted: bool) -> Iterator[None]:
    """Keep this thread, and the actors' threads it starts meanwhile, on the
    CPU it runs on now (``[feed] replay_one_cpu``), then give it back the
    CPUs it had. Said in the log; never fatal (not Linux, or not allowed)."""
    if not wanted:
        yield
        return
    try:
        allowed = os.sched_getaffinity(0)
        cpu = psutil.Process().cpu_num()
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError, psutil.Error) as exc:
        log.info("replay: threads not kept on one CPU (%s)", exc)
        yield
        return
    log.info("replay: threads kept on CPU %d ([feed] replay_one_cpu)", cpu)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def cmd_replay(args: argparse.Namespace) -> int:
    # Started first: its process imports matplotlib while this one replays.
    with PlotWorker() as plots:
        return _replay(args, plots)


def _replay(args: argparse.Namespace, plots: PlotWorker) -> int:
    manifest = _resume(args) if args.resume else None
    if manifest is None and not args.files and not args.products:
        raise UsageError("replay needs at least one FILE (or --products, or --resume RUN_DIR)")
    config = load(args)
    created: RunInfo | None = None
    if args.products:
        cached = _cached_bars(config, args)
        created = new_run(config, "replay")
        args.files = _write_inputs(created, cached, config.feed.bar_interval_s)
    window = config.feed.replay_credit_window if args.credit_window is None else args.credit_window
    if not 1 <= window <= MAX_CREDIT_WINDOW:
        raise UsageError(f"--credit-window must be from 1 to {MAX_CREDIT_WINDOW}")
    config = replace(config, feed=replace(config.feed, credit_window=window))
    inputs = _inputs(args.files, config)
    _say_products(config, inputs.products)
    check_admin(config)
    if manifest is None:
        run = created or new_run(config, "replay")
        RunManifest.of(run.run_id, tuple(args.files), tuple(i["sha256"] for i in inputs.files),
                       config_path(args), run.state_dir, args.credit_window).write(run.files)
    else:
        run = RunInfo(run_id=manifest.run_id, mode="replay", state_dir=config.system.state_dir,
                      run_dir=args.resume)
        check_journal(run.state.journal)
        journal = Journal(run.state.journal, run.ledger_id)
        try:
            summary = journal_summary(journal, config.starting_cash)
        finally:
            journal.close()
        print(f"resuming {run.run_id}: {summary}; re-executing from the first batch against "
              "the journal", file=sys.stderr)
    setup_logging(config, args.verbose, run.files.log, tag=run.trading)
    with _on_one_cpu(config.feed.replay_one_cpu):
        return _replay_run(args, config, inputs, run, plots)


def _replay_run(args: argparse.Namespace, config: Config, inputs: ReplayInputs, run: RunInfo,
                plots: PlotWorker) -> int:
    strategy = load_strategy(config.strategy, inputs.products, config.source,
                             inputs.period_ns // 1_000_000_000)
    _say_warmup(strategy, inputs)
    system = TradingSystem(config, run, inputs.source, strategy=strategy)
    system.rt.write_report = report_writer(run.run_dir, config, inputs.period_ns,
                                           inputs.products, inputs.files, plots=plots)
    started = time.perf_counter()
    system.start()
    interrupted: signal.Signals | None = None
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        watch(system, not args.no_ui)
    except KeyboardInterrupt as exc:
        interrupted = exc.signal if isinstance(exc, _Interrupted) else signal.SIGINT
        print(f"interrupted ({interrupted.name}): stopping the system and writing what exists",
              file=sys.stderr)
        system.rt.outcome.end("stopped", f"interrupted by {interrupted.name}")
    finally:
        signal.signal(signal.SIGTERM, previous)
    elapsed = time.perf_counter() - started
    try:
        results = system.results()
    finally:
        system.stop()
    if results.portfolio is None or not results.portfolio.equity:
        print(f"error: the run produced no results ({results.status}: {results.reason})",
              file=sys.stderr)
        return EXIT_HALTED
    report, paths = system.rt.write_report(results)
    print_report(report)
    marks = len(results.portfolio.equity)  # one a batch: an interval of every product
    what = (f"{marks:,} intervals of {_interval(inputs.period_ns)} ({inputs.bars:,} bars of "
            f"{len(inputs.products)} products)" if inputs.bars else f"{marks:,} batches")
    print(f"{what} in {elapsed:.2f} s ({marks / elapsed:,.0f} intervals/s); "
          f"run {run.run_id} ended: {results.status}"
          + (f" ({results.reason})" if results.reason else ""))
    for path in paths:
        print(f"wrote {path}")
    if interrupted is not None:
        return EXIT_INTERRUPTED if interrupted is signal.SIGINT else EXIT_TERMINATED
    if results.status == "halted":
        return EXIT_HALTED
    failed = [name for name, held in report["cross_checks"].items() if not held]
    if failed:
        print(f"error: cross-check FAILED: {', '.join(failed)} (a defect: the run's files are "
              f"in {run.run_dir})", file=sys.stderr)
        return EXIT_CHECK_FAILED
    return EXIT_OK
