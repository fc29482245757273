"""Reading a run directory back, and the breakdowns of ``report RUN_DIR``:
per product, by exit reason, by day and by month.

Everything is computed from the run's own files (``trades.csv``,
``equity.csv``), exactly in Decimal where it is money; returns are floats.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from cryptoj_actors.money import ZERO

#: What each order reason means to a reader of the report.
EXIT_KINDS = {
    "rebalance": "signal",
    "stop_loss": "stop-loss",
    "limit_trim": "risk reduce",
    "unwind": "emergency unwind",
    "unwind_fallback": "emergency unwind",
}


@dataclass(frozen=True, slots=True)
class Trade:
    """A row of ``trades.csv``."""

    time: str
    product_id: str
    side: str
    base_size: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    reason: str


@dataclass(frozen=True, slots=True)
class Mark:
    """A row of ``equity.csv``: the time (ISO), equity (quote), weights
    (fractions) and mark prices (quote per base; a product without a mark
    yet, or a run written before marks were kept, has none)."""

    time: str
    equity: Decimal
    weights: dict[str, Decimal]
    prices: dict[str, Decimal]


@dataclass(frozen=True, slots=True)
class Breakdown:
    """Trading figures of one group (a product, or an exit kind). Money in quote."""

    fills: int
    buys: int
    sells: int
    bought: Decimal
    sold: Decimal
    realized_pnl: Decimal
    fees: Decimal
    winning: int

    @property
    def win_rate(self) -> float | None:
        return self.winning / self.sells if self.sells else None

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl - self.fees


def read_trades(path: Path) -> list[Trade]:
    """The fills of a run.

    Raises:
        OSError: the file cannot be read. KeyError / ValueError: it is not a
            ``trades.csv`` of this program.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        return [Trade(time=row["time"], product_id=row["product_id"], side=row["side"],
                      base_size=Decimal(row["base_size"]), price=Decimal(row["price"]),
                      fee=Decimal(row["fee"]), realized_pnl=Decimal(row["realized_pnl"]),
                      reason=row["reason"]) for row in csv.DictReader(fh)]


def read_equity(path: Path) -> list[Mark]:
    """The equity curve of a run, with each product's weight (fraction) and
    mark price (quote per base)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [Mark(time=row["time"], equity=Decimal(row["equity"]),
                     weights={k[len("weight_"):]: Decimal(v) for k, v in row.items()
                              if k.startswith("weight_")},
                     prices={k[len("mark_"):]: Decimal(v) for k, v in row.items()
                             if k.startswith("mark_") and v})
                for row in csv.DictReader(fh)]


def breakdown(trades: list[Trade], key: str) -> dict[str, Breakdown]:
    """Figures per ``product`` or per ``exit`` kind (:data:`EXIT_KINDS`)."""
    groups: dict[str, list[Trade]] = defaultdict(list)
    for t in trades:
        name = t.product_id if key == "product" else EXIT_KINDS.get(t.reason, t.reason)
        groups[name].append(t)
    out = {}
    for name, rows in sorted(groups.items()):
        buys = [t for t in rows if t.side == "BUY"]
        sells = [t for t in rows if t.side == "SELL"]
        out[name] = Breakdown(
            fills=len(rows), buys=len(buys), sells=len(sells),
            bought=sum((t.base_size * t.price for t in buys), ZERO),
            sold=sum((t.base_size * t.price for t in sells), ZERO),
            realized_pnl=sum((t.realized_pnl for t in rows), ZERO),
            fees=sum((t.fee for t in rows), ZERO),
            winning=sum(1 for t in sells if t.realized_pnl > 0))
    return out


def period_returns(marks: list[Mark], period: str) -> list[tuple[str, float]]:
    """Simple returns per UTC ``day`` (``2018-01-31``) or ``month`` (``2018-01``):
    the last equity of a period over the last equity of the one before (the
    first period: over the first equity of the run)."""
    width = {"day": 10, "month": 7}[period]
    closes: dict[str, Decimal] = {}
    for m in marks:
        closes[m.time[:width]] = m.equity  # the last mark of the period wins
    out = []
    previous = marks[0].equity if marks else ZERO
    for label, close in closes.items():
        out.append((label, float(close / previous - 1)))
        previous = close
    return out


def buy_and_hold(marks: list[Mark], start_equity: Decimal) -> list[Decimal | None]:
    """The benchmark beside the equity curve: ``start_equity`` (quote) put
    in equal parts into every product of the run at the first mark where all
    of them have a price, held without fees; per mark, its value in quote
    (None before that first mark, or where a product's price is missing)."""
    products = sorted(marks[0].weights) if marks else []
    base = next((m.prices for m in marks if products and all(p in m.prices for p in products)),
                None)
    if base is None:
        return [None] * len(marks)
    share = start_equity / len(products)
    out: list[Decimal | None] = []
    started = False
    for m in marks:
        started = started or m.prices is base
        if not started or any(p not in m.prices for p in products):
            out.append(None)
            continue
        out.append(sum((share * m.prices[p] / base[p] for p in products), ZERO))
    return out


def month_grid(monthly: list[tuple[str, float]]) -> dict[int, dict[int, float]]:
    """Monthly returns as year -> month (1-12) -> return."""
    grid: dict[int, dict[int, float]] = defaultdict(dict)
    for label, value in monthly:
        year, month = label.split("-")
        grid[int(year)][int(month)] = value
    return dict(grid)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
