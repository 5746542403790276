"""Dates and moments as partners write them, and "today" as a Dutch partner means it.

The domain has no clock: every rule about the future compares with the moment intake received
the submission, which the caller passes in.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "AMSTERDAM",
    "parse_dmy",
    "parse_iso_date",
    "parse_moment",
    "require_aware",
    "start_of_day",
    "today_in_amsterdam",
]

AMSTERDAM: Final = ZoneInfo("Europe/Amsterdam")

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DMY = re.compile(r"(?P<day>[0-9]{2})-(?P<month>[0-9]{2})-(?P<year>[0-9]{4})")
_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def require_aware(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive moment is a programming error.

    Raises:
        ValueError: ``moment`` has no time zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the moment of receipt must be timezone-aware")
    return moment.astimezone(UTC)


def today_in_amsterdam(moment: datetime) -> date:
    """The calendar date in the Netherlands at ``moment``."""
    return require_aware(moment).astimezone(AMSTERDAM).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in the Netherlands, in UTC.

    A partner giving only a date (a finding established on 10 March) says the matter happened
    that day; its start is the one moment of the day that is never after the moment of receipt.
    """
    try:
        return datetime.combine(day, time(0, 0), tzinfo=AMSTERDAM).astimezone(UTC)
    except OverflowError:
        # 1 January of the year 1 in Amsterdam lies before the first UTC moment Python knows.
        return datetime.combine(day, time(0, 0), tzinfo=UTC)


def parse_iso_date(text: str) -> date | None:
    """A calendar date ``jjjj-mm-dd``; None when it is no date."""
    if not _ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_dmy(text: str) -> date | None:
    """A Dutch date ``dd-mm-jjjj``; None when it is no calendar date."""
    match = _DMY.fullmatch(text)
    if match is None:
        return None
    try:
        return date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return None


def parse_moment(text: str) -> datetime | None:
    """An ISO 8601 date-time with offset or ``Z`` (seconds optional), in UTC; None if unreal."""
    if not _MOMENT.fullmatch(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # 0001-01-01T00:00+01:00 lies before the first representable UTC moment.
        return None
