"""Which layout a CSV file of bars is in, told by its first lines (never by its name).

The layouts read (:data:`LAYOUTS`):

* **CryptoDataDownload** (``"cryptodatadownload"``): line 1 is free text (the
  attribution, ``Timestamps are UTC timezone,https://www.CryptoDataDownload.com``
  or ``Created on ...``), line 2 the header ``date,symbol,open,high,low,close,``
  then volume columns (``volume_btc,volume`` or ``Volume ETH,Volume USD``).
  ``date`` is the bar's start in UTC: ``2019-10-17 09-AM`` (12-hour clock) for
  hourly files, ``2019-10-17`` for daily ones. ``symbol`` (``BTCUSD``) names
  the product. Rows run newest first, but not strictly (the series notes it).
* **plain** (``"plain"``): header ``timestamp,open,high,low,close,volume``;
  ``timestamp`` is the bar's start, ISO 8601 (naive means UTC) or integer
  epoch seconds. The product comes from the caller or from the file name.
* **UTC and Unix time** (``"utc-unix"``): header
  ``time_utc,unix_s,open,high,low,close,volume``, as the convenience files of
  the Lean one-minute data are (``BTC-USD_1m_trade.csv``); ``unix_s`` is the
  bar's start in epoch seconds (``time_utc`` says the same in ISO 8601). The
  product comes from the caller or from the file name. Minutes without a
  trade are absent: gaps are normal there.
* **Lean raw** (``"lean-minute"``): QuantConnect Lean's one-minute trade
  bars as Lean stores them, one file a day and product, named
  ``YYYYMMDD_<symbol>_minute_trade.csv`` (``20180405_btcusd_minute_trade.csv``).
  No header: every line is ``ms,open,high,low,close,volume``, ``ms`` the bar's
  start in milliseconds after 00:00 UTC of the file's date, volume in base
  units. Only here does the name matter: it carries the day and the product.
  (Lean's format page: "Crypto" under "Data Formats" of the Lean docs.)

Bid/ask bars (Lean's ``_minute_quote.csv`` files, or a header with
``bid_open``) are refused with a line that says so: a replay marks and fills
on trade bars.

Header names are compared stripped and lower-cased. To read another layout,
write a function from its header to a :class:`Layout` (with a time parser
from :mod:`~cryptoj_actors.marketdata.bars.times`, a new one there if its
times are written a new way) and add it to :data:`LAYOUTS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptoj_actors.marketdata.bars.symbols import split_symbol
from cryptoj_actors.marketdata.bars.times import (
    TimeParser,
    cdd_times,
    day_ms_times,
    plain_times,
)
from cryptoj_actors.marketdata.errors import DataError, quoted

__all__ = [
    "LAYOUTS",
    "LAYOUT_CDD",
    "LAYOUT_LEAN_MINUTE",
    "LAYOUT_PLAIN",
    "LAYOUT_UTC_UNIX",
    "KnownLayout",
    "Layout",
    "Reader",
    "detect_layout",
]

LAYOUT_CDD = "cryptodatadownload"
LAYOUT_PLAIN = "plain"
LAYOUT_UTC_UNIX = "utc-unix"
LAYOUT_LEAN_MINUTE = "lean-minute"

_CDD_COLUMNS = ("date", "symbol", "open", "high", "low", "close")
_PLAIN_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_UTC_UNIX_COLUMNS = ("time_utc", "unix_s", "open", "high", "low", "close", "volume")
_LEAN_COLUMNS = ("ms", "open", "high", "low", "close", "volume")
_LEAN_NAME = re.compile(r"(\d{8})_([a-z0-9]+)_minute_(trade|quote)\.csv", re.IGNORECASE)
_REFUSE_QUOTES = ("a replay marks and fills on trade bars: give the trade file of the same "
                  "data (_trade.csv)")


class Reader(Iterator[list[str]], Protocol):
    """What ``csv.reader`` returns: rows, and the physical line last read."""

    line_num: int


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are in a recognised file, and how its times are written.

    Columns are 0-based. ``symbol_col`` is None when the rows do not name
    the product (it comes from the caller or the file name). Each of
    ``volume_cols`` is (column, lower-case text after "volume" in its name);
    the first is the base volume unless a symbol column tells otherwise.
    ``header_line`` is 0 for a file without a header (its first line is a
    row); ``header`` then names the columns. ``product`` is the product when
    the file's name tells it as part of the layout (Lean's), else None.
    """

    name: str  # LAYOUT_CDD, LAYOUT_PLAIN, ...: what BarSeries.layout says
    header_line: int
    header: tuple[str, ...]
    time_col: int
    symbol_col: int | None
    price_cols: tuple[int, int, int, int]  # open, high, low, close
    volume_cols: tuple[tuple[int, str], ...]
    times: Callable[[], TimeParser]  # a parser for this file's times
    product: str | None = None


@dataclass(frozen=True, slots=True)
class KnownLayout:
    """A layout the loader reads: one entry of :data:`LAYOUTS`."""

    expected: str  # how the unknown-layout error describes it
    header_lines: tuple[int, ...]  # the lines (1-based) its header may be on
    # (header, its line, the file) -> the layout, or None; raises DataError
    # for a file it knows and refuses.
    match: Callable[[tuple[str, ...], int, Path], Layout | None]


