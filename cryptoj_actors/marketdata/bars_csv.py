"""Recorded OHLCV bars from CSV files, and several products lined up in time.

Two layouts are read, told apart by their first lines (never by the file name):

* **CryptoDataDownload** (``"cryptodatadownload"``): line 1 is free text (the
  attribution, ``Timestamps are UTC timezone,https://www.CryptoDataDownload.com``
  or ``Created on ...``), line 2 the header ``date,symbol,open,high,low,close,``
  then volume columns (``volume_btc,volume`` or ``Volume ETH,Volume USD``).
  ``date`` is the bar's start in UTC: ``2019-10-17 09-AM`` (12-hour clock) for
  hourly files, ``2019-10-17`` for daily ones. ``symbol`` (``BTCUSD``) names
  the product. Rows run newest first, but not strictly (see below).
* **plain** (``"plain"``): header ``timestamp,open,high,low,close,volume``;
  ``timestamp`` is the bar's start, ISO 8601 (naive means UTC) or integer
  epoch seconds. The product comes from the caller or from the file name.

Prices are Decimal quote per base unit, volume Decimal base units, both exactly
as written. Times are integer nanoseconds since the Unix epoch (UTC).

The CryptoDataDownload exports have known defects (the data README, section 4):
rows out of time order, bars repeating the values of other hours, zero-volume
hours. The loader copes with them and reports them in :attr:`BarSeries.notes`;
anything that would make a bar wrong raises :class:`DataError` instead.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from itertools import pairwise
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Protocol

from cryptoj_actors.clock import (
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_SECOND,
    from_datetime,
    iso,
)
from cryptoj_actors.model import PRODUCT_ID, Bar
from cryptoj_actors.money import ZERO, to_decimal

__all__ = [
    "LAYOUT_CDD",
    "LAYOUT_PLAIN",
    "AlignedBars",
    "BarSeries",
    "DataError",
    "align",
    "load_bars",
]

LAYOUT_CDD = "cryptodatadownload"
LAYOUT_PLAIN = "plain"

# Longest first, so that BTCUSDC splits as BTC-USDC rather than failing on "USD".
QUOTE_CURRENCIES = ("USDC", "USDT", "USD", "EUR", "GBP", "BTC", "ETH")

_PLAIN_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_CDD_COLUMNS = ("date", "symbol", "open", "high", "low", "close")
_EXPECTED = (
    "expected a CryptoDataDownload file (a free-text line, then the header "
    "date,symbol,open,high,low,close,volume...) or a plain one (header "
    "timestamp,open,high,low,close,volume)"
)
_PRODUCT_IN_NAME = re.compile(r"([A-Z0-9]{2,10}-[A-Z0-9]{2,10})(?![A-Za-z0-9])")
_PRODUCT_ID = PRODUCT_ID
_EPOCH_DATE_ORDINAL = date(1970, 1, 1).toordinal()
# Epoch seconds past year 9999 are almost surely milliseconds: refuse them.
_MAX_EPOCH_SECONDS = 253_402_300_800


class DataError(Exception):
    """A recorded-data file cannot be used.

    ``str(err)`` is one line, ``FILE:LINE: problem``, or ``FILE: problem``
    when the problem concerns the whole file (``line`` is then ``None``).
    ``line`` is the 1-based physical line number in the file.
    """

    path: Path
    line: int | None
    problem: str

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        # args mirror __init__ so that the error survives pickling.
        super().__init__(path, line, problem)
        self.path = Path(path)
        self.line = line
        self.problem = problem.replace("\r", "\\r").replace("\n", "\\n")

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else f"{self.path}"
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class BarSeries:
    """The bars of one product from one file, sorted and checked.

    ``interval_ns`` is the bar length in ns, inferred as the most common step
    between consecutive bars; ``bars`` are sorted by ``start_ns`` with unique
    starts, each a whole number of intervals after the previous one (gaps are
    allowed and reported). ``notes`` are deterministic, human-readable
    findings about the data (defects coped with), in a fixed order.
    """

    product_id: str
    path: Path
    layout: str
    interval_ns: int
    bars: tuple[Bar, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlignedBars:
    """Bars of several products on one time grid.

    ``start_ns`` and ``end_ns`` are the first and last bar starts of the common
    window (ns, UTC, both included). Each slice is ``(start_ns, bars)``: the
    bars starting at that instant, at most one per product, in ``products``
    order; a product with no bar at that instant is absent from the slice.
    """

    products: tuple[str, ...]
    interval_ns: int
    start_ns: int
    end_ns: int
    slices: tuple[tuple[int, tuple[Bar, ...]], ...]
    notes: tuple[str, ...]


# --- loading -------------------------------------------------------------------


class _Reader(Iterator[list[str]], Protocol):
    """What ``csv.reader`` returns: rows, and the physical line last read."""

    line_num: int


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where things are in a recognised file."""

    name: str
    header_line: int
    header: tuple[str, ...]
    time_col: int
    symbol_col: int | None
    price_cols: tuple[int, int, int, int]  # open, high, low, close
    volume_cols: tuple[tuple[int, str], ...]  # (column, lower-case text after "volume")


