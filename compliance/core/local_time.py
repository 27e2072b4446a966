"""How people read a moment: the program's own day, clock and zone ("Mon 23 Nov 2026
18:00 CST"). Staff pages, import previews and reports all say times this one way, so a
Monday evening group never reads as Tuesday 00:00 UTC in one place and 18:00 in another."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def spoken(moment: datetime | None, zone: str | ZoneInfo | None = None) -> str:
    """``moment`` in ``zone`` (a name or ZoneInfo), or as it stands when no zone is given;
    "" for None."""
    if moment is None:
        return ""
    if zone is not None:
        moment = moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M %Z}".rstrip()


def spoken_day(day: date | None) -> str:
    """A day the same way: "Thu 3 Dec 2026"; "" for None."""
    return "" if day is None else f"{day:%a} {day.day} {day:%b %Y}"