def _match_cdd(columns: tuple[str, ...], line: int, path: Path) -> Layout | None:
    if not all(name in columns for name in _CDD_COLUMNS):
        return None
    volume_cols = tuple(
        (i, name[len("volume") :].strip(" _").lower())
        for i, name in enumerate(columns)
        if name.startswith("volume")
    )
    if not volume_cols:
        return None
    index = {name: columns.index(name) for name in _CDD_COLUMNS}
    return Layout(
        name=LAYOUT_CDD,
        header_line=line,
        header=columns,
        time_col=index["date"],
        symbol_col=index["symbol"],
        price_cols=(index["open"], index["high"], index["low"], index["close"]),
        volume_cols=volume_cols,
        times=cdd_times,
    )


def _match_plain(columns: tuple[str, ...], line: int, path: Path) -> Layout | None:
    return _named_columns(columns, line, _PLAIN_COLUMNS, LAYOUT_PLAIN, "timestamp")


def _match_utc_unix(columns: tuple[str, ...], line: int, path: Path) -> Layout | None:
    if "bid_open" in columns:
        raise DataError(path, line, f"bid/ask (quote) bars; {_REFUSE_QUOTES}")
    return _named_columns(columns, line, _UTC_UNIX_COLUMNS, LAYOUT_UTC_UNIX, "unix_s")


def _match_lean(columns: tuple[str, ...], line: int, path: Path) -> Layout | None:
    """A Lean raw minute file: told by its name, then by a first row of numbers."""
    name = _LEAN_NAME.fullmatch(path.name)
    if name is None:
        return None
    day, symbol, kind = name.groups()
    if kind.lower() == "quote":
        raise DataError(path, None, f"a Lean quote file (bid/ask bars); {_REFUSE_QUOTES}")
    if len(columns) != len(_LEAN_COLUMNS) or not columns[0].isdigit():
        return None
    product = split_symbol(symbol)
    if product is None:
        raise DataError(path, None, f"cannot tell the product from the symbol {symbol!r} "
                                    "in the file name")
    try:
        times = day_ms_times(day)
    except ValueError as exc:
        raise DataError(path, None, f"the date {day!r} in the file name: {exc}") from None
    return Layout(
        name=LAYOUT_LEAN_MINUTE,
        header_line=0,
        header=_LEAN_COLUMNS,
        time_col=0,
        symbol_col=None,
        price_cols=(1, 2, 3, 4),
        volume_cols=((5, ""),),
        times=times,
        product=product,
    )


def _named_columns(columns: tuple[str, ...], line: int, names: tuple[str, ...], layout: str,
                   time: str) -> Layout | None:
    """A header of exactly ``names`` (in any order), the start in ``time``."""
    if sorted(columns) != sorted(names):
        return None
    index = {name: i for i, name in enumerate(columns)}
    return Layout(
        name=layout,
        header_line=line,
        header=columns,
        time_col=index[time],
        symbol_col=None,
        price_cols=(index["open"], index["high"], index["low"], index["close"]),
        volume_cols=((index["volume"], ""),),
        times=plain_times,
    )


#: Every layout read. On each of the first lines, in turn, the layouts whose
#: header may be there are tried in this order; the first match wins.
LAYOUTS: tuple[KnownLayout, ...] = (
    KnownLayout(
        expected=(
            "a CryptoDataDownload file (a free-text line, then the header "
            "date,symbol,open,high,low,close,volume...)"
        ),
        header_lines=(1, 2),
        match=_match_cdd,
    ),
    KnownLayout(
        expected="a plain one (header timestamp,open,high,low,close,volume)",
        header_lines=(1,),
        match=_match_plain,
    ),
    KnownLayout(
        expected="UTC and Unix times (header time_utc,unix_s,open,high,low,close,volume)",
        header_lines=(1,),
        match=_match_utc_unix,
    ),
    KnownLayout(
        expected=("Lean raw minute bars (no header; named YYYYMMDD_<symbol>_minute_trade.csv, "
                  "rows ms,open,high,low,close,volume)"),
        header_lines=(1,),
        match=_match_lean,
    ),
)


def _either(texts: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


_EXPECTED = "expected " + _either([known.expected for known in LAYOUTS])
_LAST_HEADER_LINE = max(line for known in LAYOUTS for line in known.header_lines)


def detect_layout(path: Path, reader: Reader) -> Layout:
    """Recognise the layout from the first lines; consume them, the header last.

    A layout without a header (``header_line == 0``) is recognised by its
    first row, which is consumed too: the caller reads the file again.

    Raises:
        DataError: no layout's header on the lines where it may be, or a
            file recognised and refused (bid/ask bars).
    """
    read: list[list[str]] = []
    for line in range(1, _LAST_HEADER_LINE + 1):
        row = next(reader, None)
        if row is None:
            break
        read.append(row)
        columns = tuple(c.strip().lower() for c in row)
        for known in LAYOUTS:
            if line in known.header_lines:
                layout = known.match(columns, line, path)
                if layout is not None:
                    return layout
    if not read:
        raise DataError(path, None, f"unknown layout: {_EXPECTED} (got an empty file)")
    shown = " / ".join(",".join(row) for row in read)
    raise DataError(path, None, f"unknown layout: {_EXPECTED} (got header {quoted(shown)})")
