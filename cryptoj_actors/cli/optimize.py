"""``optimize``: a parameter sweep of whole replays on Ray, walk-forward.

Optuna and Ray are imported when the command runs, not when the command
line is parsed: every other command starts without them.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cryptoj_actors.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    command,
    load,
    state_dir,
)
from cryptoj_actors.config import Config, ConfigError
from cryptoj_actors.marketdata.inputs import bar_inputs

if TYPE_CHECKING:  # imported for real only when the command runs
    from cryptoj_actors.research.cluster import RayCluster
    from cryptoj_actors.research.folds import Fold
    from cryptoj_actors.research.space import SearchSpace
    from cryptoj_actors.research.sweep import Outcome, Row, Settings

OBJECTIVE_NAMES = ("sharpe", "sortino", "calmar", "return")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    opt = command(sub, common, "optimize", cmd_optimize,
                  "sweep strategy and risk parameters over replays, walk-forward, on Ray",
                  "Each trial is a whole deterministic replay through every actor. With "
                  "--folds K the data is cut into K + 1 stretches: fold k is tuned on stretch "
                  "k - 1 and its best points are judged on stretch k, unseen. Trials run on "
                  "an embedded local Ray (or a cluster: --address); an interrupted sweep "
                  "resumes when run again with the same --name.")
    opt.add_argument("files", nargs="+", metavar="FILE", help="OHLCV CSV files, as replay takes")
    opt.add_argument("--space", type=Path, required=True, metavar="SPACE.toml",
                     help="the parameters and their ranges ([strategy.params], [risk])")
    opt.add_argument("--trials", type=int, required=True, metavar="N",
                     help="trials per fold")
    opt.add_argument("--objective", choices=OBJECTIVE_NAMES, default="sharpe",
                     help="what to maximize (return: total return)")
    opt.add_argument("--folds", type=int, default=0, metavar="K",
                     help="walk-forward folds (0: one study over the whole window)")
    opt.add_argument("--top", type=int, default=3, metavar="M",
                     help="best in-sample points of each fold judged out-of-sample")
    opt.add_argument("--sampler", choices=("tpe", "random", "grid"), default="tpe",
                     help="Optuna's sampler (grid: every point of stepped ranges)")
    opt.add_argument("--seed", type=int, default=0, help="the sampler's seed")
    opt.add_argument("--name", default="sweep",
                     help="the sweep's folder under <state dir>/optimize/ (resumes there)")
    opt.add_argument("--address", default=None,
                     help="an existing Ray cluster (auto, or ray://HOST:PORT); default: a "
                          "local instance")
    opt.add_argument("--workers", type=int, default=None, metavar="W",
                     help="CPUs of the local instance (default: every core)")


def _fingerprint(args: argparse.Namespace, config: Config, files: list[dict]) -> str:
    digest = hashlib.sha256()
    for part in (args.space.read_bytes(),
                 Path(config.source).read_bytes() if Path(config.source).is_file() else b"",
                 *(f["sha256"].encode() for f in files),
                 repr((args.objective, args.folds, args.sampler, args.seed)).encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _check(args: argparse.Namespace) -> None:
    for option, value, least in (("--trials", args.trials, 1), ("--top", args.top, 1),
                                 ("--folds", args.folds, 0)):
        if value < least:
            raise UsageError(f"{option} must be at least {least}, got {value}")
    if args.workers is not None and (args.workers < 1 or args.address):
        raise UsageError("--workers must be at least 1, and is for the local instance only")
    missing = [m for m in ("optuna", "ray") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"optimize needs {' and '.join(missing)}: "
                         "pip install 'cryptoj_actors[research]'")


def cmd_optimize(args: argparse.Namespace) -> int:
    _check(args)
    from cryptoj_actors.research.cluster import RayCluster
    from cryptoj_actors.research.folds import folds
    from cryptoj_actors.research.space import SearchSpace, SpaceError, apply
    from cryptoj_actors.research.sweep import Settings
    from cryptoj_actors.strategy.base import load_strategy, warmup_bars

    config = load(args)
    try:
        space = SearchSpace.read(args.space)
    except SpaceError as exc:
        raise UsageError(str(exc)) from None
    try:
        inputs = bar_inputs(args.files, config.feed.replay_stale_bars)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in inputs.notes:
        print(f"note: {note}", file=sys.stderr)
    aligned = inputs.aligned
    bar_s = inputs.period_ns // 1_000_000_000
    try:  # the space's names and a first point, checked once before any trial
        strategy = load_strategy(apply(config, space.first()).strategy, inputs.products,
                                 str(args.space), bar_s)
    except (ConfigError, ValueError) as exc:
        raise UsageError(f"space {args.space}: {exc}") from None
    try:
        windows = folds(len(aligned.slices), args.folds, warmup_bars(strategy) + 2)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = Settings(args.objective, args.trials, args.top, args.sampler, args.seed)
    folder = state_dir(config).path / "optimize" / args.name
    folder.mkdir(parents=True, exist_ok=True)
    for fold in windows:
        said = f"fold {fold.number}: in-sample {fold.in_sample.describe(aligned)}"
        if fold.out_of_sample is not None:
            said += f"; out-of-sample {fold.out_of_sample.describe(aligned)}"
        print(said, file=sys.stderr)
    try:
        cluster = RayCluster(aligned, config, address=args.address, workers=args.workers)
    except ConnectionError as exc:
        raise UsageError(str(exc)) from None
    try:
        return _sweep(settings, space, windows, folder, cluster,
                      _fingerprint(args, config, inputs.files))
    finally:
        cluster.close()


def _sweep(settings: Settings, space: SearchSpace, windows: list[Fold], folder: Path,
           cluster: RayCluster, fingerprint: str) -> int:
    from cryptoj_actors.research.results import table, write_plot, write_tables
    from cryptoj_actors.research.sweep import (
        Sweep,
        SweepError,
        SweepInterrupted,
        storage_url,
    )

    parameters = list(space.dimensions)
    rows: list[Row] = []
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("best {task.fields[best]}"), TimeRemainingColumn(),
                  console=console, transient=False) as progress:
        tasks: dict[tuple[int, str], TaskID] = {}

        def on_row(row: Row) -> None:
            rows.append(row)
            key = (row.fold, row.sample)
            if key not in tasks:
                total = sweep.trials_wanted() if row.sample == "in" else settings.top
                tasks[key] = progress.add_task(
                    f"fold {row.fold} {'in-sample' if row.sample == 'in' else 'out-of-sample'}",
                    total=total, best="–")
            values = [r.value for r in rows if (r.fold, r.sample) == key and r.value is not None]
            progress.update(tasks[key], advance=1,
                            best=f"{max(values):.4f}" if values else "–")
            write_tables(folder, table(rows, parameters, settings.objective))

        stop = threading.Event()
        try:
            sweep = Sweep(settings, space, windows, storage_url(folder), fingerprint, cluster,
                          on_row, stop)
        except SweepError as exc:
            raise UsageError(f"{folder}: {exc}") from None
        previous = signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
        try:
            outcome = sweep.run()
        except SweepInterrupted:
            console.print(f"interrupted: {len(rows)} replays kept in {folder}; the same "
                          "command resumes the sweep")
            return EXIT_INTERRUPTED
        finally:
            signal.signal(signal.SIGINT, previous)
    records = table(outcome.rows, parameters, settings.objective)
    written = write_tables(folder, records) + [write_plot(folder, records, parameters,
                                                          settings.objective)]
    ranking = outcome.ranking
    if not ranking:
        print("error: no trial gave a value for the objective (see the errors in "
              f"{folder / 'trials.csv'})", file=sys.stderr)
        return EXIT_CHECK_FAILED
    _print_ranking(outcome, parameters, settings)
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def _print_ranking(outcome: Outcome, parameters: list[str], settings: Settings) -> None:
    judged = any(r.sample == "out" for r in outcome.rows)
    title = (f"parameter sets by out-of-sample {settings.objective}" if judged
             else f"trials by {settings.objective}")
    view = Table(title=title)
    for column in ("rank", "fold", "trial", *parameters,
                   *(("in-sample", "out-of-sample") if judged else (settings.objective,)),
                   "trades", "end equity"):
        view.add_column(column, justify="right")
    for rank, row in enumerate(outcome.ranking[:10], start=1):
        values = ((f"{row.in_sample:.4f}", f"{row.value:.4f}") if judged
                  else (f"{row.value:.4f}",))
        view.add_row(str(rank), str(row.fold), str(row.trial),
                     *(str(row.params.get(p)) for p in parameters), *values,
                     str(row.result.trades), row.result.end_equity)
    Console(width=160).print(view)
    gap = outcome.gap()
    if gap is not None:
        inside, outside = gap
        print(f"in-sample mean {settings.objective} {inside:.4f}, out-of-sample mean "
              f"{outside:.4f}: gap {inside - outside:+.4f}")
        if outcome.overfit():
            print("warning: the out-of-sample score is far below the in-sample one: the "
                  "tuned parameters may be fitted to noise (overfitting)")
