"""Timestamps as the sources write them, formatted without strftime for speed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _calendar_date(day_number: int) -> str:
    return (EPOCH + timedelta(days=day_number)).strftime("%Y-%m-%d")


def iso_millis(at: float, offset_hours: int = 0) -> str:
    """ISO-8601 with milliseconds; ``Z`` for UTC, else the local time and its offset.

    Built arithmetically because strftime dominates the run time at millions of calls.
    """
    millis = round((at + offset_hours * 3600) * 1000)
    day_number, in_day = divmod(millis, 86_400_000)
    seconds, milli = divmod(in_day, 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, second = divmod(rest, 60)
    text = f"{_calendar_date(day_number)}T{hours:02d}:{minutes:02d}:{second:02d}.{milli:03d}"
    if offset_hours == 0:
        return text + "Z"
    sign = "+" if offset_hours > 0 else "-"
    return f"{text}{sign}{abs(offset_hours):02d}:00"


def utc_day(at: float) -> str:
    """The UTC date of ``at`` as written by ``iso_millis`` (same rounding)."""
    return _calendar_date(round(at * 1000) // 86_400_000)


def iso_seconds(at: float) -> str:
    """ISO-8601 UTC to the whole second (Zendesk and window bounds)."""
    day_number, in_day = divmod(int(at), 86400)
    hours, rest = divmod(in_day, 3600)
    minutes, second = divmod(rest, 60)
    return f"{_calendar_date(day_number)}T{hours:02d}:{minutes:02d}:{second:02d}Z"
