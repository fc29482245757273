"""Public candles into the plain OHLCV CSV that ``replay`` reads (``download``).

Source: Coinbase Advanced Trade, "Get Public Product Candles"
(``GET /api/v3/brokerage/market/products/{id}/candles``): ``start`` and
``end`` in Unix seconds, a ``granularity`` name, at most 350 candles a
request (300 seen enforced), newest first, strings for every number. Hours
without trades have no candle. The range is walked in windows of
:data:`~cryptoj_actors.adapters.coinbase.rest.MAX_CANDLES` candles, each request
within the public rate limit (the REST client's token bucket).

The file: header ``timestamp,open,high,low,close,volume``, one bar a line,
oldest first, ``timestamp`` the bar's start in ISO 8601 UTC, prices and volume
exactly as Coinbase wrote them. It is written to a temporary file and renamed
into place, so an interrupted download never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptoj_actors.adapters.coinbase.rest import GRANULARITY_S, MAX_CANDLES, RestClient
from cryptoj_actors.clock import NS_PER_SECOND, iso
from cryptoj_actors.money import to_decimal
from cryptoj_actors.state.files import write_atomic


class CandleError(ValueError):
    """The venue sent a candle that is not a valid bar."""


@dataclass(frozen=True, slots=True)
class DownloadStats:
    """``bars`` written, ``requests`` made, ``missing`` intervals with no candle
    (no trades then), ``first`` / ``last`` bar starts (Unix seconds)."""

    bars: int
    requests: int
    missing: int
    first: int | None
    last: int | None


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


def download_candles(rest: RestClient, product_id: str, granularity: str, start_s: int,
                     end_s: int, out: Path, *,
                     progress: Callable[[int, int], None] | None = None) -> DownloadStats:
    """Fetch every candle from ``start_s`` (inclusive) to ``end_s`` (exclusive,
    Unix seconds) and write them to ``out``.

    Raises:
        ValueError: an unknown granularity or an empty range.
        CandleError: a candle is malformed.
        CoinbaseError: a request failed after its retries.
        OSError: ``out`` cannot be written.
    """
    step = GRANULARITY_S.get(granularity)
    if step is None:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITY_S)}")
    if end_s <= start_s:
        raise ValueError("the end must be after the start")
    start_s -= start_s % step  # candles start on multiples of their length
    bars: dict[int, tuple[str, ...]] = {}
    requests = 0
    window = MAX_CANDLES * step
    at = start_s
    while at < end_s:
        upto = min(at + window, end_s)
        # Coinbase's end is inclusive of a candle starting there: stop one short.
        for candle in rest.public_candles(product_id, granularity, at, upto - 1):
            start, values = _bar(candle, product_id)
            if start_s <= start < end_s:
                bars[start] = values
        requests += 1
        at = upto
        if progress is not None:
            progress(at - start_s, end_s - start_s)
    ordered = sorted(bars)
    write_atomic(out, "timestamp,open,high,low,close,volume\n" + "".join(
        f"{iso(start * NS_PER_SECOND)},{','.join(bars[start])}\n" for start in ordered))
    expected = (end_s - start_s + step - 1) // step
    return DownloadStats(bars=len(ordered), requests=requests, missing=expected - len(ordered),
                         first=ordered[0] if ordered else None,
                         last=ordered[-1] if ordered else None)