def load_bars(path: Path, product_id: str | None = None) -> BarSeries:
    """Read one file of OHLCV bars (see the module docstring for the layouts).

    ``product_id`` (Coinbase form, ``BTC-USD``) names the product of a plain
    file, whose name need then not carry it; for a CryptoDataDownload file it
    must agree with the file's symbol.

    Raises:
        DataError: the file cannot be read, its layout is unknown, a row is
            malformed or inconsistent (wrong column count, unparseable time
            or number, non-positive price, negative volume, high below
            open/close, low above open/close, two different bars at one
            time, a bar off the interval grid), the product cannot be told or
            disagrees with ``product_id``, or there are fewer than 2 bars.
        ValueError: ``product_id`` is not of the form ``BASE-QUOTE``.
    """
    path = Path(path)
    wanted = _check_product_id(product_id) if product_id is not None else None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, None, f"cannot read the file: {exc.strerror or exc}") from exc
    # Undecodable bytes become U+FFFD, so junk fails as an unknown layout or
    # as a bad value on its own line rather than as a bare UnicodeDecodeError.
    text = raw.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        layout = _detect_layout(path, reader)
        if layout.name == LAYOUT_PLAIN:
            product = wanted or _product_from_name(path)
        else:
            product = ""  # told by the first row's symbol
        rows, product, skipped_blank = _read_rows(path, reader, layout, product, wanted)
    except csv.Error as exc:
        raise DataError(path, reader.line_num, f"malformed CSV: {exc}") from None
    return _build_series(path, layout, product, rows, skipped_blank)


def _check_product_id(product_id: str) -> str:
    product = product_id.strip().upper()
    if not _PRODUCT_ID.fullmatch(product):
        raise ValueError(f"product id must look like BTC-USD, got {product_id!r}")
    return product


def _product_from_name(path: Path) -> str:
    match = _PRODUCT_IN_NAME.match(path.name)
    if match is None:
        raise DataError(
            path,
            None,
            "cannot tell the product: name the file after it (BTC-USD_1h.csv) or pass PRODUCT=FILE",
        )
    return match.group(1)


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _detect_layout(path: Path, reader: _Reader) -> _Layout:
    """Recognise the layout from the first one or two lines; consume them."""
    first = next(reader, None)
    if first is None:
        raise DataError(path, None, f"unknown layout: {_EXPECTED} (got an empty file)")
    layout = _match_header(first, 1)
    if layout is not None:
        return layout
    second = next(reader, None)
    if second is not None:
        layout = _match_header(second, 2)
        if layout is not None and layout.name == LAYOUT_CDD:
            return layout
    shown = ",".join(first)
    if second is not None:
        shown += " / " + ",".join(second)
    raise DataError(path, None, f"unknown layout: {_EXPECTED} (got header {_short(shown)})")


def _match_header(row: list[str], line: int) -> _Layout | None:
    columns = tuple(c.strip().lower() for c in row)
    if sorted(columns) == sorted(_PLAIN_COLUMNS):
        index = {name: i for i, name in enumerate(columns)}
        return _Layout(
            name=LAYOUT_PLAIN,
            header_line=line,
            header=columns,
            time_col=index["timestamp"],
            symbol_col=None,
            price_cols=(index["open"], index["high"], index["low"], index["close"]),
            volume_cols=((index["volume"], ""),),
        )
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
    return _Layout(
        name=LAYOUT_CDD,
        header_line=line,
        header=columns,
        time_col=index["date"],
        symbol_col=index["symbol"],
        price_cols=(index["open"], index["high"], index["low"], index["close"]),
        volume_cols=volume_cols,
    )


