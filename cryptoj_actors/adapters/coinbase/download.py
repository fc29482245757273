"""Public candles: fetched as bars (:func:`fetch_candles`), into the candle
cache (:func:`download_to_cache`, the ``download`` command) and for a live
warm-up (:func:`history_loader`).

Source: Coinbase Advanced Trade, "Get Public Product Candles"
(``GET /api/v3/brokerage/market/products/{id}/candles``): ``start`` and
``end`` in Unix seconds, a ``granularity`` name, at most 350 candles a
request (300 seen enforced), newest first, strings for every number. Hours
without trades have no candle. The range is walked in windows of
:data:`~cryptoj_actors.adapters.coinbase.rest.MAX_CANDLES` candles, each request
within the public rate limit (the REST client's token bucket). Prices and
volumes are kept as Coinbase wrote them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptoj_actors.adapters.coinbase.rest import (
    GRANULARITY_S,
    MAX_CANDLES,
    CoinbaseError,
    RestClient,
)
from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.config import CoinbaseConfig
from cryptoj_actors.marketdata.history import HistoryUnavailable, Warmup, load_history
from cryptoj_actors.model import Bar
from cryptoj_actors.money import to_decimal
from cryptoj_actors.state.candles import CandleCache


class CandleError(ValueError):
    """The venue sent a candle that is not a valid bar."""


@dataclass(frozen=True, slots=True)
class DownloadStats:
    """``bars`` held for the span, ``requests`` made, ``missing`` intervals
    with no candle (no trades then), ``first`` / ``last`` bar starts (Unix
    seconds), ``fetched`` bars fetched now (the rest were cached)."""

    bars: int
    requests: int
    missing: int
    first: int | None
    last: int | None
    fetched: int = 0


def _bar(candle: dict, product_id: str) -> tuple[int, tuple[str, ...]]:
    try:
        start = int(candle["start"])
        values = tuple(str(candle[k]) for k in ("open", "high", "low", "close", "volume"))
        o, h, low, c, v = (to_decimal(x) for x in values)
    except (KeyError, ValueError, TypeError):
        raise CandleError(f"{product_id}: malformed candle {candle!r}") from None
    if not (low <= min(o, c) and h >= max(o, c) and low > 0 and v >= 0):
        raise CandleError(f"{product_id}: candle at {start} is not a bar "
                          f"(open {o}, high {h}, low {low}, close {c}, volume {v})")
    return start, values


def granularity_of(interval_s: int) -> str | None:
    """The candles' ``granularity`` name for bars of ``interval_s`` seconds, or
    None when Coinbase has none that long (``3600`` -> ``"ONE_HOUR"``)."""
    return next((name for name, step in GRANULARITY_S.items() if step == interval_s), None)


def fetch_candles(rest: RestClient, product_id: str, interval_s: int, start_s: int,
                  end_s: int, *, progress: Callable[[int, int], None] | None = None
                  ) -> tuple[list[Bar], int]:
    """Every candle of ``product_id`` starting in ``[start_s, end_s)`` (Unix
    seconds, ``start_s`` rounded down to the interval), as bars oldest first,
    and the number of requests made. Windows of
    :data:`~cryptoj_actors.adapters.coinbase.rest.MAX_CANDLES` candles, each
    within the public rate limit; ``progress(done_s, total_s)`` after each.

    Raises:
        ValueError: no granularity of ``interval_s``, or an empty range.
        CandleError: a candle is malformed.
        CoinbaseError: a request failed after its retries.
    """
    granularity = granularity_of(interval_s)
    if granularity is None:
        raise ValueError(f"Coinbase has no candles of {interval_s} s: the granularity must "
                         f"be one of {', '.join(f'{s} s' for s in GRANULARITY_S.values())}")
    if end_s <= start_s:
        raise ValueError("the end must be after the start")
    start_s -= start_s % interval_s  # candles start on multiples of their length
    found: dict[int, tuple[str, ...]] = {}
    requests = 0
    window = MAX_CANDLES * interval_s
    at = start_s
    while at < end_s:
        upto = min(at + window, end_s)
        # Coinbase's end is inclusive of a candle starting there: stop one short.
        for candle in rest.public_candles(product_id, granularity, at, upto - 1):
            start, values = _bar(candle, product_id)
            if start_s <= start < end_s:
                found[start] = values
        requests += 1
        at = upto
        if progress is not None:
            progress(at - start_s, end_s - start_s)
    interval_ns = interval_s * NS_PER_SECOND
    bars = [Bar(product_id=product_id, start_ns=start * NS_PER_SECOND, interval_ns=interval_ns,
                open=Decimal(o), high=Decimal(h), low=Decimal(lo), close=Decimal(c),
                volume=Decimal(v))
            for start, (o, h, lo, c, v) in sorted(found.items())]
    return bars, requests


def download_to_cache(rest: RestClient, cache: CandleCache, product_id: str, interval_s: int,
                      start_s: int, end_s: int, *, now_ns: int,
                      progress: Callable[[int, int], None] | None = None
                      ) -> tuple[DownloadStats, list[Bar]]:
    """Fill ``cache`` with every candle of ``product_id`` starting in
    ``[start_s, end_s)`` (Unix seconds, ``start_s`` rounded down to the
    interval), fetching only the spans it lacks (freqtrade's
    ``download-data`` is incremental the same way); the statistics of the
    span now held, and its bars, oldest first.

    Raises:
        ValueError: no granularity of ``interval_s``, or an empty range.
        CandleError: a candle is malformed.
        CoinbaseError: a request failed after its retries (the spans stored
            before it are kept; the one it was fetching is not).
        CandleCacheError: the cache cannot be written.
    """
    if end_s <= start_s:
        raise ValueError("the end must be after the start")
    start_s -= start_s % interval_s
    requests = fetched = 0
    for since, until in cache.missing(product_id, interval_s, start_s, end_s):
        bars, made = fetch_candles(rest, product_id, interval_s, since, until,
                                   progress=progress)
        cache.put(product_id, interval_s, since, until, bars, now_ns)
        requests, fetched = requests + made, fetched + len(bars)
    held = cache.bars(product_id, interval_s, start_s, end_s)
    starts = [b.start_ns // NS_PER_SECOND for b in held]
    expected = (end_s - start_s + interval_s - 1) // interval_s
    return DownloadStats(bars=len(held), requests=requests, missing=expected - len(held),
                         first=starts[0] if starts else None,
                         last=starts[-1] if starts else None, fetched=fetched), held


def history_loader(settings: CoinbaseConfig, cache_path: Path, products: Sequence[str],
                   interval_s: int, needed_bars: int, *, max_age_s: float | None = None,
                   progress: Callable[[str, int, int], None] | None = None
                   ) -> Callable[[int], Warmup]:
    """``load(now_ns)``: a strategy's warm-up (``needed_bars`` bars of
    ``interval_s`` seconds of each product) from Coinbase's public candles at
    ``settings.rest_url`` and the candle cache at ``cache_path``
    (:func:`~cryptoj_actors.marketdata.history.load_history`). Without
    candles of ``interval_s`` (no such granularity) the cache alone serves;
    a history older than ``max_age_s`` is refused.

    ``load`` raises CandleCacheError when the cache cannot be used.
    """
    def fetch(product_id: str, first_s: int, end_s: int) -> list[Bar]:
        rest = RestClient(settings)
        try:
            return fetch_candles(rest, product_id, interval_s, first_s, end_s)[0]
        except (CoinbaseError, CandleError) as exc:
            raise HistoryUnavailable(f"{product_id}: {exc}") from None
        finally:
            rest.close()

    def load(now_ns: int) -> Warmup:
        cache = CandleCache(cache_path)
        try:
            return load_history(cache, fetch if granularity_of(interval_s) else None, products,
                                interval_s, needed_bars, now_ns, max_age_s=max_age_s,
                                progress=progress)
        finally:
            cache.close()

    return load
