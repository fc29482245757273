"""A bar's start time as a layout writes it -> integer ns since the Unix epoch, UTC.

Each layout names the maker of its :class:`TimeParser` (``Layout.times``).
Parsing the times is the larger part of loading a file, so the common forms
are looked up in tables instead of parsed; see :class:`TimeParser`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial

from cryptoj_actors.clock import NS_PER_DAY, NS_PER_HOUR, NS_PER_SECOND, from_datetime

__all__ = ["TimeParser", "cdd_times", "day_ms_times", "plain_times"]

_EPOCH_DATE_ORDINAL = date(1970, 1, 1).toordinal()
# Epoch seconds past year 9999 are almost surely milliseconds: refuse them.
_MAX_EPOCH_SECONDS = 253_402_300_800
_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class TimeParser:
    """The times of one file -> ns since the epoch, UTC.

    A row's time ``text`` is ``days[text[:10]] + hours[text[10:]]`` when both
    keys are there (the reader looks them up inline: no call for most rows);
    on a KeyError it is ``parse(text)``, which raises ValueError for a text
    in none of the layout's forms and may add the text's day to ``days`` for
    the rows after. A layout whose times do not split so leaves both tables
    empty, and every row takes ``parse``.
    """

    days: dict[str, int]  # "2019-10-17" -> ns at midnight
    hours: Mapping[str, int]  # the rest of the text -> ns after midnight
    parse: Callable[[str], int]


def cdd_times() -> TimeParser:
    """A parser for CryptoDataDownload dates (see :func:`_cdd_time`)."""
    days: dict[str, int] = {}
    return TimeParser(days, _CDD_HOURS, partial(_cdd_time, days=days))


def plain_times() -> TimeParser:
    """A parser for ISO 8601 times or epoch seconds: no fast path, every row is parsed."""
    return TimeParser({}, {}, _plain_time)


def day_ms_times(day: str) -> Callable[[], TimeParser]:
    """A parser maker for milliseconds after 00:00 UTC of ``day`` (``YYYYMMDD``,
    as Lean names its files); the times of a row are ``0 <= ms < 86400000``.

    Raises:
        ValueError: ``day`` is no date.
    """
    midnight = _day_ns(f"{day[:4]}-{day[4:6]}-{day[6:]}")
    return lambda: TimeParser({}, {}, partial(_day_ms_time, midnight=midnight))


def _day_ms_time(text: str, midnight: int) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError("expected whole milliseconds after midnight")
    ms = int(text)
    if ms >= NS_PER_DAY // _NS_PER_MS:
        raise ValueError("milliseconds after midnight beyond the day")
    return midnight + ms * _NS_PER_MS


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
