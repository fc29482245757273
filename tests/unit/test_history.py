"""Warm-up from history: the span loaded, the candle cache (a real SQLite
file), what is fetched again, the offline fallback, the age limit, and the
boundary where live bars take over."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from cryptoj_actors.clock import NS_PER_HOUR, NS_PER_SECOND
from cryptoj_actors.marketdata.history import HistoryUnavailable, load_history
from cryptoj_actors.messages import MarketBatch
from cryptoj_actors.model import Bar, Trade
from cryptoj_actors.state.candles import CandleCache, CandleCacheError

HOUR_S = 3600
# 2026-12-02 15:20 UTC: the current (unfinished) hourly bar started at 15:00.
BOUNDARY_S = 1_796_223_600
NOW_NS = (BOUNDARY_S + 20 * 60) * NS_PER_SECOND
PRODUCTS = ("BTC-USD", "ETH-USD")


def bar(product: str, start_s: int, close: str = "100") -> Bar:
    price = Decimal(close)
    return Bar(product_id=product, start_ns=start_s * NS_PER_SECOND, interval_ns=NS_PER_HOUR,
               open=price, high=price, low=price, close=price, volume=Decimal(1))


class Venue:
    """Candles for any span, and the spans asked for."""

    def __init__(self, quiet: set[int] = frozenset(), down: bool = False) -> None:
        self.asked: list[tuple[str, int, int]] = []
        self.quiet, self.down = quiet, down

    def fetch(self, product: str, first_s: int, end_s: int) -> list[Bar]:
        self.asked.append((product, first_s, end_s))
        if self.down:
            raise HistoryUnavailable("cannot connect")
        return [bar(product, t) for t in range(first_s, end_s, HOUR_S) if t not in self.quiet]


@pytest.fixture
def cache(tmp_path: Path):
    c = CandleCache(tmp_path / "candles.sqlite3")
    yield c
    c.close()


def test_the_history_is_the_bars_just_before_the_current_one(cache):
    venue = Venue()
    warm = load_history(cache, venue.fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    assert warm.ready and warm.source == "rest" and warm.have_bars == 24
    assert warm.boundary_ns == BOUNDARY_S * NS_PER_SECOND == warm.end_ns
    starts = [b.events[0].start_ns // NS_PER_SECOND for b in warm.history]
    assert starts == list(range(BOUNDARY_S - 24 * HOUR_S, BOUNDARY_S, HOUR_S))
    assert all(len(b.events) == 2 for b in warm.history)  # both products, each time
    assert venue.asked == [(p, BOUNDARY_S - 24 * HOUR_S, BOUNDARY_S) for p in PRODUCTS]
    assert warm.status()["ready"] is True and warm.status()["source"] == "rest"


def test_a_restart_fetches_only_what_is_new(cache):
    load_history(cache, Venue().fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    later = Venue()
    warm = load_history(cache, later.fetch, PRODUCTS, HOUR_S, 24, NOW_NS + 3 * NS_PER_HOUR)
    assert later.asked == [(p, BOUNDARY_S, BOUNDARY_S + 3 * HOUR_S) for p in PRODUCTS]
    assert warm.ready and warm.have_bars == 24
    again = Venue()
    load_history(cache, again.fetch, PRODUCTS, HOUR_S, 24, NOW_NS + 3 * NS_PER_HOUR)
    assert again.asked == []  # up to date: the cache alone


def test_a_quiet_hour_is_no_hole_to_fetch_again(cache):
    quiet = {BOUNDARY_S - 5 * HOUR_S}
    load_history(cache, Venue(quiet).fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    again = Venue()
    warm = load_history(cache, again.fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    assert again.asked == [] and warm.have_bars == 23  # one bar time had no trade


def test_offline_the_cache_serves_its_last_bars_and_says_how_old(cache):
    load_history(cache, Venue().fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    warm = load_history(cache, Venue(down=True).fetch, PRODUCTS, HOUR_S, 24,
                        NOW_NS + 2 * NS_PER_HOUR, max_age_s=6 * HOUR_S)
    assert warm.source == "cache" and warm.ready and warm.have_bars == 24
    assert "unavailable (cannot connect)" in warm.problem
    assert warm.end_ns == BOUNDARY_S * NS_PER_SECOND
    assert warm.age_s == 2 * HOUR_S  # two bars behind the current one


def test_a_history_older_than_the_limit_is_refused(cache):
    load_history(cache, Venue().fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    warm = load_history(cache, Venue(down=True).fetch, PRODUCTS, HOUR_S, 24,
                        NOW_NS + 7 * NS_PER_HOUR, max_age_s=6 * HOUR_S)
    assert not warm.ready and warm.history == () and warm.have_bars == 0
    assert "7.0 h before the current bar, more than [feed] warmup_max_age_s (21600 s): " \
        "refused" in warm.problem
    # Not ready: it decides once the live bars have made up the warm-up.
    assert warm.trading_from_ns == warm.boundary_ns + 24 * NS_PER_HOUR


def test_a_fresh_history_of_long_bars_is_never_too_old(cache):
    """Daily bars fetched at 15:20: the history ends at midnight, 15 h ago,
    and is complete: its age is how far it lags the current bar, 0."""
    day = 86_400
    fetch = lambda p, a, b: [bar(p, t) for t in range(a, b, day)]  # noqa: E731
    warm = load_history(cache, fetch, PRODUCTS, day, 5, NOW_NS, max_age_s=6 * HOUR_S)
    assert warm.ready and warm.age_s == 0 and not warm.problem


def test_a_product_without_any_history_is_no_warm_up(cache):
    load_history(cache, Venue().fetch, ("BTC-USD",), HOUR_S, 24, NOW_NS)
    warm = load_history(cache, Venue(down=True).fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    assert not warm.ready and warm.have_bars == 0


def test_no_cache_and_no_venue_is_a_cold_start_that_says_so(cache):
    warm = load_history(cache, Venue(down=True).fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    assert not warm.ready and warm.have_bars == 0
    assert "unavailable" in warm.problem


def test_a_strategy_without_a_warm_up_needs_nothing(cache):
    venue = Venue()
    warm = load_history(cache, venue.fetch, PRODUCTS, HOUR_S, 0, NOW_NS)
    assert warm.ready and warm.source == "none" and venue.asked == []


def test_live_bars_join_at_the_boundary_without_a_double(cache):
    """The boundary hour: a live bar of the hour before it (closed by a late
    trade) is history's and dropped; the hour at it goes through, and so do
    trades."""
    warm = load_history(cache, Venue().fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    late = bar("BTC-USD", BOUNDARY_S - HOUR_S, "101")
    first_live = bar("BTC-USD", BOUNDARY_S, "102")
    trade = Trade(product_id="BTC-USD", trade_id="1", price=Decimal(102), size=Decimal(1),
                  side="BUY", time_ns=(BOUNDARY_S + 10) * NS_PER_SECOND)
    batch = MarketBatch(sender="feed", ts_ns=0, seq=1, events=(late, trade, first_live))
    assert warm.live(batch).events == (trade, first_live)
    untouched = MarketBatch(sender="feed", ts_ns=0, seq=2, events=(first_live,))
    assert warm.live(untouched) is untouched


def test_bars_missing_before_the_first_live_bar_are_counted(cache):
    warm = load_history(cache, Venue().fetch, PRODUCTS, HOUR_S, 24, NOW_NS)
    assert warm.missing_before(bar("BTC-USD", BOUNDARY_S)) == 0
    # The hour turned while the feed connected: the live bars begin an hour on.
    assert warm.missing_before(bar("BTC-USD", BOUNDARY_S + HOUR_S)) == 1


def test_a_damaged_cache_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "candles.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CandleCacheError, match="candles.sqlite3: not a usable candle cache"):
        CandleCache(path)