def _split_symbol(symbol: str) -> str | None:
    """``BTCUSD`` (or ``BTC-USD``, ``BTC/USD``) -> ``BTC-USD``; None if not a pair."""
    text = symbol.strip().upper()
    for sep in ("-", "/"):
        if sep in text:
            product = text.replace(sep, "-", 1)
            return product if _PRODUCT_ID.fullmatch(product) else None
    for quote in QUOTE_CURRENCIES:
        if text.endswith(quote):
            product = f"{text[: -len(quote)]}-{quote}"
            if _PRODUCT_ID.fullmatch(product):
                return product
    return None


def _base_volume_col(layout: _Layout, product: str) -> int | None:
    """The volume column in base units: ``Volume BTC`` for BTC-USD.

    Failing a column named after the base, the first volume column named
    after anything but the quote (CryptoDataDownload's older ``Volume From``).
    A bare ``volume`` column is quote volume in these exports, never base.
    """
    base, quote = (p.lower() for p in product.split("-"))
    for col, suffix in layout.volume_cols:
        if suffix == base:
            return col
    for col, suffix in layout.volume_cols:
        if suffix not in ("", quote):
            return col
    return None


# One parsed row: (start_ns, line, open, high, low, close, volume, the five
# number texts as written).
_Row = tuple[int, int, Decimal, Decimal, Decimal, Decimal, Decimal, tuple[str, ...]]


def _read_rows(
    path: Path,
    reader: _Reader,
    layout: _Layout,
    product: str,
    wanted: str | None,
) -> tuple[list[_Row], str, int]:
    """Parse and check every data row; return (rows in file order, product, blank lines)."""
    days: dict[str, int] = {}  # "2019-10-17" -> ns at midnight, filled by _cdd_time
    hours: dict[str, int]
    parse_time: Callable[[str], int]
    if layout.name == LAYOUT_CDD:
        hours, parse_time = _CDD_HOURS, partial(_cdd_time, days=days)
    else:
        hours, parse_time = {}, _plain_time  # no fast path: every row takes parse_time
    ncols = len(layout.header)
    time_col = layout.time_col
    symbol_col = layout.symbol_col
    o_col, h_col, l_col, c_col = layout.price_cols
    v_col = layout.volume_cols[0][0]
    symbol: str | None = None
    cache: dict[str, Decimal] = {}  # prices repeat a lot (a close is the next open)
    cached = cache.get

    def number(text: str, what: str, line: int) -> Decimal:
        try:
            value = to_decimal(text, what)
        except ValueError as exc:
            raise DataError(path, line, str(exc)) from None
        cache[text] = value
        return value

    rows: list[_Row] = []
    blank = 0
    # The hot loop: 74k rows must load well under a second, so the caches are
    # looked up inline (a zero Decimal is falsy and merely takes the slow path).
    for row in reader:
        line = reader.line_num
        if not row:
            blank += 1
            continue
        if len(row) != ncols:
            raise DataError(
                path, line, f"expected {ncols} columns ({','.join(layout.header)}), got {len(row)}"
            )
        if symbol_col is not None and row[symbol_col] != symbol:
            if symbol is not None:
                raise DataError(
                    path,
                    line,
                    f"symbol {row[symbol_col]!r} differs from {symbol!r} on the rows before",
                )
            symbol = row[symbol_col]
            product, v_col = _resolve_cdd_product(path, line, layout, symbol, wanted)
        text = row[time_col]
        try:
            start_ns = days[text[:10]] + hours[text[10:]]
        except KeyError:
            try:
                start_ns = parse_time(text)
            except ValueError as exc:
                raise DataError(path, line, f"bad time {_short(text)}: {exc}") from None
        o = cached(row[o_col]) or number(row[o_col], "open", line)
        h = cached(row[h_col]) or number(row[h_col], "high", line)
        lo = cached(row[l_col]) or number(row[l_col], "low", line)
        c = cached(row[c_col]) or number(row[c_col], "close", line)
        v = cached(row[v_col]) or number(row[v_col], "volume", line)
        # Against ZERO, not 0: comparing a Decimal with an int is several times slower.
        if o <= ZERO or h <= ZERO or lo <= ZERO or c <= ZERO:
            raise DataError(
                path, line, f"prices must be positive (open {o}, high {h}, low {lo}, close {c})"
            )
        if v < ZERO:
            raise DataError(path, line, f"volume is negative: {v}")
        if h < o or h < c:
            raise DataError(path, line, f"high {h} is below open {o} or close {c}")
        if lo > o or lo > c:
            raise DataError(path, line, f"low {lo} is above open {o} or close {c}")
        rows.append(
            (
                start_ns,
                line,
                o,
                h,
                lo,
                c,
                v,
                (row[o_col], row[h_col], row[l_col], row[c_col], row[v_col]),
            )
        )
    return rows, product, blank


