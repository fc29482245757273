"""Bars -> the plain OHLCV CSV that every reader here reads (layout ``plain``).

Header ``timestamp,open,high,low,close,volume``; one bar a line, in the
order given; ``timestamp`` the bar's start in ISO 8601 UTC; prices and
volume as their Decimal text, so a venue's strings come back exactly.
Written atomically (:func:`~cryptoj_actors.state.files.write_atomic`): an
interrupted write never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from cryptoj_actors.clock import iso
from cryptoj_actors.model import Bar
from cryptoj_actors.state.files import write_atomic

__all__ = ["write_plain_csv"]


def write_plain_csv(path: Path, bars: Iterable[Bar]) -> None:
    """Write ``bars`` to ``path``.

    Raises:
        OSError: ``path`` cannot be written (nothing partial is left).
    """
    write_atomic(path, "timestamp,open,high,low,close,volume\n" + "".join(
        f"{iso(b.start_ns)},{b.open},{b.high},{b.low},{b.close},{b.volume}\n" for b in bars))
