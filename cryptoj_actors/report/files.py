"""The files of a run directory: ``report.json``, ``trades.csv``, ``equity.csv``, ``equity.png``.

The text files are byte-for-byte deterministic: the same input always gives
the same bytes, so two replays of the same data can be compared with ``cmp``.

- Decimals are written as plain strings with :func:`cryptoj_actors.money.fmt`
  (exact, never scientific).
- Floats in ``report.json`` are rounded to 12 significant digits. Statistics
  such as a Sharpe ratio go through ``sqrt``/``pow``, whose last bits may
  differ between platforms and math libraries; 12 digits keep that noise out
  of the file and are far more than any metric means. Non-finite floats
  (inf, nan) are written as ``null``.
- Times are ISO-8601 UTC strings (:func:`cryptoj_actors.clock.iso`).
- Line endings are ``\\n`` on every platform.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
import math
from collections.abc import Mapping, Sequence
from datetime import timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import orjson

from cryptoj_actors.clock import iso
from cryptoj_actors.money import LEDGER_CONTEXT, fmt
from cryptoj_actors.report.metrics import (
    EquityPoint,
    Performance,
    TradeRecord,
    drawdown_series,
)
from cryptoj_actors.state.files import save_png, write_atomic

FLOAT_SIGNIFICANT_DIGITS = 12
FRACTION_QUANTUM = Decimal("1e-6")
"""``equity.csv`` writes exposure and weights to six decimals (0.0001 %)."""

TRADES_HEADER = (
    "time",
    "product_id",
    "side",
    "base_size",
    "price",
    "fee",
    "client_order_id",
    "realized_pnl",
    "reason",
    "liquidity",
)
EQUITY_HEADER = (
    "time",
    "equity",
    "cash",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "gross_exposure",
    "drawdown",
)

_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


# --- JSON ---------------------------------------------------------------------


def round_float(value: float) -> float | None:
    """``value`` rounded to 12 significant digits; ``None`` if it is not finite."""
    if not math.isfinite(value):
        return None
    rounded = float(format(value, f".{FLOAT_SIGNIFICANT_DIGITS}g"))
    return rounded if rounded != 0 else 0.0  # no "-0.0"


def to_jsonable(value: Any) -> Any:
    """A copy of ``value`` made only of JSON types, converted as the module doc says.

    Mappings become dicts with string keys (an enum key becomes its value,
    any other key ``str(key)``), lists and tuples become lists, enums their
    value, Decimals ``fmt`` strings, floats are rounded to 12 significant
    digits; ``str``, ``int``, ``bool`` and ``None`` stay as they are.

    Raises:
        TypeError: a value of any other type (a set has no order, a datetime
            no agreed form: convert those first).
    """
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return round_float(value)
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, Mapping):
        return {_json_key(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    raise TypeError(f"cannot write a {type(value).__name__} to report.json: {value!r}")


def _json_key(key: Any) -> str:
    if isinstance(key, enum.Enum):
        key = key.value
    return key if isinstance(key, str) else str(key)


def performance_dict(perf: Performance) -> dict[str, Any]:
    """``perf`` as a JSON-ready dict, one key per :class:`Performance` field.

    Money is a ``fmt`` string, floats are rounded to 12 significant digits,
    undefined metrics are ``None``. Time fields ``<name>_ns`` become ISO
    strings under ``<name>_time``: ``start_time``, ``end_time``,
    ``max_drawdown_peak_time``, ``max_drawdown_trough_time``.
    """
    out: dict[str, Any] = {}
    for field in dataclasses.fields(perf):
        value = getattr(perf, field.name)
        if field.name.endswith("_ns"):
            out[field.name[: -len("_ns")] + "_time"] = None if value is None else iso(value)
        else:
            out[field.name] = to_jsonable(value)
    return out


def report_json_bytes(report: Mapping[str, Any]) -> bytes:
    """The exact bytes :func:`write_report_json` writes."""
    return orjson.dumps(to_jsonable(report), option=_JSON_OPTIONS) + b"\n"


def write_report_json(path: Path, report: Mapping[str, Any]) -> None:
    """Write ``report`` as JSON: keys sorted, 2-space indent, trailing newline.

    Values are converted with :func:`to_jsonable` (Decimal -> exact string,
    float -> 12 significant digits, enum -> value, tuple -> list). Times must
    already be ISO strings (:func:`performance_dict` converts its own).
    """
    write_atomic(path, report_json_bytes(report))


# --- CSV ------------------------------------------------------------------------


def write_trades_csv(path: Path, trades: Sequence[TradeRecord]) -> None:
    """One row per fill, in the given order; header :data:`TRADES_HEADER`."""
    f = io.StringIO()
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(TRADES_HEADER)
    for t in trades:
        writer.writerow(
            (
                iso(t.time_ns),
                t.product_id,
                _text(t.side),
                fmt(t.base_size),
                fmt(t.price),
                fmt(t.fee),
                t.client_order_id,
                fmt(t.realized_pnl),
                _text(t.reason),
                t.liquidity,
            )
        )
    write_atomic(path, f.getvalue())


def write_equity_csv(path: Path, points: Sequence[EquityPoint]) -> None:
    """One row per equity point; header :data:`EQUITY_HEADER`, ``weight_<PRODUCT>``
    then, when the points carry marks, ``mark_<PRODUCT>`` (the mark price,
    quote per base, as the ledger holds it; empty before the first mark).

    The products and their order come from the first point's ``weights``.
    Money is written with ``fmt``; ``gross_exposure`` and the weights as
    Decimals quantized to 1e-6 (half-even, always six decimals);
    ``drawdown`` (``equity / running peak - 1``, <= 0) as a float with six decimals.

    Raises:
        ValueError: a point's weights do not name the same products in the same order.
    """
    products = [product for product, _ in points[0].weights] if points else []
    drawdowns = drawdown_series(points)
    f = io.StringIO()
    writer = csv.writer(f, lineterminator="\n")
    marked = bool(points) and bool(points[0].marks)
    writer.writerow((*EQUITY_HEADER, *(f"weight_{p}" for p in products),
                     *(f"mark_{p}" for p in products if marked)))
    # Cash, PnL, fees and the weights stay the same from hour to hour while
    # nothing trades: a column whose value equals the row above's reuses its
    # text (both texts depend on the value alone, not on how a Decimal spells
    # it; equality costs far less than formatting, or than a first hash).
    columns = 6 + len(products)
    last_values: list[Decimal | None] = [None] * columns
    last_texts = [""] * columns
    formats = (fmt,) * 5 + (_fraction,) * (1 + len(products))

    def texts(values: tuple[Decimal, ...]) -> list[str]:
        for i, value in enumerate(values):
            if value != last_values[i]:
                last_values[i] = value
                last_texts[i] = formats[i](value)
        return last_texts

    for point, drawdown in zip(points, drawdowns):
        if [product for product, _ in point.weights] != products:
            raise ValueError(
                f"point at {iso(point.time_ns)} has weights for "
                f"{[product for product, _ in point.weights]}, expected {products}"
            )
        amounts = texts((point.equity, point.cash, point.realized_pnl, point.unrealized_pnl,
                         point.fees, point.gross_exposure,
                         *(weight for _, weight in point.weights)))
        writer.writerow(
            (
                iso(point.time_ns),
                *amounts[:6],
                _six_decimals(drawdown),
                *amounts[6:],
                *(("" if price is None else str(price) for _, price in point.marks)
                  if marked else ()),
            )
        )
    write_atomic(path, f.getvalue())


def _text(value: object) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def _fraction(value: Decimal) -> str:
    quantized = value.quantize(FRACTION_QUANTUM, rounding=ROUND_HALF_EVEN, context=LEDGER_CONTEXT)
    return format(abs(quantized) if quantized == 0 else quantized, "f")  # no "-0.000000"


def _six_decimals(value: float) -> str:
    text = f"{value:.6f}"
    return "0.000000" if text == "-0.000000" else text


# --- PNG ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class EquitySeries:
    """What ``equity.png`` shows, as plain numbers (a worker process takes it
    as it is): the points' times (ns since the epoch, UTC), equity (quote,
    as floats: a plot needs no more) and drawdown (percent, <= 0)."""

    times_ns: tuple[int, ...]
    equity: tuple[float, ...]
    drawdown_pct: tuple[float, ...]

    @classmethod
    def of(cls, points: Sequence[EquityPoint]) -> EquitySeries:
        return cls(times_ns=tuple(p.time_ns for p in points),
                   equity=tuple(float(p.equity) for p in points),
                   drawdown_pct=tuple(d * 100.0 for d in drawdown_series(points)))


def draw_equity_png(path: Path, curve: EquitySeries, title: str) -> None:
    """Plot the equity curve (quote) over the drawdown (percent, filled) into
    ``path``; 1200x700 px.

    Uses a :class:`matplotlib.figure.Figure` with the Agg canvas directly, so
    it works headless and never touches ``pyplot``'s global state or backend.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax_equity, ax_drawdown = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.08}
    )
    fig.suptitle(title)
    if curve.times_ns:
        times = np.array(curve.times_ns, dtype="datetime64[ns]")
        equity = np.array(curve.equity)
        drawdown = np.array(curve.drawdown_pct)
        ax_equity.plot(times, equity, color="tab:blue", linewidth=1.0)
        ax_drawdown.fill_between(times, drawdown, 0.0, color="tab:red", alpha=0.4, linewidth=0)
        ax_drawdown.plot(times, drawdown, color="tab:red", linewidth=0.6)
        locator = AutoDateLocator(tz=timezone.utc)
        ax_drawdown.xaxis.set_major_locator(locator)
        ax_drawdown.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=timezone.utc))
    else:
        ax_equity.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax_equity.transAxes)
    ax_equity.set_ylabel("Equity (quote)")
    ax_drawdown.set_ylabel("Drawdown (%)")
    ax_drawdown.set_xlabel("Time (UTC)")
    for ax in (ax_equity, ax_drawdown):
        ax.grid(True, alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.09)
    save_png(fig, path)
