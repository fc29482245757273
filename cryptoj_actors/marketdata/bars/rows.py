"""The data rows of a recognised file -> exact values, checked row by row.

Prices are Decimal quote per base unit, volume Decimal base units, both
exactly as written; times are integer ns since the Unix epoch (UTC). A row
that cannot make a right bar raises :class:`DataError` naming the file and
the row's physical line.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cryptoj_actors.marketdata.bars.layouts import Layout, Reader
from cryptoj_actors.marketdata.bars.symbols import QUOTE_CURRENCIES, split_symbol
from cryptoj_actors.marketdata.errors import DataError, quoted
from cryptoj_actors.money import ZERO, to_decimal

__all__ = ["Row", "read_rows"]

#: One parsed row: (start_ns, line, open, high, low, close, volume, the five
#: number texts as written).
Row = tuple[int, int, Decimal, Decimal, Decimal, Decimal, Decimal, tuple[str, ...]]


def read_rows(
    path: Path,
    reader: Reader,
    layout: Layout,
    product: str,
    wanted: str | None,
) -> tuple[list[Row], str, int]:
    """Parse and check every data row; return (rows in file order, product, blank lines).

    ``product`` is the file's product when the layout has no symbol column;
    otherwise the first row's symbol tells it, and it must be ``wanted``
    when that is given.

    Raises:
        DataError: a row is malformed or inconsistent, or its symbol names
            no product, another one than the rows before, or not ``wanted``.
    """
    times = layout.times()
    days, hours, parse_time = times.days, times.hours, times.parse
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

    rows: list[Row] = []
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
            product, v_col = _product_from_symbol(path, line, layout, symbol, wanted)
        text = row[time_col]
        try:
            start_ns = days[text[:10]] + hours[text[10:]]
        except KeyError:
            try:
                start_ns = parse_time(text)
            except ValueError as exc:
                raise DataError(path, line, f"bad time {quoted(text)}: {exc}") from None
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


def _product_from_symbol(
    path: Path, line: int, layout: Layout, symbol: str, wanted: str | None
) -> tuple[str, int]:
    """Product id and base-volume column from the symbol of a row (at ``line``)."""
    product = split_symbol(symbol)
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
            f"in the header {quoted(header)}",
        )
    return product, col


def _base_volume_col(layout: Layout, product: str) -> int | None:
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
