"""Fast UTC timestamp formatting for the generator's hot loop.

Times are integer seconds since 1970-01-01T00:00:00Z. ``datetime.isoformat`` costs a few microseconds per
call and the generator formats millions of timestamps, so day prefixes are cached and the time-of-day
part comes from a precomputed table.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

DAY = 86_400
HOUR = 3_600
MINUTE = 60
_EPOCH = date(1970, 1, 1)
_SOD = tuple(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY))
_days: dict[int, str] = {}


def to_seconds(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def day_of(t: int) -> int:
    return t // DAY


def date_str(day: int) -> str:
    s = _days.get(day)
    if s is None:
        s = (_EPOCH + timedelta(days=day)).isoformat()
        _days[day] = s
    return s


def ts(t: int) -> str:
    """xsd:dateTime text in UTC with a ``Z``."""
    day = t // DAY
    s = _days.get(day)
    if s is None:
        s = date_str(day)
    return s + _SOD[t - day * DAY]
