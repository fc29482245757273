"""Command line: ``python -m cryptoj_actors [run|replay|report|halt|status|resume|record|
download|doctor] ...``.

Exit codes: 0 success (and a clean Ctrl-C of ``run``), 1 a replay whose ledger
failed a cross-check (or ``doctor`` found a problem), 2 bad input (config, data
files, arguments), 3 a run halted by the supervisor (``run``: stopped while
halted), 130 a replay interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from cryptoj_actors import __version__
from cryptoj_actors.actors.admin import RESUME_TIMEOUT_S, UNWIND_LINE, control_file
from cryptoj_actors.adapters.coinbase.credentials import (
    ENV_KEY_NAME,
    ENV_PRIVATE_KEY,
    Credentials,
    CredentialsError,
    load_credentials,
)
from cryptoj_actors.adapters.coinbase.rest import GRANULARITY_S
from cryptoj_actors.admin.client import TIMEOUT_S, Endpoint, call, running_endpoint
from cryptoj_actors.admin.token import TokenError, load_or_create_token
from cryptoj_actors.clock import iso
from cryptoj_actors.config import (
    DEFAULT_CONFIG_PATH,
    MAX_CREDIT_WINDOW,
    Config,
    ConfigError,
    load_config,
)
from cryptoj_actors.ids import OrderIds
from cryptoj_actors.marketdata.bars.align import AlignedBars, align
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.errors import DataError
from cryptoj_actors.marketdata.replay import BarReplaySource
from cryptoj_actors.marketdata.source import MarketSource
from cryptoj_actors.messages import TradingState
from cryptoj_actors.model import PRODUCT_ID, TradingLevel
from cryptoj_actors.report.results import RunResults
from cryptoj_actors.risk.policy import RiskPolicy
from cryptoj_actors.runtime import RunInfo
from cryptoj_actors.state_lock import StateDirLock, StateDirLocked
from cryptoj_actors.supervision.emergency import EmergencyState, StateFile, write_atomic
from cryptoj_actors.system import TradingSystem

log = logging.getLogger("cryptoj_actors")

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_HALTED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """Bad input from the operator: printed as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ConfigError, DataError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cryptoj_actors",
        description="Automated trading for Coinbase Advanced Trade on pykka actors "
                    "(paper trading unless configured otherwise).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=None,
                        help=f"TOML config (default: {DEFAULT_CONFIG_PATH} if present)")
    common.add_argument("--state-dir", type=Path, default=None,
                        help="state directory (default: [system] state_dir, 'var')")
    common.add_argument("-v", "--verbose", action="store_true", help="log INFO to the console")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", parents=[common], help="trade live market data (paper by default)")
    run.add_argument("--feed-url", help="websocket URL instead of [feed] url")
    run.add_argument("--live", action="store_true",
                     help="send real orders to Coinbase (also needs system.mode = \"live\" "
                          "in the config); without it the paper exchange trades")
    run.add_argument("--no-ui", action="store_true",
                     help="no live view: a status line every [ui] log_interval_s instead")
    run.set_defaults(func=cmd_run)

    replay = sub.add_parser("replay", parents=[common],
                            help="run the whole system over recorded bars (or a websocket "
                                 "capture) and report")
    replay.add_argument("files", nargs="*", metavar="FILE",
                        help="OHLCV CSV (CryptoDataDownload or timestamp,open,high,low,close,"
                             "volume; PRODUCT=FILE names the product of a plain CSV), or one "
                             "websocket capture (.jsonl, as record writes it)")
    replay.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="finish an interrupted replay (a killed process): the same "
                             "files, config and run id, re-executed against its journal")
    replay.add_argument("--credit-window", type=int, default=None,
                        help="market batches in flight (default: [feed] replay_credit_window)")
    replay.add_argument("--no-ui", dest="no_ui", action="store_true",
                        help="no live view: a status line every [ui] log_interval_s instead")
    replay.set_defaults(func=cmd_replay)

    report = sub.add_parser("report", parents=[common],
                            help="render a finished run: breakdowns, monthly returns, figures")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.add_argument("--html", action="store_true",
                        help="also write report.html, one self-contained page")
    report.set_defaults(func=cmd_report)

    halt = sub.add_parser("halt", parents=[common],
                          help="halt a running system through the control file")
    halt.add_argument("--reason", default="", help="why (kept with the trading state)")
    halt.add_argument("--unwind", action="store_true",
                      help="also close every position gradually, largest first")
    halt.set_defaults(func=cmd_halt)

    status = sub.add_parser("status", parents=[common],
                            help="show a running system (or the persisted trading state)")
    status.add_argument("--json", action="store_true", help="the raw status document")
    status.set_defaults(func=cmd_status)

    resume = sub.add_parser("resume", parents=[common],
                            help="lift a persisted halt (takes effect at the next start)")
    resume.add_argument("--reason", default="", help="why (kept with the trading state)")
    resume.set_defaults(func=cmd_resume)

    record = sub.add_parser("record", parents=[common],
                            help="record the live websocket frames to a capture (JSONL)")
    record.add_argument("--products", type=_product_list, default=None,
                        help="comma-separated product ids (default: [feed] products)")
    record.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the capture to write (never overwritten)")
    record.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="stop after this long (default: at Ctrl-C)")
    record.add_argument("--feed-url", help="websocket URL instead of [feed] url")
    record.set_defaults(func=cmd_record)

    download = sub.add_parser("download", parents=[common],
                              help="fetch public candles into a CSV that replay reads")
    download.add_argument("--product", required=True, type=_product_list, metavar="PRODUCT")
    download.add_argument("--granularity", default="ONE_HOUR", choices=sorted(GRANULARITY_S))
    download.add_argument("--start", required=True, type=_utc_date, metavar="DATE",
                          help="first day (or time), ISO 8601, UTC")
    download.add_argument("--end", required=True, type=_utc_date, metavar="DATE",
                          help="end, exclusive, ISO 8601, UTC")
    download.add_argument("--out", type=Path, required=True, metavar="FILE")
    download.set_defaults(func=cmd_download)

    doctor = sub.add_parser("doctor", parents=[common],
                            help="check config, key, clock and connectivity, and say what "
                                 "is wrong")
    doctor.set_defaults(func=cmd_doctor)

    parser.set_defaults(func=cmd_run, config=None, state_dir=None, verbose=False, feed_url=None,
                        no_ui=False)
    return parser


