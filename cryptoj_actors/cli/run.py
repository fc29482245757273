"""``run`` (and the bare ``python -m cryptoj_actors``): trade live market
data, on the paper exchange unless real orders are asked for twice."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from cryptoj_actors.adapters.coinbase.credentials import (
    ENV_KEY_NAME,
    ENV_PRIVATE_KEY,
    Credentials,
    CredentialsError,
    load_credentials,
)
from cryptoj_actors.adapters.coinbase.download import history_loader
from cryptoj_actors.adapters.coinbase.websocket import CoinbaseFeedSource
from cryptoj_actors.cli.common import (
    EXIT_HALTED,
    EXIT_OK,
    UsageError,
    add_no_ui,
    check_admin,
    command,
    load,
    new_run,
    setup_logging,
    state_dir,
    with_feed,
)
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.config import CoinbaseConfig, Config
from cryptoj_actors.execution.journal import (
    JournalError,
    check_journal,
    journal_has_run,
)
from cryptoj_actors.marketdata.history import Warmup
from cryptoj_actors.report.build import report_writer
from cryptoj_actors.runtime import COINBASE_LEDGER, LIVE_LEDGER
from cryptoj_actors.state.candles import CandleCacheError
from cryptoj_actors.state.layout import StateDir
from cryptoj_actors.state.lock import StateDirLock, StateDirLocked
from cryptoj_actors.state.trading import TradingStateFile
from cryptoj_actors.strategy.base import load_strategy, warmup_bars
from cryptoj_actors.system import TradingSystem
from cryptoj_actors.ui.watch import watch

log = logging.getLogger("cryptoj_actors")

#: Seconds a restarted strategy's fetch of new candles may wait for an answer.
RESTART_FETCH_TIMEOUT_S = 2.0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    run = command(sub, common, "run", cmd_run, "trade live market data (paper by default)",
                  "What the bare command does: the whole system on Coinbase's public market "
                  "data, on the paper exchange unless both system.mode = \"live\" and --live "
                  "are given. Ctrl-C stops it cleanly.")
    run.add_argument("--feed-url", help="websocket URL instead of [feed] url")
    run.add_argument("--live", action="store_true",
                     help="send real orders to Coinbase (also needs system.mode = \"live\" "
                          "in the config); without it the paper exchange trades")
    run.add_argument("--fresh", action="store_true",
                     help="start over: move the journal and the trading and risk state aside "
                          "(to <state dir>/archive/<time>/) and start with a fresh ledger")
    add_no_ui(run)


def cmd_run(args: argparse.Namespace) -> int:
    config = with_feed(load(args), feed_url=args.feed_url)
    credentials = _live_credentials(config, args.live)
    generic = config.without_rules(config.feed.products)
    if generic and credentials is not None:
        raise UsageError(
            f"config {config.source}: products.{generic[0]}: missing: real orders need each "
            "product's trading rules (base_increment, quote_increment, min_base_size, "
            "min_notional from GET /api/v3/brokerage/market/products/{product_id})")
    check_admin(config)
    lock = StateDirLock(state_dir(config))
    try:
        lock.acquire()
    except StateDirLocked as exc:
        raise UsageError(str(exc)) from None
    try:
        folder = state_dir(config)
        if args.fresh:
            _start_over(folder)
        _check_continuity(folder)
        return _run_live(args, config, credentials)
    finally:
        lock.release()


def _check_continuity(folder: StateDir) -> None:
    """Refuse a start that would lose the ledger: the journal damaged, or
    missing or empty while the state directory shows an earlier live run
    (its fills and positions would be gone without a word).

    Raises:
        UsageError: one line naming the file and what to do.
    """
    try:
        check_journal(folder.journal)
        earlier = TradingStateFile(folder.trading_state).written_live() or (
            "a live run" if folder.risk_state.exists() else None)
        held = any(journal_has_run(folder.journal, ledger)
                   for ledger in (LIVE_LEDGER, COINBASE_LEDGER))
    except (JournalError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if earlier is not None and not held:
        state = "missing" if not folder.journal.exists() else "empty"
        raise UsageError(
            f"{folder.journal} is {state}, but {folder.path} shows an earlier live run "
            f"({earlier}): its fills and positions would be lost. Restore the journal, or "
            "start over with `run --fresh`")


def _start_over(folder: StateDir) -> None:
    """``--fresh``: move the live state aside (nothing is deleted).

    Raises:
        UsageError: a file cannot be moved.
    """
    target = folder.archive(datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    moved = []
    try:
        for path in folder.live_state_files:
            for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                if part.exists():
                    target.mkdir(parents=True, exist_ok=True)
                    part.rename(target / part.name)
                    moved.append(part.name)
    except OSError as exc:
        raise UsageError(f"--fresh: cannot move the live state to {target}: "
                         f"{exc.strerror}") from None
    if moved:
        log.warning("starting over (--fresh): moved %s to %s", ", ".join(moved), target)


def _run_live(args: argparse.Namespace, config: Config, credentials: Credentials | None) -> int:
    """``run`` once it holds the state directory."""
    run = replace(new_run(config, "live"), venue="coinbase" if credentials else "paper")
    setup_logging(config, True, run.files.log, tag=run.trading)
    if credentials is not None:
        log.warning("starting: LIVE TRADING WITH REAL MONEY on %s, key %s: %s from %s "
                    "(state in %s); Ctrl-C stops", config.coinbase.rest_url, credentials.label,
                    ", ".join(config.feed.products), config.feed.url, config.system.state_dir)
    else:
        generic = config.without_rules(config.feed.products)
        if generic:
            log.warning("no [products.X] table for %s in %s: paper trading with generic "
                        "trading rules", ", ".join(generic), config.source)
        if config.system.mode == "live":
            log.warning("config system.mode is \"live\" but --live was not given: "
                        "paper trading")
        log.warning("starting: PAPER trading (no real orders) %s from %s (state in %s); "
                    "Ctrl-C stops",
                 ", ".join(config.feed.products), config.feed.url, config.system.state_dir)
    try:
        TradingStateFile(run.trading_state_file).load()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    strategy = load_strategy(config.strategy, config.feed.products, config.source,
                             config.feed.bar_interval_s)
    def loader(settings: CoinbaseConfig) -> Callable[[int], Warmup]:
        return history_loader(settings, state_dir(config).candles, config.feed.products,
                              config.feed.bar_interval_s, warmup_bars(strategy),
                              max_age_s=config.feed.warmup_max_age_s, progress=_fetched)

    try:
        first = loader(config.coinbase)(time.time_ns())
    except CandleCacheError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:  # Ctrl-C while the history loads: stopped, as ever, with 0
        log.info("stopped before the start (Ctrl-C during the warm-up)")
        return EXIT_OK
    _say_warmup(first)
    # A restarted strategy warms in its actor's start, where a venue that
    # does not answer must not hold it past the liveness time-out (it would
    # count as hung): one quick try, then the cache.
    quick = replace(config.coinbase, max_retries=0,
                    timeout_s=min(config.coinbase.timeout_s, RESTART_FETCH_TIMEOUT_S))
    system = TradingSystem(config, run, lambda: CoinbaseFeedSource(config.feed),
                           strategy=strategy, credentials=credentials, warmup=loader(quick),
                           first_warmup=first)
    # The live equity curve keeps a point a bar (portfolio.curve): its ratios
    # count bars.
    system.rt.write_report = report_writer(run.run_dir, config,
                                           config.feed.bar_interval_s * NS_PER_SECOND,
                                           config.feed.products, [], trading=run.trading)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        system.start()
        watch(system, not args.no_ui)  # a live system runs, halted or not, until Ctrl-C
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


def _fetched(product: str, bars: int, wanted: int) -> None:
    log.info("warm-up: %s: %d bars fetched from Coinbase's candles (the strategy needs %d)",
             product, bars, wanted)


def _say_warmup(warmup: Warmup) -> None:
    """One line on the warm-up the strategy starts with."""
    if not warmup.needed_bars:
        return
    status = warmup.status()
    if warmup.ready:
        log.info("warm-up ready: %d bars (%s), history to %s; the first live bar decides",
                 warmup.have_bars, warmup.source, status["history_end"])
    else:
        log.warning("warm-up NOT ready: %d of %d bars (%s)%s; the strategy decides from %s",
                    warmup.have_bars, warmup.needed_bars, warmup.source,
                    f": {warmup.problem}" if warmup.problem else "", status["trading_from"])


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
