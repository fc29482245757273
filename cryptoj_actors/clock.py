"""Time as integer nanoseconds since the Unix epoch (UTC), and its text forms."""

from __future__ import annotations

from datetime import datetime, timezone

NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND
NS_PER_DAY = 24 * NS_PER_HOUR
#: One year of 365.25 days (crypto trades every day), exact in ns.
YEAR_NS = 36525 * NS_PER_DAY // 100


def iso(ts_ns: int) -> str:
    """``2019-10-17T09:00:00Z``; sub-second digits only when there are any."""
    seconds, rem = divmod(ts_ns, NS_PER_SECOND)
    text = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if rem:
        text += f".{rem:09d}".rstrip("0")
    return text + "Z"


def from_datetime(value: datetime) -> int:
    """Nanoseconds since the epoch for an aware datetime (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def utc_day(ts_ns: int) -> int:
    """The UTC calendar day of ``ts_ns``, as days since the epoch."""
    return ts_ns // NS_PER_DAY