# --- set-up helpers -------------------------------------------------------------------


def _product_list(text: str) -> tuple[str, ...]:
    products = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in products if not PRODUCT_ID.fullmatch(p)]
    if not products or bad:
        raise argparse.ArgumentTypeError(f"product ids look like BTC-USD, got {text!r}")
    return products


def _utc_date(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 date, got {text!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _config(args: argparse.Namespace) -> Config:
    path = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    config = load_config(path)
    if args.state_dir is not None:
        config = config.with_state_dir(args.state_dir)
    return config


def _logging(config: Config, verbose: bool, log_file: Path | None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    console = _StderrHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setLevel(getattr(logging, config.system.log_level))
        to_file.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
        root.addHandler(to_file)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time, so that log lines
    go above the live view (which redirects it) instead of through it."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _run_info(config: Config, mode: str) -> RunInfo:
    """A new run, its directory created.

    Raises:
        UsageError: the state directory cannot be created or written.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_id = f"{mode}-{stamp}-{secrets.token_hex(3)}"
    state_dir = config.system.state_dir
    run = RunInfo(run_id=run_id, mode=mode, state_dir=state_dir,
                  run_dir=state_dir / "runs" / run_id)
    try:
        run.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"state directory {state_dir}: cannot create {run.run_dir}: "
                         f"{exc.strerror}") from None
    return run


def _load_inputs(files: Sequence[str]) -> tuple[AlignedBars, list[dict[str, object]]]:
    series = []
    inputs: list[dict[str, object]] = []
    for spec in files:
        product, sep, name = spec.partition("=")
        path = Path(name if sep else spec)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        bars = load_bars(path, product if sep else None)
        series.append(bars)
        inputs.append({"file": path.name, "sha256": _sha256(path), "product_id": bars.product_id,
                       "layout": bars.layout, "bars": len(bars.bars),
                       "first": iso(bars.bars[0].start_ns), "last": iso(bars.bars[-1].start_ns),
                       "notes": list(bars.notes)})
        for note in bars.notes:
            print(f"note: {path.name}: {note}", file=sys.stderr)
    try:
        aligned = align(series)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for note in aligned.notes:
        print(f"note: {note}", file=sys.stderr)
    return aligned, inputs


def _replay_source(files: Sequence[str], config: Config
                   ) -> tuple[Callable[[], MarketSource], int, tuple[str, ...],
                              list[dict[str, object]]]:
    """What a replay reads: bars (CSV files) or one websocket capture
    (``.jsonl``, as ``record`` writes it). Returns the source factory, the
    time one batch covers (ns), the products and the inputs' descriptions."""
    from cryptoj_actors.adapters.coinbase.capture import (
        CaptureReplaySource,
        read_capture,
    )

    captures = [f for f in files if f.endswith(".jsonl")]
    if not captures:
        aligned, inputs = _load_inputs(files)
        return lambda: BarReplaySource(aligned), aligned.interval_ns, aligned.products, inputs
    if len(files) != 1:
        raise UsageError("a websocket capture (.jsonl) is replayed alone: give one file")
    path = Path(captures[0])
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    frames, products = read_capture(path)
    inputs: list[dict[str, object]] = [{
        "file": path.name, "sha256": _sha256(path), "layout": "advanced-trade-capture",
        "frames": len(frames), "products": list(products)}]
    feed = config.feed
    return (lambda: CaptureReplaySource(frames, products, feed),
            int(feed.batch_interval_s * 1_000_000_000), products, inputs)


MANIFEST = "run.json"


def _write_manifest(run: RunInfo, args: argparse.Namespace, inputs: list[dict[str, object]]
                    ) -> None:
    """What ``--resume`` needs to run the same replay again: the inputs (with
    their SHA-256), the config file and the credit window."""
    config_path = args.config or (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    manifest = {
        "run_id": run.run_id,
        "files": [_absolute_spec(spec) for spec in args.files],
        "sha256": [i["sha256"] for i in inputs],
        "config": str(config_path.resolve()) if config_path else None,
        "config_sha256": _sha256(config_path) if config_path else None,
        "state_dir": str(run.state_dir.resolve()),
        "credit_window": args.credit_window,
    }
    write_atomic(run.run_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _absolute_spec(spec: str) -> str:
    product, sep, name = spec.partition("=")
    return f"{product}={Path(name).resolve()}" if sep else str(Path(spec).resolve())


def _resume_manifest(args: argparse.Namespace) -> dict[str, object]:
    """Load the interrupted run's manifest and put its inputs into ``args``.

    Raises:
        UsageError: no manifest, or an input or the config changed since.
    """
    if args.files or args.config or args.state_dir:
        raise UsageError("--resume takes the run's own files, config and state directory; "
                         "give no others")
    try:
        manifest = json.loads((args.resume / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{args.resume}: not a replay run directory ({exc})") from None
    for spec, digest in zip(manifest["files"], manifest["sha256"], strict=True):
        path = Path(spec.partition("=")[2] or spec)
        if not path.is_file() or _sha256(path) != digest:
            raise UsageError(f"{path}: missing or changed since the run started: cannot resume")
    if manifest["config"] and (not Path(manifest["config"]).is_file()
                               or _sha256(Path(manifest["config"])) != manifest["config_sha256"]):
        raise UsageError(f"{manifest['config']}: missing or changed since the run started: "
                         "cannot resume")
    args.files = manifest["files"]
    args.config = Path(manifest["config"]) if manifest["config"] else None
    args.state_dir = Path(manifest["state_dir"])
    args.credit_window = manifest["credit_window"]
    return manifest


def _journal_summary(run: RunInfo, config: Config) -> str:
    """The ledger as the journal left it, in one line."""
    from cryptoj_actors.execution.journal import Journal
    from cryptoj_actors.portfolio.recovery import rebuild_ledger

    journal = Journal(run.journal_path, run.ledger_id)
    try:
        count = len(journal.fills())
        ledger = rebuild_ledger(journal, config.starting_cash)
    finally:
        journal.close()
    held = ", ".join(f"{p.base_size} {p.product_id}" for p in
                     ledger.snapshot(sender="cli", ts_ns=0, seq=0).positions if p.base_size)
    return (f"the journal holds {count} fills: cash {ledger.cash:.2f}"
            + (f", holding {held}" if held else ", flat"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- commands -------------------------------------------------------------------------


def _report_writer(run: RunInfo, config: Config, interval_ns: int, products: Sequence[str],
                   inputs: list[dict[str, object]]
                   ) -> Callable[[RunResults], tuple[dict[str, Any], list[Path]]]:
    """Builds and writes this run's report from results (at the end, or on
    the admin interface's ``POST /report`` while it runs)."""
    from cryptoj_actors.report.build import build_report, write_run

    def write(results: RunResults) -> tuple[dict[str, Any], list[Path]]:
        report = build_report(results=results, config=config, interval_ns=interval_ns,
                              products=products, inputs=inputs)
        return report, write_run(run.run_dir, report, results)

    return write


def cmd_replay(args: argparse.Namespace) -> int:
    from cryptoj_actors.report.build import LEDGER_CHECKS
    from cryptoj_actors.report.table import print_report

    manifest = _resume_manifest(args) if args.resume else None
    if manifest is None and not args.files:
        raise UsageError("replay needs at least one FILE (or --resume RUN_DIR)")
    config = _config(args)
    window = config.feed.replay_credit_window if args.credit_window is None else args.credit_window
    if not 1 <= window <= MAX_CREDIT_WINDOW:
        raise UsageError(f"--credit-window must be from 1 to {MAX_CREDIT_WINDOW}")
    config = replace(config, feed=replace(config.feed, credit_window=window))
    source, period_ns, products, inputs = _replay_source(args.files, config)
    _check_admin(config)
    if manifest is None:
        run = _run_info(config, "replay")
        _write_manifest(run, args, inputs)
    else:
        run = RunInfo(run_id=manifest["run_id"], mode="replay", state_dir=config.system.state_dir,
                      run_dir=args.resume)
        print(f"resuming {run.run_id}: {_journal_summary(run, config)}; re-executing from the "
              "first batch against the journal", file=sys.stderr)
    _logging(config, args.verbose, run.run_dir / "run.log")
    system = TradingSystem(config, run, source)
    system.rt.write_report = _report_writer(run, config, period_ns, products, inputs)
    started = time.perf_counter()
    system.start()
    interrupted = False
    try:
        _watch(system, not args.no_ui)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: stopping the system", file=sys.stderr)
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
    bars = len(results.portfolio.equity)
    print(f"{bars} bars in {elapsed:.2f} s ({bars / elapsed:,.0f} bars/s); "
          f"run {run.run_id} ended: {results.status}"
          + (f" ({results.reason})" if results.reason else ""))
    for path in paths:
        print(f"wrote {path}")
    if interrupted:
        return EXIT_INTERRUPTED
    if results.status == "halted":
        return EXIT_HALTED
    checks = report["cross_checks"]
    return EXIT_OK if all(checks[name] for name in LEDGER_CHECKS) else EXIT_CHECK_FAILED


def _watch(system: TradingSystem, show_ui: bool) -> None:
    """Show the system until its run ends (a live run: until Ctrl-C): the
    live view in a terminal, otherwise one status line every
    ``[ui] log_interval_s``."""
    from rich.console import Console
    from rich.live import Live

    from cryptoj_actors.admin.status import status_document
    from cryptoj_actors.ui.view import Refresher, one_line

    cfg = system.rt.config.ui
    console = Console(stderr=True)

    def document() -> dict[str, object]:
        return status_document(system.rt)

    if show_ui and console.is_terminal:
        with Live(Refresher(document), console=console, refresh_per_second=cfg.refresh_per_second):
            while not system.wait(0.1):
                pass
        return
    next_line = time.monotonic() + cfg.log_interval_s
    while not system.wait(0.2):
        if time.monotonic() >= next_line:
            print(one_line(document()), file=sys.stderr)
            next_line += cfg.log_interval_s


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.feed_url:
        if not args.feed_url.startswith(("ws://", "wss://")):
            raise UsageError(f"--feed-url must be a ws:// or wss:// URL, got {args.feed_url!r}")
        config = replace(config, feed=replace(config.feed, url=args.feed_url))
    credentials = _live_credentials(config, args.live)
    _check_admin(config)
    lock = StateDirLock(config.system.state_dir)
    try:
        lock.acquire()
    except (StateDirLocked, OSError) as exc:
        raise UsageError(str(exc)) from None
    try:
        return _run_live(args, config, credentials)
    finally:
        lock.release()


def _run_live(args: argparse.Namespace, config: Config, credentials: Credentials | None) -> int:
    """``run`` once it holds the state directory."""
    from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource

    run = replace(_run_info(config, "live"), venue="coinbase" if credentials else "paper")
    _logging(config, True, run.run_dir / "run.log")
    if credentials is not None:
        log.warning("starting: LIVE TRADING WITH REAL MONEY on %s, key %s: %s from %s "
                    "(state in %s); Ctrl-C stops", config.coinbase.rest_url, credentials.label,
                    ", ".join(config.feed.products), config.feed.url, config.system.state_dir)
    else:
        if config.system.mode == "live":
            log.warning("config system.mode is \"live\" but --live was not given: "
                        "paper trading")
        log.info("starting: paper trading %s from %s (state in %s); Ctrl-C stops",
                 ", ".join(config.feed.products), config.feed.url, config.system.state_dir)
    try:
        StateFile(run.state_file).load()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    system = TradingSystem(config, run, lambda: CoinbaseFeedSource(config.feed),
                           credentials=credentials)
    period_ns = int(config.feed.batch_interval_s * 1_000_000_000)
    system.rt.write_report = _report_writer(run, config, period_ns, config.feed.products, [])

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        system.start()
        _watch(system, not args.no_ui)  # a live system runs, halted or not, until Ctrl-C
    except KeyboardInterrupt:
        log.info("stopping: actors in reverse start order")
    finally:
        system.stop()
        signal.signal(signal.SIGTERM, previous)
    if system.rt.halt.is_set():
        log.warning("stopped cleanly, HALTED: %s", system.rt.halt.reason)
        return EXIT_HALTED
    log.info("stopped cleanly")
    return EXIT_OK


def _live_credentials(config: Config, live: bool) -> Credentials | None:
    """The API key when this run is to send real orders, else None.

    Real orders need both ``system.mode = "live"`` and ``--live``: neither a
    config edit nor a flag alone can move real money.

    Raises:
        UsageError: ``--live`` without the live mode, or no usable key.
    """
    if not live:
        return None
    if config.system.mode != "live":
        raise UsageError(f"--live needs system.mode = \"live\" in the config "
                         f"({config.source} has \"{config.system.mode}\")")
    try:
        credentials = load_credentials(config.coinbase.key_file)
    except CredentialsError as exc:
        raise UsageError(str(exc)) from None
    if credentials is None:
        raise UsageError(f"--live needs an API key: set coinbase.key_file or {ENV_KEY_NAME} "
                         f"and {ENV_PRIVATE_KEY}")
    return credentials


def cmd_record(args: argparse.Namespace) -> int:
    import threading

    from cryptoj_actors.adapters.coinbase.recorder import record

    config = _config(args)
    feed = replace(config.feed, products=args.products or config.feed.products,
                   url=args.feed_url or config.feed.url)
    _logging(config, args.verbose, None)
    print(f"recording {', '.join(feed.products)} ({', '.join(feed.channels)}) from {feed.url} "
          f"to {args.out}" + (f" for {args.duration:g} s" if args.duration else
                              "; Ctrl-C stops"), file=sys.stderr)
    stop = threading.Event()
    try:
        stats = record(feed, args.out, duration_s=args.duration, stop=stop)
    except FileExistsError:
        raise UsageError(f"{args.out} exists: a recording is never overwritten") from None
    except KeyboardInterrupt:  # the file is closed, flushed, and complete to its last line
        return EXIT_OK
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write: {exc.strerror}") from None
    defects = ", ".join(f"{k} {v}" for k, v in sorted(stats.defects.items())) or "none"
    print(f"wrote {stats.frames} frames to {args.out} over {stats.connections} connection(s); "
          f"input defects: {defects}", file=sys.stderr)
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    from cryptoj_actors.adapters.coinbase.download import CandleError, download_candles
    from cryptoj_actors.adapters.coinbase.rest import CoinbaseError, RestClient

    config = _config(args)
    (product,) = args.product if len(args.product) == 1 else (None,)
    if product is None:
        raise UsageError("--product takes one product id")
    start, end = int(args.start.timestamp()), int(args.end.timestamp())
    rest = RestClient(config.coinbase)

    def progress(done: int, total: int) -> None:
        print(f"\r{product} {args.granularity}: {done / total:6.1%}", end="", file=sys.stderr)

    try:
        stats = download_candles(rest, product, args.granularity, start, end, args.out,
                                 progress=progress)
    except (CoinbaseError, CandleError, ValueError) as exc:
        raise UsageError(f"download {product}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write: {exc.strerror}") from None
    finally:
        rest.close()
    print(file=sys.stderr)
    span = f"{iso(stats.first * 1_000_000_000)} to {iso(stats.last * 1_000_000_000)}" \
        if stats.first is not None and stats.last is not None else "no bars"
    print(f"wrote {stats.bars} bars ({span}) to {args.out} in {stats.requests} requests"
          + (f"; {stats.missing} intervals had no trades (no candle)" if stats.missing else ""))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from cryptoj_actors.adapters.coinbase.doctor import Verdict, diagnose

    config = _config(args)
    print(f"config {config.source}: OK (mode {config.system.mode})")
    failed = False
    for finding in diagnose(config):
        failed = failed or finding.verdict is Verdict.FAIL
        print(f"{finding.verdict.value:<4} {finding.check}: {finding.detail}")
    print("something is wrong: see FAIL above" if failed else "nothing stands in the way")
    return EXIT_CHECK_FAILED if failed else EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from cryptoj_actors.report.run_dir import RunDirError, render_run

    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # a file or a pipe: room for the wide tables
    if args.state_dir is None:  # a run directory lives in <state dir>/runs/
        args.state_dir = args.run_dir.resolve().parent.parent
    config = _config(args)
    endpoint = _endpoint(config)
    if endpoint is not None and endpoint.run_id == args.run_dir.name:
        try:  # a running run: have it write its files as they stand now
            call(endpoint, "POST", "/report")
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {endpoint.url} did not answer: {exc}") \
                from None
        console.print(f"run {endpoint.run_id} is running: its report as of now")
    try:
        written = render_run(args.run_dir, console, write_html=args.html)
    except RunDirError as exc:
        raise UsageError(str(exc)) from None
    except (OSError, KeyError, ValueError) as exc:
        raise UsageError(f"{args.run_dir}: cannot read the run: {exc}") from None
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def cmd_halt(args: argparse.Namespace) -> int:
    config = _config(args)
    path = control_file(config.system.state_dir)
    reason = args.reason or f"halt requested by {os.environ.get('USER', 'operator')}"
    text = reason + "\n" + (UNWIND_LINE + "\n" if args.unwind else "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {path}: a running system halts within a second")
    return EXIT_OK


def _endpoint(config: Config) -> Endpoint | None:
    try:
        return running_endpoint(config.system.state_dir, config.admin.token_file)
    except TokenError as exc:
        raise UsageError(str(exc)) from None


def _check_admin(config: Config) -> None:
    """Stop start-up with one line if the admin interface could not start."""
    if not config.admin.http:
        return
    try:
        config.system.state_dir.mkdir(parents=True, exist_ok=True)
        load_or_create_token(config.system.state_dir / config.admin.token_file)
    except (TokenError, OSError) as exc:
        raise UsageError(str(exc)) from None
    if config.admin.port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", config.admin.port))
            except OSError as exc:
                raise UsageError(f"config admin.port: 127.0.0.1:{config.admin.port} is not "
                                 f"free ({exc.strerror})") from None


def _live_state(config: Config) -> tuple[StateFile, TradingState | None]:
    state_file = StateFile(RunInfo("", "live", config.system.state_dir, Path()).state_file)
    try:
        return state_file, state_file.load()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _lift_risk_halt(config: Config) -> bool:
    """Lift risk's own halt (the drawdown) in ``risk_state.json``, as a
    running system's resume does; True when there was one.

    Raises:
        UsageError: the file cannot be read or is not a risk state.
    """
    path = RunInfo("", "live", config.system.state_dir, Path()).risk_state_file
    if not path.exists():
        return False
    policy = RiskPolicy(config.risk, config.rules, OrderIds(deterministic=False))
    try:
        policy.restore_state(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: {exc}") from None
    if not policy.lift_halt():
        return False
    write_atomic(path, json.dumps(policy.saved_state(), indent=2) + "\n")
    return True


def cmd_status(args: argparse.Namespace) -> int:
    config = _config(args)
    endpoint = _endpoint(config)
    if endpoint is not None:
        try:
            doc = call(endpoint, "GET", "/status")
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {endpoint.url} did not answer: {exc}") \
                from None
        if args.json:
            print(json.dumps(doc, indent=2))
        else:
            from rich.console import Console

            from cryptoj_actors.ui.view import render
            Console().print(render(doc))
        return EXIT_OK
    _, state = _live_state(config)
    halt_path = control_file(config.system.state_dir)
    if state is None:
        print(f"no trading state in {config.system.state_dir} (never run live here)")
    else:
        print(f"trading state: {state.level.value} since {iso(state.since_ns)}: {state.reason}")
    runs = sorted(config.system.state_dir.glob("runs/replay-*/trading_state.json"),
                  key=lambda p: p.stat().st_mtime)
    if runs:
        try:
            last = StateFile(runs[-1]).load()
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if last is not None:
            print(f"last replay {runs[-1].parent.name}: {last.level.value} since "
                  f"{iso(last.since_ns)}: {last.reason}")
    if halt_path.exists():
        print(f"control file {halt_path} is present: a system running here halts")
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    config = _config(args)
    halt_path = control_file(config.system.state_dir)
    halt_path.unlink(missing_ok=True)
    reason = args.reason or f"resumed by {os.environ.get('USER', 'operator')}"
    endpoint = _endpoint(config)
    if endpoint is not None:
        try:
            # Longer than the system's own wait for its supervisor, so that
            # its answer (done, refused, or still queued) is the one shown.
            answer = call(endpoint, "POST", "/resume", {"reason": reason},
                          timeout_s=RESUME_TIMEOUT_S + TIMEOUT_S)
        except requests.HTTPError as exc:
            raise UsageError(f"the running system {endpoint.run_id} refused: {exc}") from None
        except requests.RequestException as exc:
            raise UsageError(f"the running system at {endpoint.url} did not answer: {exc}") \
                from None
        if answer.get("pending"):
            print(f"resume queued: the running system {endpoint.run_id} is busy and acts on it "
                  f"when free ({reason}); `status` shows when it has")
        else:
            print(f"resumed the running system {endpoint.run_id}: {reason}")
        return EXIT_OK
    state_file, state = _live_state(config)
    risk_lifted = _lift_risk_halt(config)
    if state is None or state.level is not TradingLevel.HALTED:
        print("risk's drawdown halt lifted for the next start" if risk_lifted
              else "not halted: nothing to resume")
        return EXIT_OK
    resumed = EmergencyState(state.since_ns, state).resume(reason, time.time_ns())
    state_file.save(resumed, run_id="operator", mode="live")
    print(f"resumed: the next start trades again ({reason}); was halted: {state.reason}")
    return EXIT_OK
