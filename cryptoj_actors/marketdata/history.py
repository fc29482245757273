"""Warm-up from history: the bars a strategy needs before its first live decision.

A live start (and every restart of the strategy) loads the last
``needed_bars`` complete bars of each product, fetching from the venue what
the candle cache lacks (:func:`load_history`), feeds them through the
strategy with trading off, and then joins the live bars at the **boundary**:
the start of the current, unfinished bar. Every bar starting before it is
history's (fetched, or absent because nothing traded); the live bars, cut
from trades, start at it. So no bar is counted twice (:meth:`Warmup.live`
drops a late live bar from before the boundary) and none is missing: the
history ends with the bar just before the current one, and the current one
is built from the trades since the feed connected (should the current bar
turn before the feed connects, the bars between are missing, and said:
:meth:`Warmup.missing_before`).

Offline, the cache alone serves; the warm-up then ends where the cache ends,
and its ``age_s`` says how far that lags the live bars. A history that ends
more than ``[feed] warmup_max_age_s`` before the boundary is refused: the
strategy is not warmed on it (it would trade on a picture of a market long
gone), warms from the live bars instead, and ``problem`` says so. The system still runs
(marks, risk, the operator's commands); only the strategy waits.

Freqtrade (``startup_candle_count``) and LEAN (live warm-up) do the same job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cryptoj_actors.clock import NS_PER_SECOND, iso
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar
from cryptoj_actors.state.candles import CandleCache

log = logging.getLogger(__name__)

#: ``fetch(product_id, first_s, end_s)``: the venue's bars starting in
#: ``[first_s, end_s)`` (Unix seconds), oldest first; raises
#: :class:`HistoryUnavailable` when the venue cannot be asked.
Fetch = Callable[[str, int, int], list[Bar]]


class HistoryUnavailable(Exception):
    """The venue cannot give history now (offline, refused, rate-limited past
    the retries); the cache serves alone."""


@dataclass(frozen=True, slots=True)
class Warmup:
    """The history one strategy was warmed with, and what the status shows.

    ``needed_bars``: the strategy's warm-up; ``have_bars``: the bar times the
    history gave (batches); ``source``: ``rest`` (fetched now, as far as the
    cache lacked it), ``cache`` (the cache alone: up to date, or the venue
    unavailable, then ``problem`` says why) or ``none`` (no warm-up needed,
    or no candles of this bar interval); ``boundary_ns``: the start of the
    first live bar (ns, UTC); ``end_ns``: where the history ends (the
    boundary when complete; earlier when the cache is behind); ``age_s``:
    how far the history lags the live bars (seconds);
    ``history``: the batches, oldest first.
    """

    needed_bars: int
    have_bars: int
    source: str
    boundary_ns: int
    end_ns: int
    loaded_ns: int
    interval_ns: int
    history: tuple[MarketBatch, ...] = ()
    problem: str = ""

    @property
    def ready(self) -> bool:
        return self.have_bars >= self.needed_bars

    @property
    def age_s(self) -> float:
        """How far the history lags the live bars: from its end to the
        boundary (0 when fetched now, whatever the bar length)."""
        return (self.boundary_ns - self.end_ns) / NS_PER_SECOND

    @property
    def trading_from_ns(self) -> int:
        """When the strategy can first decide: now when ready, else at the
        close of the live bar that completes the warm-up."""
        if self.ready:
            return self.loaded_ns
        return self.boundary_ns + (self.needed_bars - self.have_bars) * self.interval_ns

    def status(self) -> dict[str, object]:
        """The status document's ``warmup`` object (JSON-ready)."""
        return {"ready": self.ready, "needed_bars": self.needed_bars,
                "have_bars": self.have_bars, "source": self.source,
                "trading_from": iso(self.trading_from_ns), "history_end": iso(self.end_ns),
                "age_s": round(self.age_s, 3), "problem": self.problem or None}

    def missing_before(self, bar: Bar) -> int:
        """The bars missing between the boundary and ``bar``, a product's first
        live bar: more than 0 when the current bar turned during the start
        (the live bars begin with the next one) or its first minutes had no
        trade."""
        return max(0, (bar.start_ns - self.boundary_ns) // self.interval_ns)

    def live(self, batch: MarketBatch) -> MarketBatch:
        """``batch`` without the bars that start before the boundary: those
        are history's, already seen (a late trade can close such a bar live)."""
        if not any(isinstance(e, Bar) and e.start_ns < self.boundary_ns for e in batch.events):
            return batch
        return replace(batch, events=tuple(e for e in batch.events if not (
            isinstance(e, Bar) and e.start_ns < self.boundary_ns)))


def no_warmup(now_ns: int, interval_s: int, needed_bars: int = 0, problem: str = "") -> Warmup:
    """No history: what a strategy without a warm-up (``needed_bars`` 0)
    gets, or one whose history could not be loaded (``problem`` says why)."""
    boundary = _boundary_ns(now_ns, interval_s)
    return Warmup(needed_bars=needed_bars, have_bars=0, source="none", boundary_ns=boundary,
                  end_ns=boundary, loaded_ns=now_ns, interval_ns=interval_s * NS_PER_SECOND,
                  problem=problem)


def _boundary_ns(now_ns: int, interval_s: int) -> int:
    interval_ns = interval_s * NS_PER_SECOND
    return now_ns - now_ns % interval_ns


def load_history(cache: CandleCache, fetch: Fetch | None, products: Sequence[str],
                 interval_s: int, needed_bars: int, now_ns: int, *,
                 max_age_s: float | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> Warmup:
    """The last ``needed_bars`` complete bars of each product before ``now_ns``.

    What the cache lacks of that span is fetched (``fetch``; None: the cache
    alone) and stored; a fetch that fails leaves the cache to serve alone,
    with ``problem`` saying why: the history is then the last ``needed_bars``
    bars the cache holds of every product. A history that ends more than
    ``max_age_s`` seconds before the boundary is refused: no batches, and
    ``problem`` says so; so is one that lacks a product. ``progress(product, bars_fetched, bars_needed)``
    follows each product's fetch.

    Raises:
        CandleCacheError: the cache cannot be read or written.
    """
    if needed_bars <= 0:
        return no_warmup(now_ns, interval_s)
    interval_ns = interval_s * NS_PER_SECOND
    boundary_ns = _boundary_ns(now_ns, interval_s)
    end_s = boundary_ns // NS_PER_SECOND
    first_s = end_s - needed_bars * interval_s
    fetched, problem = False, ""
    if fetch is not None:
        try:
            for product in products:
                for since, until in cache.missing(product, interval_s, first_s, end_s):
                    bars = fetch(product, since, until)
                    cache.put(product, interval_s, since, until, bars, now_ns)
                    fetched = True
                    if progress is not None:
                        progress(product, len(bars), needed_bars)
        except HistoryUnavailable as exc:
            problem = f"history from the venue unavailable ({exc}): from the cache alone"
            log.warning("warm-up: %s", problem)
    # The history ends where the products' cached spans all do: the boundary
    # when fetched now, earlier offline; it is the last needed bars before that.
    held = {p: cache.coverage(p, interval_s) for p in products}
    bare = [p for p, coverage in held.items() if coverage is None]
    if bare and not problem:
        problem = f"no candles of {', '.join(bare)} in the cache"
    # A product without any history leaves the strategy without a warm-up.
    history_end_s = first_s if bare else min([end_s, *(c.end_s for c in held.values() if c)])
    history_first_s = history_end_s - needed_bars * interval_s
    by_time: dict[int, list[Bar]] = {}
    for product in products:
        for bar in cache.bars(product, interval_s, history_first_s, history_end_s):
            by_time.setdefault(bar.start_ns, []).append(bar)
    history = tuple(
        MarketBatch(sender="history", ts_ns=start + interval_ns, seq=i,
                    events=tuple(bars), received_ns=0)
        for i, (start, bars) in enumerate(sorted(by_time.items()), start=1))
    source = "rest" if fetched and not problem else "cache"
    end_ns = history_end_s * NS_PER_SECOND
    age_s = (boundary_ns - end_ns) / NS_PER_SECOND
    if history and max_age_s is not None and age_s > max_age_s:
        problem = (f"{problem + '; ' if problem else ''}the history ends at {iso(end_ns)}, "
                   f"{age_s / 3600:.1f} h before the current bar, more than "
                   f"[feed] warmup_max_age_s "
                   f"({max_age_s:g} s): refused, the strategy warms from the live bars")
        history = ()
    if not history and not problem:
        problem = ("no history in the candle cache" if fetch is None else
                   "no candles from the venue") + ": the strategy warms from the live bars"
    return Warmup(needed_bars=needed_bars, have_bars=len(history), source=source,
                  boundary_ns=boundary_ns, end_ns=end_ns, loaded_ns=now_ns,
                  interval_ns=interval_ns, history=history, problem=problem)
