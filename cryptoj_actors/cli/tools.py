"""``record``, ``download`` and ``doctor``: the venue's tools."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cryptoj_actors.adapters.coinbase.doctor import CheckStatus, diagnose
from cryptoj_actors.adapters.coinbase.download import CandleError, download_to_cache
from cryptoj_actors.adapters.coinbase.recorder import record
from cryptoj_actors.adapters.coinbase.rest import (
    GRANULARITY_S,
    CoinbaseError,
    RestClient,
)
from cryptoj_actors.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    UsageError,
    command,
    load,
    product_list,
    setup_logging,
    state_dir,
    utc_date,
    with_feed,
)
from cryptoj_actors.clock import iso
from cryptoj_actors.marketdata.bars.export import write_plain_csv
from cryptoj_actors.marketdata.bars.series import duration
from cryptoj_actors.state.candles import CandleCache, CandleCacheError


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    rec = command(sub, common, "record", cmd_record,
                  "record the live websocket frames to a capture (JSONL)",
                  "Every frame as received, a line each (<receive ns> TAB <frame>), the "
                  "layout replay and the replay server read.")
    rec.add_argument("--products", type=product_list, default=None,
                     help="comma-separated product ids (default: [feed] products)")
    rec.add_argument("--out", type=Path, required=True, metavar="FILE",
                     help="the capture to write (never overwritten)")
    rec.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                     help="stop after this long (default: at Ctrl-C)")
    rec.add_argument("--feed-url", help="websocket URL instead of [feed] url")

    download = command(sub, common, "download", cmd_download,
                       "fetch public candles into the candle cache (and a CSV replay reads)",
                       "Coinbase's public candles, paged within the public rate limit, into "
                       "the state directory's candle cache: only what it lacks is fetched. "
                       "replay --products replays from the cache; --out writes CSVs too.")
    download.add_argument("--product", "--products", dest="product", required=True,
                          type=product_list, metavar="PRODUCTS",
                          help="product ids, comma-separated, e.g. BTC-USD,ETH-USD")
    download.add_argument("--granularity", default="ONE_HOUR", choices=sorted(GRANULARITY_S),
                          help="the candle length (default: %(default)s)")
    download.add_argument("--start", required=True, type=utc_date, metavar="DATE",
                          help="first day (or time), ISO 8601, UTC")
    download.add_argument("--end", type=utc_date, metavar="DATE", default=None,
                          help="end, exclusive, ISO 8601, UTC (default: the start of the "
                               "current, unfinished candle)")
    download.add_argument("--out", type=Path, metavar="PATH", default=None,
                          help="also write a CSV (timestamp,open,high,low,close,volume): the "
                               "file for one product, a directory of PRODUCT_<interval>.csv "
                               "files for several")

    command(sub, common, "doctor", cmd_doctor,
            "check config, key, clock and connectivity, and say what is wrong",
            "Each check says OK, WARN or FAIL with what to do; exit 1 when one fails.")


def cmd_record(args: argparse.Namespace) -> int:
    config = with_feed(load(args), products=args.products, feed_url=args.feed_url)
    feed = config.feed
    setup_logging(config, args.verbose, None)
    if args.out.exists():
        raise UsageError(f"{args.out} exists: a recording is never overwritten")
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
    config = load(args)
    interval_s = GRANULARITY_S[args.granularity]
    start = int(args.start.timestamp())
    now = int(time.time())
    # By default up to the current candle, which is not finished: not a bar yet.
    end = int(args.end.timestamp()) if args.end is not None else now - now % interval_s
    outputs = _download_outputs(args.out, args.product, interval_s)
    rest = RestClient(config.coinbase)
    try:
        cache = CandleCache(state_dir(config).candles)
    except CandleCacheError as exc:
        raise UsageError(str(exc)) from None
    try:
        for product in args.product:
            def progress(done: int, total: int, product: str = product) -> None:
                print(f"\r{product} {args.granularity}: {done / total:6.1%}", end="",
                      file=sys.stderr)

            try:
                stats, bars = download_to_cache(rest, cache, product, interval_s, start, end,
                                                now_ns=time.time_ns(), progress=progress)
            except (CoinbaseError, CandleError, CandleCacheError, ValueError) as exc:
                raise UsageError(f"download {product}: {exc}") from None
            if stats.requests:
                print(file=sys.stderr)
            span = f"{iso(stats.first * 1_000_000_000)} to {iso(stats.last * 1_000_000_000)}" \
                if stats.first is not None and stats.last is not None else "no bars"
            out = outputs.get(product)
            if out is not None:
                try:
                    write_plain_csv(out, bars)
                except OSError as exc:
                    raise UsageError(f"{out}: cannot write: {exc.strerror}") from None
            print(f"{product}: {stats.bars} bars ({span}) in the candle cache, "
                  f"{stats.fetched} fetched in {stats.requests} requests"
                  + (f"; {stats.missing} intervals had no trades (no candle)"
                     if stats.missing else "")
                  + (f"; wrote {out}" if out is not None else ""))
    finally:
        cache.close()
        rest.close()
    return EXIT_OK


def _download_outputs(out: Path | None, products: tuple[str, ...], interval_s: int
                      ) -> dict[str, Path]:
    """Where each product's CSV goes: ``out`` itself for one product, else
    ``out/<PRODUCT>_<interval>.csv`` (``BTC-USD_1h.csv``, which replay names
    the product from).

    Raises:
        UsageError: several products and ``out`` is a file.
    """
    if out is None:
        return {}
    if len(products) == 1 and not out.is_dir():
        return {products[0]: out}
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: several products go into a directory, not a file")
    out.mkdir(parents=True, exist_ok=True)
    return {p: out / f"{p}_{duration(interval_s * 1_000_000_000)}.csv" for p in products}


def cmd_doctor(args: argparse.Namespace) -> int:
    config = load(args)
    print(f"config {config.source}: OK (mode {config.system.mode})")
    failed = False
    for finding in diagnose(config):
        failed = failed or finding.status is CheckStatus.FAIL
        print(f"{finding.status.value:<4} {finding.check}: {finding.detail}")
    print("something is wrong: see FAIL above" if failed else "nothing stands in the way")
    return EXIT_CHECK_FAILED if failed else EXIT_OK