def _resolve_cdd_product(
    path: Path, line: int, layout: _Layout, symbol: str, wanted: str | None
) -> tuple[str, int]:
    """Product id and base-volume column from a CryptoDataDownload symbol."""
    product = _split_symbol(symbol)
    if product is None:
        raise DataError(
            path,
            line,
            f"cannot tell the product from symbol {symbol!r}: expected a base currency "
            f"followed by one of {', '.join(QUOTE_CURRENCIES)}",
        )
    if wanted is not None and wanted != product:
        raise DataError(path, line, f"symbol {symbol!r} is {product}, not the requested {wanted}")
    col = _base_volume_col(layout, product)
    if col is None:
        header = ",".join(layout.header)
        raise DataError(
            path,
            layout.header_line,
            f"no volume column in {product.split('-')[0]} (base units) "
            f"in the header {_short(header)}",
        )
    return product, col


def _day_ns(text: str) -> int:
    """``YYYY-MM-DD`` -> ns at 00:00 UTC of that day."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError("expected YYYY-MM-DD")
    return (date.fromisoformat(text).toordinal() - _EPOCH_DATE_ORDINAL) * NS_PER_DAY


# " 09-AM" -> ns after midnight, for the fast path of CDD times ("" for daily
# dates). The leading space pins the separator, so no other text can match.
_CDD_HOURS: dict[str, int] = {"": 0} | {
    f" {hour:02d}-{half}": (hour % 12 + add) * NS_PER_HOUR
    for hour in range(1, 13)
    for half, add in (("AM", 0), ("PM", 12))
}


def _cdd_time(text: str, days: dict[str, int]) -> int:
    """A CryptoDataDownload date -> ns since the epoch, UTC.

    Accepts ``2019-10-17 09-AM`` (12-hour clock: ``12-AM`` is midnight,
    ``12-PM`` noon), ``2019-10-17`` (daily files) and, failing those, ISO
    8601. Each day parsed is stored in ``days`` so that the caller's fast
    path (``days[text[:10]] + _CDD_HOURS[text[10:]]``) takes the next rows;
    ``datetime.strptime`` would cost several microseconds a row.

    Raises:
        ValueError: none of those forms.
    """
    if len(text) == 16 and text[10] == " " and text[13] == "-":
        day = _day_ns(text[:10])
        hour_text, half = text[11:13], text[14:].upper()
        if not (hour_text.isdigit() and half in ("AM", "PM")):
            raise ValueError("expected YYYY-MM-DD HH-AM or YYYY-MM-DD HH-PM")
        hour = int(hour_text)
        if not 1 <= hour <= 12:
            raise ValueError("the hour of a 12-hour clock runs from 01 to 12")
        days[text[:10]] = day
        return day + (hour % 12 + (12 if half == "PM" else 0)) * NS_PER_HOUR
    if len(text) == 10:
        day = days[text] = _day_ns(text)
        return day
    return _iso_ns(text)


def _iso_ns(text: str) -> int:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    return from_datetime(value)


def _plain_time(text: str) -> int:
    """ISO 8601 (naive means UTC) or integer epoch seconds -> ns since the epoch, UTC."""
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        seconds = int(stripped)
        if seconds >= _MAX_EPOCH_SECONDS:
            raise ValueError("epoch seconds beyond year 9999 (milliseconds?)")
        return seconds * NS_PER_SECOND
    try:
        return _iso_ns(stripped)
    except ValueError:
        raise ValueError("expected ISO 8601 or integer epoch seconds") from None


def _build_series(
    path: Path, layout: _Layout, product: str, rows: list[_Row], blank: int
) -> BarSeries:
    """Sort, de-duplicate, infer the interval, and collect the notes."""
    notes: list[str] = []
    disorder = _out_of_order_lines(rows)
    if disorder:
        where = (
            f"line {disorder[0]}" if len(disorder) == 1 else f"lines {disorder[0]}-{disorder[-1]}"
        )
        notes.append(f"{_count(len(disorder), 'row')} out of time order, {where} (sorted by time)")

    rows.sort(key=itemgetter(0))  # stable: rows at one time keep file order
    unique, dropped = _drop_exact_duplicates(path, rows)
    if dropped:
        line, same = dropped[0]
        notes.append(
            f"{_count(len(dropped), 'exact duplicate row')} dropped "
            f"(first at line {line}, same as line {same})"
        )
    if len(unique) < 2:
        raise DataError(
            path, None, f"{_count(len(unique), 'bar')}: need at least 2 to tell the bar interval"
        )

    starts = [row[0] for row in unique]
    interval = _infer_interval(starts)
    gap_note = _check_grid(path, unique, interval)
    if gap_note:
        notes.append(gap_note)

    zero = [row[0] for row in unique if not row[6]]
    if zero:
        notes.append(f"{_count(len(zero), 'zero-volume bar')} (no trades), first at {iso(zero[0])}")

    # The CDD exports repeat whole bars at other hours; flat zero-volume bars
    # repeat legitimately, so only bars with trades count. Keyed on the texts,
    # whose hashes the number cache computed already: hashing a Decimal the
    # first time costs more than the rest of this loop.
    seen: dict[tuple[str, ...], int] = {}
    repeats: list[tuple[int, int]] = []
    for row in unique:
        if row[6]:
            first = seen.setdefault(row[7], row[0])
            if first != row[0]:
                repeats.append((row[0], first))
    if repeats:
        at, orig = repeats[0]
        notes.append(
            f"{_count(len(repeats), 'bar')} repeat the prices and volume of an earlier bar "
            f"(first: {iso(at)} repeats {iso(orig)})"
        )
    if blank:
        notes.append(f"{_count(blank, 'blank line')} ignored")

    bars = tuple(
        Bar(
            product_id=product,
            start_ns=t,
            interval_ns=interval,
            open=o,
            high=h,
            low=lo,
            close=c,
            volume=v,
        )
        for t, _, o, h, lo, c, v, _ in unique
    )
    return BarSeries(
        product_id=product,
        path=path,
        layout=layout.name,
        interval_ns=interval,
        bars=bars,
        notes=tuple(notes),
    )


def _out_of_order_lines(rows: list[_Row]) -> list[int]:
    """Lines of the rows whose time steps against the file's main direction
    from the row just above them.

    A file is newest first when more steps go back in time than forward.
    A row moved elsewhere counts once (at the row after it when moved down
    a newest-first file); a reversed block of k rows counts k - 1 times.
    """
    times = [row[0] for row in rows]
    back = sum(1 for t0, t1 in pairwise(times) if t1 < t0)
    forward = sum(1 for t0, t1 in pairwise(times) if t1 > t0)
    if back > forward:
        return [rows[i + 1][1] for i, (t0, t1) in enumerate(pairwise(times)) if t1 > t0]
    return [rows[i + 1][1] for i, (t0, t1) in enumerate(pairwise(times)) if t1 < t0]


def _drop_exact_duplicates(
    path: Path, rows: list[_Row]
) -> tuple[list[_Row], list[tuple[int, int]]]:
    """Keep the first of rows with one time and equal values; ``rows`` sorted by time.

    Returns the unique rows and (dropped line, kept line) pairs, by time.

    Raises:
        DataError: two rows at one time with different values (at the later line).
    """
    unique: list[_Row] = rows[:1]
    dropped: list[tuple[int, int]] = []
    for row in rows[1:]:
        kept = unique[-1]
        if row[0] != kept[0]:
            unique.append(row)
        elif row[2:7] == kept[2:7]:
            dropped.append((row[1], kept[1]))
        else:
            raise DataError(
                path, row[1], f"two different bars at {iso(row[0])}: this one and line {kept[1]}"
            )
    return unique, dropped


def _check_grid(path: Path, rows: list[_Row], interval: int) -> str:
    """Check every start is whole intervals after the previous one; describe the gaps.

    Returns the gap note, or "" when the bars are contiguous.

    Raises:
        DataError: a bar off the grid (at its line).
    """
    missing = places = 0
    first_gap = ""
    for prev, cur in pairwise(rows):
        step = cur[0] - prev[0]
        if step == interval:
            continue
        bars, off = divmod(step, interval)
        if off:
            raise DataError(
                path,
                cur[1],
                f"bar at {iso(cur[0])} starts {_duration(step)} after the one at "
                f"{iso(prev[0])}: not a whole number of {_duration(interval)} bars",
            )
        if not places:
            if bars == 2:
                first_gap = f"1 bar at {iso(prev[0] + interval)}"
            else:
                first_gap = (
                    f"{bars - 1} bars from {iso(prev[0] + interval)} to {iso(cur[0] - interval)}"
                )
        missing += bars - 1
        places += 1
    if not missing:
        return ""
    return (
        f"{_count(missing, 'missing bar')} (gaps) in {_count(places, 'place')} "
        f"for the {_duration(interval)} interval; first gap: {first_gap}"
    )


def _infer_interval(starts: list[int]) -> int:
    """The most common step between consecutive sorted starts (the smallest on a tie)."""
    steps = Counter(t1 - t0 for t0, t1 in pairwise(starts))
    return min(steps, key=lambda step: (-steps[step], step))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _duration(ns: int) -> str:
    """``3600000000000`` -> ``1h``: the largest unit that divides ``ns`` exactly."""
    for unit, size in (
        ("d", NS_PER_DAY),
        ("h", NS_PER_HOUR),
        ("m", 60 * NS_PER_SECOND),
        ("s", NS_PER_SECOND),
    ):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


# --- alignment -----------------------------------------------------------------

_START = attrgetter("start_ns")


def align(series: Sequence[BarSeries]) -> AlignedBars:
    """Line the series up on their common time window.

    The window runs from the latest first-bar start to the earliest last-bar
    start. Each instant in it where at least one product has a bar gives a
    slice; a product without a bar there is absent from that slice, and such
    holes are counted in the notes. One series gives all of its bars.

    Raises:
        ValueError: no series, a product given twice, different bar
            intervals or grids that do not line up, or no common window.
    """
    if not series:
        raise ValueError("align needs at least one bar series")
    by_product: dict[str, BarSeries] = {}
    for s in series:
        other = by_product.setdefault(s.product_id, s)
        if other is not s:
            raise ValueError(f"product {s.product_id} given twice: {other.path} and {s.path}")
    first = series[0]
    for s in series[1:]:
        if s.interval_ns != first.interval_ns:
            raise ValueError(
                f"cannot align {first.path} ({first.product_id}, "
                f"{_duration(first.interval_ns)} bars) with {s.path} ({s.product_id}, "
                f"{_duration(s.interval_ns)} bars): intervals differ"
            )
        if (s.bars[0].start_ns - first.bars[0].start_ns) % first.interval_ns:
            raise ValueError(
                f"cannot align {first.path} with {s.path}: their {_duration(first.interval_ns)} "
                f"bars start at different offsets ({iso(first.bars[0].start_ns)} vs "
                f"{iso(s.bars[0].start_ns)})"
            )
    interval = first.interval_ns
    start = max(s.bars[0].start_ns for s in series)
    end = min(s.bars[-1].start_ns for s in series)
    if start > end:
        ranges = "; ".join(
            f"{s.product_id} {iso(s.bars[0].start_ns)} to {iso(s.bars[-1].start_ns)}"
            for s in series
        )
        raise ValueError(f"no common time window: {ranges}")

    windows = [
        s.bars[bisect_left(s.bars, start, key=_START) : bisect_right(s.bars, end, key=_START)]
        for s in series
    ]
    starts = [list(map(_START, w)) for w in windows]
    notes: list[str] = []
    if all(st == starts[0] for st in starts[1:]):
        # Every product has a bar at every time (the usual case): zip them.
        times = starts[0]
        slices = tuple(zip(times, zip(*windows)))
        holes: list[list[int]] = [[] for _ in series]
    else:
        by_time = [dict(zip(st, w)) for st, w in zip(starts, windows)]
        times = sorted(set().union(*starts))
        slices = tuple((t, tuple(d[t] for d in by_time if t in d)) for t in times)
        holes = [[t for t in times if t not in d] for d in by_time]

    notes.append(
        f"common window {iso(start)} to {iso(end)}: {_count(len(slices), 'slice')} "
        f"of {_duration(interval)} bars"
    )
    for s, w in zip(series, windows):
        left_out = len(s.bars) - len(w)
        if left_out:
            notes.append(f"{s.product_id}: {_count(left_out, 'bar')} outside the window left out")
    for s, missing in zip(series, holes):
        if missing:
            notes.append(
                f"{s.product_id}: no bar at {_count(len(missing), 'time')} of the window "
                f"where another product has one (first {iso(missing[0])})"
            )
    empty = (end - start) // interval + 1 - len(times)
    if empty:
        notes.append(f"{_count(empty, 'bar time')} in the window with no bar for any product")
    return AlignedBars(
        products=tuple(s.product_id for s in series),
        interval_ns=interval,
        start_ns=start,
        end_ns=end,
        slices=slices,
        notes=tuple(notes),
    )
