"""One product's recorded OHLCV bars from a CSV file, and what is wrong with them.

:func:`load_bars` reads a file in any layout of
:mod:`~cryptoj_actors.marketdata.bars.layouts` into a :class:`BarSeries`:
exact Decimal prices (quote per base unit) and volumes (base units), times
in integer ns since the Unix epoch (UTC), sorted by time.

The CryptoDataDownload exports have known defects (the data README, section 4):
rows out of time order, bars repeating the values of other hours, zero-volume
hours. The loader copes with them and reports them in :attr:`BarSeries.notes`;
anything that would make a bar wrong raises :class:`DataError` instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter
from pathlib import Path

from cryptoj_actors.clock import NS_PER_DAY, NS_PER_HOUR, NS_PER_SECOND, iso
from cryptoj_actors.marketdata.bars.layouts import Layout, detect_layout
from cryptoj_actors.marketdata.bars.rows import Row, read_rows
from cryptoj_actors.marketdata.errors import DataError
from cryptoj_actors.model import PRODUCT_ID, Bar

__all__ = ["BarSeries", "count", "duration", "load_bars"]

_PRODUCT_IN_NAME = re.compile(r"([A-Z0-9]{2,10}-[A-Z0-9]{2,10})(?![A-Za-z0-9])")


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


def load_bars(path: Path, product_id: str | None = None) -> BarSeries:
    """Read one file of OHLCV bars (see the layouts module for the layouts).

    ``product_id`` (Coinbase form, ``BTC-USD``) names the product of a file
    whose rows do not (a plain file), whose name need then not carry it; for
    a file with a symbol column (CryptoDataDownload) it must agree with the
    file's symbol.

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
        layout = detect_layout(path, reader)
        if layout.header_line == 0:  # no header: the rows start at line 1
            reader = csv.reader(io.StringIO(text, newline=""))
        if layout.product is not None:
            if wanted is not None and wanted != layout.product:
                raise DataError(path, None, f"the file name says {layout.product}, "
                                            f"not the requested {wanted}")
            product = layout.product
        elif layout.symbol_col is None:
            product = wanted or _product_from_name(path)
        else:
            product = ""  # told by the first row's symbol
        rows, product, skipped_blank = read_rows(path, reader, layout, product, wanted)
    except csv.Error as exc:
        raise DataError(path, reader.line_num, f"malformed CSV: {exc}") from None
    return _build_series(path, layout, product, rows, skipped_blank)


def _check_product_id(product_id: str) -> str:
    product = product_id.strip().upper()
    if not PRODUCT_ID.fullmatch(product):
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


def _build_series(
    path: Path, layout: Layout, product: str, rows: list[Row], blank: int
) -> BarSeries:
    """Sort, de-duplicate, infer the interval, and collect the notes."""
    notes: list[str] = []
    disorder = _out_of_order_lines(rows)
    if disorder:
        where = (
            f"line {disorder[0]}" if len(disorder) == 1 else f"lines {disorder[0]}-{disorder[-1]}"
        )
        notes.append(f"{count(len(disorder), 'row')} out of time order, {where} (sorted by time)")

    rows.sort(key=itemgetter(0))  # stable: rows at one time keep file order
    unique, dropped = _drop_exact_duplicates(path, rows)
    if dropped:
        line, same = dropped[0]
        notes.append(
            f"{count(len(dropped), 'exact duplicate row')} dropped "
            f"(first at line {line}, same as line {same})"
        )
    if len(unique) < 2:
        raise DataError(
            path, None, f"{count(len(unique), 'bar')}: need at least 2 to tell the bar interval"
        )

    starts = [row[0] for row in unique]
    interval = _infer_interval(starts)
    gap_note = _check_grid(path, unique, interval)
    if gap_note:
        notes.append(gap_note)

    zero = [row[0] for row in unique if not row[6]]
    if zero:
        notes.append(f"{count(len(zero), 'zero-volume bar')} (no trades), first at {iso(zero[0])}")

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
            f"{count(len(repeats), 'bar')} repeat the prices and volume of an earlier bar "
            f"(first: {iso(at)} repeats {iso(orig)})"
        )
    if blank:
        notes.append(f"{count(blank, 'blank line')} ignored")

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


def _out_of_order_lines(rows: list[Row]) -> list[int]:
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


def _drop_exact_duplicates(path: Path, rows: list[Row]) -> tuple[list[Row], list[tuple[int, int]]]:
    """Keep the first of rows with one time and equal values; ``rows`` sorted by time.

    Returns the unique rows and (dropped line, kept line) pairs, by time.

    Raises:
        DataError: two rows at one time with different values (at the later line).
    """
    unique: list[Row] = rows[:1]
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


def _check_grid(path: Path, rows: list[Row], interval: int) -> str:
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
                f"bar at {iso(cur[0])} starts {duration(step)} after the one at "
                f"{iso(prev[0])}: not a whole number of {duration(interval)} bars",
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
        f"{count(missing, 'missing bar')} (gaps) in {count(places, 'place')} "
        f"for the {duration(interval)} interval; first gap: {first_gap}"
    )


def _infer_interval(starts: list[int]) -> int:
    """The most common step between consecutive sorted starts (the smallest on a tie)."""
    steps = Counter(t1 - t0 for t0, t1 in pairwise(starts))
    return min(steps, key=lambda step: (-steps[step], step))


def count(n: int, noun: str) -> str:
    """``1 bar``, ``2 bars``: ``n`` and the noun, plural unless ``n`` is 1."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def duration(ns: int) -> str:
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
