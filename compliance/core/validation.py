"""Field-level checks shared by forms, the JSON API and the CSV importers.

Each check raises nothing itself: it appends to an ``Errors`` collector, so a form or
a file row reports every problem at once, each naming the field and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

E = TypeVar("E", bound=Enum)
MIN_YEAR, MAX_YEAR = 1900, 2200
MAX_ID = 2**31 - 1  # ids and counts beyond this are typing errors, not records
US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


class InvalidInput(Exception):
    """One or more fields are wrong; nothing was stored."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in self.errors))


@dataclass
class Errors:
    items: list[FieldError] = field(default_factory=list)

    def add(self, name: str, reason: str) -> None:
        self.items.append(FieldError(name, reason))

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidInput(self.items)

    def add_under(self, prefix: str, item: Errors) -> None:
        """An item's errors as the whole's (``results[2].analyte``), so a list in a form
        or body reports every item's problems at once, each naming its place."""
        for e in item.items:
            self.add(f"{prefix}.{e.field}", e.reason)


def is_record_id(value: int) -> bool:
    """Could this be a row id? A typed request body skips ``Form.integer``, and a larger
    value overflows the database driver (a 500) instead of simply finding nothing."""
    return 0 < value <= MAX_ID


def check_year(name: str, day: date | None) -> None:
    """Refuse a date outside MIN_YEAR..MAX_YEAR: typed bodies and queries arrive as dates
    already, skipping ``Form.date``, and arithmetic near year 1 or 9999 overflows."""
    if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidInput([FieldError(name, f"the year {day.year} is out of range")])


def parse_date_text(text: str) -> date:
    """ISO (2026-03-03) or US spreadsheet style (3/3/2026). Raises ValueError."""
    text = text.strip()
    match = US_DATE.match(text)
    if match:
        month, day, year = (int(g) for g in match.groups())
        return date(year, month, day)
    return date.fromisoformat(text)


class Form:
    """Reads typed values out of a mapping of raw input, collecting errors."""

    def __init__(self, data: Mapping[str, Any], errors: Errors | None = None) -> None:
        self.data = data
        self.errors = errors or Errors()

    def _raw(self, name: str) -> Any:
        value = self.data.get(name)
        return value.strip() if isinstance(value, str) else value

    def _given(self, name: str, required: bool) -> Any:
        """The value, or None when blank: missing and empty are alike for every type,
        and "is required" only where the field is."""
        value = self._raw(name)
        if value is None or value == "":
            if required:
                self.errors.add(name, "is required")
            return None
        return value

    def _in_years(self, name: str, value: date) -> bool:
        if MIN_YEAR <= value.year <= MAX_YEAR:
            return True
        self.errors.add(name, f"the year {value.year} is out of range")
        return False

    def text(self, name: str, *, required: bool = True, max_length: int = 200) -> str:
        value = self._given(name, required)
        if value is None:
            return ""
        value = str(value)
        if len(value) > max_length:
            self.errors.add(name, f"is longer than {max_length} characters")
        if "\x00" in value:
            self.errors.add(name, "contains a NUL character")
        return value

    def date(
        self,
        name: str,
        *,
        required: bool = True,
        not_future: bool = True,
        today: date | None = None,
    ) -> date | None:
        value = self._given(name, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            try:
                value = parse_date_text(str(value))
            except ValueError:
                self.errors.add(name, f"{value!r} is not a date (use YYYY-MM-DD or M/D/YYYY)")
                return None
        if not self._in_years(name, value):
            return None
        if not_future and value > (today or date.today()):
            self.errors.add(name, f"{value.isoformat()} is in the future")
        return value

    def local_datetime(
        self, name: str, tz: ZoneInfo, *, required: bool = True, now: datetime | None = None
    ) -> datetime | None:
        """An aware datetime: ISO with an offset, or a naive local time in the program's zone."""
        value = self._given(name, required)
        if value is None:
            return None
        if not isinstance(value, datetime):
            try:
                value = datetime.fromisoformat(str(value))
            except ValueError:
                self.errors.add(name, f"{value!r} is not a date and time (YYYY-MM-DDTHH:MM)")
                return None
        if not self._in_years(name, value):
            return None
        if value.tzinfo is None:
            value = localize(value, tz)
            if value is None:
                self.errors.add(name, "does not exist in the program's time zone (DST change)")
                return None
        if value > (now or datetime.now(UTC)):
            self.errors.add(name, f"{value.isoformat(timespec='minutes')} is in the future")
        return value

    def boolean(self, name: str) -> bool:
        value = self._raw(name)
        return str(value).lower() in ("1", "true", "yes", "on") if value is not None else False

    def choice(self, name: str, enum: type[E], *, required: bool = True) -> E | None:
        value = self._given(name, required)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in enum)  # type: ignore[attr-defined]
            self.errors.add(name, f"{value!r} is not one of: {allowed}")
            return None

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        value = self._given(name, required)
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.errors.add(name, f"{value!r} is not a whole number")
            return None
        if abs(number) > MAX_ID:
            self.errors.add(name, "is far too large")
            return None
        if minimum is not None and number < minimum:
            self.errors.add(name, f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            self.errors.add(name, f"must be at most {maximum}")
        return number


def localize(naive: datetime, tz: ZoneInfo) -> datetime | None:
    """Attach the zone; None when the wall time does not exist (spring-forward gap).
    An ambiguous time (the repeated hour in autumn) takes its first occurrence."""
    aware = naive.replace(tzinfo=tz, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return aware if round_trip == naive else None


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(name: str, default: str = "file") -> str:
    """A client's file name as a bare name without control characters (they end up in
    headers and logs)."""
    bare = CONTROL.sub("", name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return bare[:255] or default


def fit_decimal(value: Decimal | None, digits: tuple[int, int]) -> Decimal | None:
    """Round to the column's scale, the same on both engines; ValueError if it cannot fit."""
    if value is None:
        return None
    precision, scale = digits
    # Range first: quantizing 1e30 to two places raises InvalidOperation (a 500), not
    # the ValueError every caller turns into "too large".
    if not value.is_finite() or (value and value.adjusted() >= precision - scale):
        raise ValueError(f"{value} is out of range")
    rounded = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if rounded.copy_abs() >= Decimal(10) ** (precision - scale):
        raise ValueError(f"{value} is out of range")
    return rounded
