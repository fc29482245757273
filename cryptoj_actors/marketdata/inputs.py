"""What a replay reads, loaded and described once (:class:`ReplayInputs`).

A replay's inputs are recorded bars (CSV files, one product each, aligned on
their common window) or a websocket capture (its venue's adapter loads it).
Either way the replay gets a factory of fresh sources (a restarted feed needs
a new one), the time one batch covers, the products, and a description of
every input file for the report and the resume manifest: its name, SHA-256,
layout, size and the defects found in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptoj_actors.clock import iso
from cryptoj_actors.marketdata.bars.align import AlignedBars, align
from cryptoj_actors.marketdata.bars.series import load_bars
from cryptoj_actors.marketdata.errors import DataError
from cryptoj_actors.marketdata.replay import BarReplaySource, stale_products
from cryptoj_actors.marketdata.source import MarketSource
from cryptoj_actors.state.files import sha256_file


@dataclass(frozen=True, slots=True)
class ReplayInputs:
    """``source()`` makes a fresh market source; ``period_ns`` is the time one
    batch covers (ns); ``files`` describes each input (JSON-ready dicts);
    ``notes`` are the defects found, one line each, for the operator;
    ``bars`` counts the bars replayed (0 for a capture); ``aligned`` holds
    them (None for a capture), for a sweep's trials to cut windows from."""

    source: Callable[[], MarketSource]
    period_ns: int
    products: tuple[str, ...]
    files: list[dict[str, Any]]
    notes: tuple[str, ...] = field(default=())
    bars: int = 0
    aligned: AlignedBars | None = None


def split_spec(spec: str) -> tuple[str | None, Path]:
    """``PRODUCT=FILE`` or ``FILE``: the product named (or None) and the path."""
    product, sep, name = spec.partition("=")
    return (product, Path(name)) if sep else (None, Path(spec))


def bar_inputs(specs: Sequence[str], stale_bars: int | None = None) -> ReplayInputs:
    """Load and align the bar files ``specs`` (``FILE`` or ``PRODUCT=FILE``);
    a product without a bar for more than ``stale_bars`` intervals is
    unreliable meanwhile, and noted (see :mod:`~cryptoj_actors.marketdata.replay`).

    Raises:
        DataError: a file is missing, not a file, or cannot be read or
            parsed (one line naming the file).
        ValueError: the files cannot be aligned (a product twice, different
            intervals, no common window); the message names the files.
    """
    series, files, notes = [], [], []
    for spec in specs:
        product, path = split_spec(spec)
        if not path.exists():
            raise DataError(path, None, "no such file")
        if not path.is_file():
            raise DataError(path, None, "not a file (give the CSV files themselves)")
        bars = load_bars(path, product)
        series.append(bars)
        files.append({"file": path.name, "sha256": sha256_file(path),
                      "product_id": bars.product_id, "layout": bars.layout,
                      "bars": len(bars.bars), "first": iso(bars.bars[0].start_ns),
                      "last": iso(bars.bars[-1].start_ns), "notes": list(bars.notes)})
        notes.extend(f"{path.name}: {note}" for note in bars.notes)
    aligned = align(series)
    stale = stale_products(aligned, stale_bars)
    for product in aligned.products:
        batches = sum(product in names for names in stale)
        if batches:
            notes.append(f"{product}: its latest bar was more than {stale_bars} intervals old "
                         f"in {batches:,} of {len(stale):,} batches (no new exposure then)")
    return ReplayInputs(source=lambda: BarReplaySource(aligned, stale=stale),
                        period_ns=aligned.interval_ns,
                        products=aligned.products, files=files,
                        notes=(*notes, *aligned.notes),
                        bars=sum(len(bars) for _, bars in aligned.slices), aligned=aligned)
