"""The candle cache: venue candles kept in the state directory, so that a
restart fetches only what is new and an offline start still warms up.

SQLite (``candles.sqlite3``, WAL), not Parquet: it is in the standard
library, takes small appends (a restart adds a few bars) in a transaction
that a kill cannot tear, and answers a product's range by its primary key.
A year of hourly bars of three products is about 26,000 rows.

Two tables: ``candles`` (one row a bar: product, interval in seconds, start
in Unix seconds, the prices and volume as the venue wrote them) and
``coverage`` (per product and interval, the span ``[first_s, end_s)``
fetched and when). The span matters because an interval without trades has
no candle: a missing row inside it is a quiet market, not a hole to fetch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cryptoj_actors.clock import NS_PER_SECOND
from cryptoj_actors.model import Bar

__all__ = ["CandleCache", "CandleCacheError", "Coverage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS candles (
    product_id TEXT NOT NULL,
    interval_s INTEGER NOT NULL,
    start_s INTEGER NOT NULL,
    open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
    volume TEXT NOT NULL,
    PRIMARY KEY (product_id, interval_s, start_s)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    product_id TEXT NOT NULL,
    interval_s INTEGER NOT NULL,
    first_s INTEGER NOT NULL,
    end_s INTEGER NOT NULL,
    fetched_ns INTEGER NOT NULL,
    PRIMARY KEY (product_id, interval_s)
);
"""


class CandleCacheError(ValueError):
    """The cache file cannot be opened or read (damaged, not a database)."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the cache holds of one product at one interval: every bar starting
    in ``[first_s, end_s)`` (Unix seconds) was fetched, at ``fetched_ns`` (the
    last time, wall clock, ns); ``bars`` counts the rows (a quiet interval has none)."""

    first_s: int
    end_s: int
    fetched_ns: int
    bars: int


class CandleCache:
    """The candle cache at ``path`` (created on first use).

    Raises:
        CandleCacheError: ``path`` is not a usable SQLite database (one line
            naming the file).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        db = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            raise CandleCacheError(f"{self.path}: not a usable candle cache ({exc}); "
                                   "move it aside and it is fetched again") from None
        self._db = db

    def close(self) -> None:
        self._db.close()

    def coverage(self, product_id: str, interval_s: int) -> Coverage | None:
        """What the cache holds of ``product_id`` at ``interval_s``, or None."""
        row = self._query("SELECT first_s, end_s, fetched_ns FROM coverage "
                          "WHERE product_id=? AND interval_s=?", (product_id, interval_s))
        if not row:
            return None
        first, end, fetched = row[0]
        (count,), = self._query("SELECT count(*) FROM candles WHERE product_id=? AND "
                                "interval_s=? AND start_s>=? AND start_s<?",
                                (product_id, interval_s, first, end))
        return Coverage(first, end, fetched, count)

    def missing(self, product_id: str, interval_s: int, first_s: int, end_s: int
                ) -> list[tuple[int, int]]:
        """The spans of ``[first_s, end_s)`` (Unix seconds) the cache has not
        fetched, in time order: what a fetch must ask for, no more."""
        held = self.coverage(product_id, interval_s)
        if held is None or end_s <= held.first_s or held.end_s <= first_s:
            return [(first_s, end_s)] if first_s < end_s else []
        spans = []
        if first_s < held.first_s:
            spans.append((first_s, held.first_s))
        if held.end_s < end_s:
            spans.append((held.end_s, end_s))
        return spans

    def put(self, product_id: str, interval_s: int, first_s: int, end_s: int,
            bars: Iterable[Bar], fetched_ns: int) -> None:
        """Store ``bars`` (of ``product_id``, ``interval_s`` long), fetched for
        the span ``[first_s, end_s)``, in one transaction. The coverage grows
        to the union when the spans touch; a span apart from the one held
        replaces it (the bars of the old one stay, unused until fetched again).

        Raises:
            CandleCacheError: the file cannot be written.
        """
        rows = [(product_id, interval_s, b.start_ns // NS_PER_SECOND, str(b.open), str(b.high),
                 str(b.low), str(b.close), str(b.volume)) for b in bars]
        held = self.coverage(product_id, interval_s)
        if held is not None and first_s <= held.end_s and held.first_s <= end_s:
            first_s, end_s = min(first_s, held.first_s), max(end_s, held.end_s)
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO candles VALUES (?,?,?,?,?,?,?,?)",
                                     rows)
                self._db.execute("INSERT OR REPLACE INTO coverage VALUES (?,?,?,?,?)",
                                 (product_id, interval_s, first_s, end_s, fetched_ns))
        except sqlite3.Error as exc:
            raise CandleCacheError(f"{self.path}: cannot store candles ({exc})") from None

    def bars(self, product_id: str, interval_s: int, first_s: int, end_s: int) -> list[Bar]:
        """The cached bars of ``product_id`` starting in ``[first_s, end_s)``, oldest first."""
        interval_ns = interval_s * NS_PER_SECOND
        return [Bar(product_id=product_id, start_ns=start * NS_PER_SECOND,
                    interval_ns=interval_ns, open=Decimal(o), high=Decimal(h), low=Decimal(lo),
                    close=Decimal(c), volume=Decimal(v))
                for start, o, h, lo, c, v in self._query(
                    "SELECT start_s, open, high, low, close, volume FROM candles WHERE "
                    "product_id=? AND interval_s=? AND start_s>=? AND start_s<? ORDER BY start_s",
                    (product_id, interval_s, first_s, end_s))]

    def _query(self, sql: str, args: tuple) -> list[tuple]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise CandleCacheError(f"{self.path}: cannot read the candle cache ({exc}); "
                                   "move it aside and it is fetched again") from None
