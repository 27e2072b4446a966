"""Attendance and drug-test CSV files in, validated records out.

Pure: bytes in, records and row errors out; no database and no clock (``now`` is
passed in). docs/csv-formats.md describes both formats for program staff.

A file that cannot be used as a whole (empty, binary, no header, the other kind of CSV,
a missing or unknown column) raises ``ParseError``. Anything wrong inside a row becomes
a ``RowError`` naming the physical line where the row starts (the header is line 1) and
the column; every row is checked, so one upload shows every problem at once. A record is
produced only for a row (or, for drug tests, a specimen) without errors.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from compliance.core.validation import localize, parse_date_text
from compliance.core.vocabulary import (
    AnalyteOutcome,
    AttendanceStatus,
    CollectionStatus,
    SessionType,
    SpecimenType,
    TestReason,
)
from compliance.intake.records import (
    VALIDITY_KEYS,
    AnalyteLookup,
    AnalyteRecord,
    AttendanceRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)
from compliance.records.attendance import judge_minutes
from compliance.records.drug_tests import collection_before_call

__all__ = [
    "ATTENDANCE_COLUMNS",
    "DRUG_TEST_COLUMNS",
    "MAX_DATA_ROWS",
    "csv_kind",
    "parse_attendance_csv",
    "parse_drug_test_csv",
]

MAX_DATA_ROWS: Final = 100_000
MAX_SESSION_MINUTES: Final = 600
EARLIEST_YEAR: Final = 1900

E = TypeVar("E", bound=Enum)


# --- the two formats ----------------------------------------------------------------


@dataclass(frozen=True)
class _Format:
    name: str  # with its article, as used in messages: "an attendance"
    columns: tuple[str, ...]
    required: tuple[str, ...]


ATTENDANCE_COLUMNS: Final = (
    "client_id",
    "date",
    "start_time",
    "session_type",
    "scheduled_minutes",
    "status",
    "minutes_attended",
    "session_title",
    "meeting_name",
    "proof",
    "note",
)

SPECIMEN_COLUMNS: Final = (
    "client_id",
    "collected_at",
    "collected_date",
    "collected_time",
    "collection_status",
    "called_at",
    "called_date",
    "called_time",
    "specimen_type",
    "observed",
    "reason",
    "lab_name",
    "accession_id",
    "chain_of_custody_id",
    "result_reported_at",
    "creatinine_mg_dl",
    "specific_gravity",
    "ph",
    "notes",
    # Who the lab says the specimen is from: checked against the client's record.
    "last_name",
    "first_name",
    "date_of_birth",
)
ANALYTE_COLUMNS: Final = (
    "analyte",
    "screen_result",
    "screen_method",
    "screen_cutoff_ng_ml",
    "confirmation_result",
    "confirmation_method",
    "confirmation_cutoff_ng_ml",
    "level_ng_ml",
    "mro_result",
    "mro_comment",
    "comment",
)
DRUG_TEST_COLUMNS: Final = SPECIMEN_COLUMNS + ANALYTE_COLUMNS

ATTENDANCE: Final = _Format(
    "an attendance",
    ATTENDANCE_COLUMNS,
    ("client_id", "date", "session_type", "scheduled_minutes", "status"),
)
DRUG_TEST: Final = _Format(
    "a drug-test",
    DRUG_TEST_COLUMNS,
    ("client_id", "analyte", "screen_result"),  # and collected_at or collected_date
)

# The longest value each text column may hold (the database's column sizes).
MAX_LENGTHS: Final[Mapping[str, int]] = {
    "client_id": 64,
    "session_title": 200,
    "meeting_name": 200,
    "lab_name": 200,
    "accession_id": 80,
    "chain_of_custody_id": 80,
    "analyte": 40,
    "screen_method": 40,
    "confirmation_method": 40,
    "last_name": 100,
    "first_name": 100,
}
MAX_FREE_TEXT: Final = 2000  # proof, note, notes, comments

# Decimal columns and the largest value each accepts.
DECIMAL_LIMITS: Final[Mapping[str, Decimal]] = {
    "creatinine_mg_dl": Decimal("999999.99"),
    "specific_gravity": Decimal("10"),
    "ph": Decimal("14"),
    "screen_cutoff_ng_ml": Decimal("9999999"),
    "confirmation_cutoff_ng_ml": Decimal("9999999"),
    "level_ng_ml": Decimal("999999999"),
}


# --- accepted values ----------------------------------------------------------------


def _token(text: str) -> str:
    """'Absent - Excused' -> 'absent_excused', '12-step' -> '12_step'."""
    return _NON_WORD.sub("_", text.lower()).strip("_")


_NON_WORD = re.compile(r"[^a-z0-9]+")


def _choices(enum: type[E], aliases: Mapping[str, E] | None = None) -> dict[str, E]:
    table: dict[str, E] = {_token(m.value): m for m in enum}
    table.update(aliases or {})
    return table


SESSION_TYPES: Final = _choices(SessionType, {"12_step": SessionType.twelve_step})
ATTENDANCE_STATUSES: Final = _choices(
    AttendanceStatus,
    {
        "excused": AttendanceStatus.absent_excused,
        "unexcused": AttendanceStatus.absent_unexcused,
        "excused_absence": AttendanceStatus.absent_excused,
        "unexcused_absence": AttendanceStatus.absent_unexcused,
    },
)
COLLECTION_STATUSES: Final = _choices(CollectionStatus, {"noshow": CollectionStatus.no_show})
SPECIMEN_TYPES: Final = _choices(SpecimenType)
TEST_REASONS: Final = _choices(TestReason)
OUTCOMES: Final = _choices(
    AnalyteOutcome, {"neg": AnalyteOutcome.negative, "pos": AnalyteOutcome.positive}
)
BOOLEANS: Final[Mapping[str, bool]] = {
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}

ABSENCES: Final = (AttendanceStatus.absent_excused, AttendanceStatus.absent_unexcused)
PARTIAL: Final = (AttendanceStatus.late, AttendanceStatus.left_early)
# Statuses with no specimen: nothing was collected, so there is nothing to test.
NO_SPECIMEN: Final[Mapping[CollectionStatus, str]] = {
    CollectionStatus.no_show: "no-show",
    CollectionStatus.refused: "refusal",
    CollectionStatus.unable_to_provide: "unable-to-provide",
}
# Statuses whose specimen must carry at least one analyte result.
NEEDS_ANALYTES: Final = (CollectionStatus.collected, CollectionStatus.dilute)


# --- reading the file ---------------------------------------------------------------


@dataclass
class _Table:
    columns: list[str]  # canonical names in file order; "" for a column without a name
    rows: list[tuple[int, list[str]]]  # (line where the row starts, its cells)


def _decode(data: bytes) -> str:
    if not data.replace(b"\xef\xbb\xbf", b"").strip():
        raise ParseError("the file is empty")
    if b"\x00" in data:
        raise ParseError(
            "the file is not a CSV text file (it holds binary data); "
            "save the spreadsheet as CSV UTF-8 and upload that"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ParseError(
            f"the file is not UTF-8 text (line {line}); "
            'save the spreadsheet as "CSV UTF-8 (comma delimited)" and upload that'
        ) from None
    if text.lstrip().startswith("MSH|"):
        raise ParseError("this looks like an HL7 results file, not a CSV; upload it as HL7")
    return text


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows with the physical line each starts on (quoted newlines included)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ParseError(
                f"the file cannot be read as CSV from line {line} ({exc}); "
                "look for a quote that is opened but never closed"
            ) from None
        if "".join(cells).strip():
            yield line, cells
        line = reader.line_num + 1


def _column_name(cell: str) -> str:
    return _HEADER_SPACE.sub("_", cell.replace("\ufeff", "").strip().lower())


_HEADER_SPACE = re.compile(r"[\s\-]+")


def _listing(names: list[str]) -> str:
    return ", ".join(names)


def _read(data: bytes, fmt: _Format, other: _Format) -> _Table:
    rows = _rows(_decode(data))
    first = next(rows, None)
    if first is None:
        raise ParseError("the file is empty")
    _, header = first
    columns = [_column_name(c) for c in header]
    named = [c for c in columns if c]
    known = set(fmt.columns) | set(other.columns)
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        raise ParseError(
            "the columns are separated by semicolons or tabs, not commas; "
            "save the spreadsheet as CSV UTF-8 (comma delimited)"
        )
    if not known & set(named):
        raise ParseError(
            f"the first line is not a header; it must name the columns, "
            f"for example: {','.join(fmt.required)}"
        )
    duplicates = sorted({c for c in named if named.count(c) > 1})
    if duplicates:
        raise ParseError(f"the header names the same column twice: {_listing(duplicates)}")

    mine = set(named) & (set(fmt.columns) - set(other.columns))
    theirs = set(named) & (set(other.columns) - set(fmt.columns))
    if len(theirs) > len(mine):
        raise ParseError(f"this looks like {other.name} CSV, not {fmt.name} CSV")

    problems = []
    unknown = [c for c in named if c not in fmt.columns]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        problems.append(f"unknown column{plural}: {_listing(unknown)}")
    missing = [c for c in fmt.required if c not in named]
    if fmt is DRUG_TEST and "collected_at" not in named and "collected_date" not in named:
        missing.insert(1, "collected_at (or collected_date and collected_time)")
    if missing:
        plural = "s" if len(missing) > 1 else ""
        problems.append(f"missing required column{plural}: {_listing(missing)}")
    for moment in ("collected", "called") if fmt is DRUG_TEST else ():
        at, day, clock = f"{moment}_at", f"{moment}_date", f"{moment}_time"
        if at in named and (day in named or clock in named):
            problems.append(f"give either {at} or {day} and {clock}, not both")
        elif clock in named and day not in named:
            problems.append(f"{clock} needs a {day} column")
    if problems:
        problems.append(f"{fmt.name} CSV has the columns: {_listing(list(fmt.columns))}")
        raise ParseError("; ".join(problems))

    body = []
    for row in rows:
        if len(body) == MAX_DATA_ROWS:
            raise ParseError(
                f"the file has more than {MAX_DATA_ROWS:,} rows; split it into smaller files"
            )
        body.append(row)
    if not body:
        raise ParseError("the file has a header but no rows")
    return _Table(columns, body)


def csv_kind(data: bytes) -> str | None:
    """The format a CSV header belongs to, "attendance" or "drug_test": whichever has
    more of its own columns there; None for neither. Lets an upload say what it is
    without being told; the parser then checks the header in full. ParseError when the
    file is not CSV text."""
    first = next(_rows(_decode(data)), None)
    if first is None:
        raise ParseError("the file is empty")
    cells = first[1]
    if len(cells) == 1:  # semicolons or tabs: the parser names that problem
        cells = re.split(r"[;\t]", cells[0])
    named = {_column_name(c) for c in cells}
    attendance = len(named & (set(ATTENDANCE.columns) - set(DRUG_TEST.columns)))
    drug_test = len(named & (set(DRUG_TEST.columns) - set(ATTENDANCE.columns)))
    if attendance == drug_test:
        return None
    return "attendance" if attendance > drug_test else "drug_test"


# --- one row's values ---------------------------------------------------------------


class _Bad:
    """A value that could not be read; its error is already recorded."""

    def __repr__(self) -> str:
        return "BAD"


BAD: Final = _Bad()

_TIME_24 = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_TIME_12 = re.compile(r"^(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([ap])\.?\s*m\.?$", re.IGNORECASE)
_INTEGER = re.compile(r"^[+-]?\d{1,9}(?:\.0*)?$")
_DECIMAL = re.compile(r"^\+?(?:\d{1,15}(?:\.\d{0,9})?|\.\d{1,9})$")
_NUMBER_INSIDE = re.compile(r"\d+(?:\.\d+)?")


def _parse_time(text: str) -> time:
    """'18:30', '18:30:00', '6:30 PM', '6 pm'. Raises ValueError."""
    match = _TIME_24.match(text)
    if match:
        hour, minute, second = (int(g or 0) for g in match.groups())
        return time(hour, minute, second)
    match = _TIME_12.match(text)
    if match:
        hour, minute, second = (int(g or 0) for g in match.groups()[:3])
        if not 1 <= hour <= 12:
            raise ValueError(text)
        hour = hour % 12 + (12 if match.group(4).lower() == "p" else 0)
        return time(hour, minute, second)
    raise ValueError(text)


def _parse_when(text: str) -> date | datetime:
    """A date (ISO or M/D/YYYY) or a date and time ('2026-03-03T18:00', '3/3/2026 6:00 PM',
    with or without a UTC offset). Raises ValueError."""
    try:
        return parse_date_text(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    day, _, clock = text.partition(" ")
    if not clock:
        raise ValueError(text)
    return datetime.combine(parse_date_text(day), _parse_time(clock.strip()))


def _show(value: object) -> str:
    if value is None or value == "":
        return "(blank)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


class _Reader:
    """Reads typed values out of rows, recording every problem as a RowError.

    Holds per-file caches: a drug-test file repeats each specimen's dates on every
    analyte row, so each distinct text is parsed and localised once."""

    def __init__(self, columns: list[str], tz: ZoneInfo, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.columns = columns
        self.named = [(i, c) for i, c in enumerate(columns) if c]
        self.unnamed = [i for i, c in enumerate(columns) if not c]
        self.present = set(columns)
        self.tz = tz
        self.now = now
        self.errors: list[RowError] = []
        self._when_cache: dict[str, date | datetime | None] = {}
        self._time_cache: dict[str, time | None] = {}
        self._local_cache: dict[datetime, datetime | None] = {}

    # rows

    def start(self, line: int, cells: list[str]) -> _Row | None:
        """The row's values by column, or None (with an error) when its cells don't fit
        the header: an unquoted comma has shifted them, and every check would mislead."""
        width = len(self.columns)
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            extra = next(i for i in range(width, len(cells)) if cells[i].strip())
            self.errors.append(
                RowError(
                    f"line {line}",
                    f"column {extra + 1}",
                    f"has a value ({cells[extra].strip()!r}) but the header names only "
                    f"{width} columns; put quotes around a value that contains a comma",
                )
            )
            return None
        if len(cells) == width and not self.unnamed:  # the usual case, kept fast
            return _Row(line, dict(zip(self.columns, map(str.strip, cells), strict=True)))
        row = _Row(line, {c: cells[i].strip() for i, c in self.named if i < len(cells)})
        for i in self.unnamed:
            if i < len(cells) and cells[i].strip():
                self.error(row, f"column {i + 1}", "has a value but no column name in the header")
        return row

    def error(self, row: _Row, name: str, reason: str) -> None:
        row.failed = True
        self.errors.append(RowError(f"line {row.line}", name, reason))

    # typed values

    def text(self, row: _Row, name: str, *, required: bool = False) -> str:
        value = row.values.get(name, "")
        if not value:
            if required:
                self.error(row, name, "is required")
            return ""
        limit = MAX_LENGTHS.get(name, MAX_FREE_TEXT)
        if len(value) > limit:
            self.error(row, name, f"is longer than {limit} characters")
        if "\r" in value:  # a line break inside a quoted spreadsheet cell
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return value

    def choice(
        self, row: _Row, name: str, table: Mapping[str, E], *, default: E | None = None
    ) -> E | _Bad | None:
        value = row.values.get(name, "")
        if not value:
            return default
        found = table.get(value) or table.get(_token(value))
        if found is None:
            allowed = ", ".join(dict.fromkeys(str(m.value) for m in table.values()))
            self.error(row, name, f"{value!r} is not one of: {allowed}")
            return BAD
        return found

    def boolean(self, row: _Row, name: str) -> bool | _Bad:
        value = row.values.get(name, "")
        if not value:
            return False
        found = BOOLEANS.get(value.lower())
        if found is None:
            self.error(row, name, f"{value!r} is not yes or no")
            return BAD
        return found

    def integer(
        self, row: _Row, name: str, *, required: bool, minimum: int, maximum: int | None
    ) -> int | _Bad | None:
        value = row.values.get(name, "")
        if not value:
            if required:
                self.error(row, name, "is required")
                return BAD
            return None
        if not _INTEGER.match(value):
            self.error(row, name, f"{value!r} is not a whole number")
            return BAD
        number = int(value.split(".")[0])
        if number < minimum:
            self.error(row, name, f"must be at least {minimum}")
            return BAD
        if maximum is not None and number > maximum:
            self.error(row, name, f"must be at most {maximum}")
            return BAD
        return number

    def decimal(self, row: _Row, name: str) -> Decimal | _Bad | None:
        value = row.values.get(name, "")
        if not value:
            return None
        if not _DECIMAL.match(value):
            if value.startswith("-") and _DECIMAL.match(value[1:]):
                self.error(row, name, f"{value!r} is negative; it must be 0 or more")
                return BAD
            number = _NUMBER_INSIDE.search(value)
            hint = ""
            if number and value[:1] in "<>":
                hint = (
                    f"; give the number alone ({number.group()}) and put "
                    f"{value[:1]!r} in the comment"
                )
            self.error(row, name, f"{value!r} is not a number{hint}")
            return BAD
        number = Decimal(value)
        limit = DECIMAL_LIMITS[name]
        if number > limit:
            self.error(row, name, f"must be at most {limit}")
            return BAD
        return number

    def birth_date(self, row: _Row, name: str) -> date | _Bad | None:
        """A date of birth: a date alone, not in the future, not before 1900."""
        value = row.values.get(name, "")
        if not value:
            return None
        try:
            born = parse_date_text(value)
        except ValueError:
            self.error(row, name, f"{value!r} is not a date (use YYYY-MM-DD or M/D/YYYY)")
            return BAD
        if born.year < EARLIEST_YEAR:
            self.error(row, name, f"{born.isoformat()} is too far in the past")
            return BAD
        if born > self.now.astimezone(self.tz).date():
            self.error(row, name, f"{born.isoformat()} is in the future")
            return BAD
        return born

    def moment(
        self,
        row: _Row,
        day_column: str,
        time_column: str | None,
        *,
        required: bool,
        date_only: bool = False,
        missing: str = "is required",
    ) -> datetime | _Bad | None:
        """An aware datetime from a date-or-datetime column and an optional time column.

        A naive time is local to the program's zone: a time the clocks skip is an error,
        a time they repeat takes its first occurrence. ``date_only`` accepts a bare date
        as the start of that day."""
        day_text = row.values.get(day_column, "")
        time_text = row.values.get(time_column, "") if time_column else ""
        if not day_text:
            if time_text:
                self.error(row, day_column, f"is required when {time_column} is given")
                return BAD
            if required:
                self.error(row, day_column, missing)
                return BAD
            return None
        when = self._when(day_text)
        if when is None:
            self.error(
                row,
                day_column,
                f"{day_text!r} is not a date (use YYYY-MM-DD or M/D/YYYY, optionally "
                "followed by a time)",
            )
            return BAD
        clock_column = day_column  # where the wall-clock time came from
        clock = self._time(time_text) if time_text else None
        if time_text and clock is None:
            self.error(
                row,
                time_column or day_column,
                f"{time_text!r} is not a time (use HH:MM, 24-hour, or h:MM AM/PM)",
            )
            return BAD
        if isinstance(when, datetime):
            if clock is not None and clock != when.time():
                self.error(
                    row,
                    time_column or day_column,
                    f"{time_text!r} disagrees with the time in {day_column} ({day_text!r})",
                )
                return BAD
        else:
            if clock is not None:
                clock_column = time_column or day_column
            elif date_only:
                clock = time(0, 0)
            elif time_column is None:
                self.error(
                    row,
                    day_column,
                    f"{day_text!r} has no time; give the date and time, e.g. 2026-03-03 18:00",
                )
                return BAD
            elif time_column in self.present:
                self.error(row, time_column, "is required")
                return BAD
            else:
                self.error(
                    row,
                    time_column,
                    f"is required: add a {time_column} column or give {day_column} as a date "
                    "and time, e.g. 2026-03-03 18:00",
                )
                return BAD
            when = datetime.combine(when, clock)
        return self._check_moment(row, day_column, clock_column, when)

    def _check_moment(
        self, row: _Row, name: str, clock_column: str, when: datetime
    ) -> datetime | _Bad:
        if when.year < EARLIEST_YEAR:
            self.error(row, name, f"{when.date().isoformat()} is too far in the past")
            return BAD
        if when.year > self.now.year + 1:
            self.error(row, name, f"{when.strftime('%Y-%m-%d %H:%M')} is in the future")
            return BAD
        if when.tzinfo is None:
            aware = self._localize(when)
            if aware is None:
                self.error(
                    row,
                    clock_column,
                    f"{when.strftime('%Y-%m-%d %H:%M')} does not exist in {self.tz.key}: "
                    "the clocks skip that hour for daylight saving time",
                )
                return BAD
        else:
            aware = when.astimezone(self.tz)
        if aware > self.now:
            self.error(row, name, f"{aware.strftime('%Y-%m-%d %H:%M')} is in the future")
            return BAD
        return aware

    def _when(self, text: str) -> date | datetime | None:
        try:
            return self._when_cache[text]
        except KeyError:
            pass
        try:
            when: date | datetime | None = _parse_when(text)
        except (ValueError, OverflowError):
            when = None
        self._when_cache[text] = when
        return when

    def _time(self, text: str) -> time | None:
        try:
            return self._time_cache[text]
        except KeyError:
            pass
        try:
            clock: time | None = _parse_time(text)
        except ValueError:
            clock = None
        self._time_cache[text] = clock
        return clock

    def _localize(self, naive: datetime) -> datetime | None:
        """validation.localize, once per distinct wall time: None for a time the clocks
        skip; a repeated time (autumn) takes its first occurrence."""
        try:
            return self._local_cache[naive]
        except KeyError:
            pass
        aware = localize(naive, self.tz)
        self._local_cache[naive] = aware
        return aware


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    failed: bool = False

    @property
    def location(self) -> str:
        return f"line {self.line}"


def _ok(*values: object) -> bool:
    return not any(v is BAD for v in values)


# --- attendance ---------------------------------------------------------------------


def parse_attendance_csv(
    data: bytes, *, tz: ZoneInfo, now: datetime
) -> ParseResult[AttendanceRecord]:
    """One AttendanceRecord per row without errors; a RowError per problem."""
    table = _read(data, ATTENDANCE, DRUG_TEST)
    reader = _Reader(table.columns, tz, now)
    records: list[AttendanceRecord] = []
    for line, cells in table.rows:
        row = reader.start(line, cells)
        if row is not None:
            record = _attendance(reader, row)
            if record is not None and not row.failed:
                records.append(record)
    return ParseResult(records, reader.errors)


def _attendance(reader: _Reader, row: _Row) -> AttendanceRecord | None:
    client_id = reader.text(row, "client_id", required=True)
    occurred_at = reader.moment(row, "date", "start_time", required=True)
    session_type = reader.choice(row, "session_type", SESSION_TYPES)
    if session_type is None:
        reader.error(row, "session_type", "is required")
    scheduled = reader.integer(
        row, "scheduled_minutes", required=True, minimum=1, maximum=MAX_SESSION_MINUTES
    )
    status = reader.choice(row, "status", ATTENDANCE_STATUSES)
    if status is None:
        reader.error(row, "status", "is required")
    minutes = _minutes_attended(reader, row, status, scheduled)
    title = reader.text(row, "session_title")
    meeting = reader.text(row, "meeting_name")
    proof = reader.text(row, "proof")
    note = reader.text(row, "note")
    if session_type is SessionType.twelve_step and not proof:
        reader.error(
            row,
            "proof",
            "is required for a twelve_step (outside) meeting: describe the proof, "
            "e.g. signed attendance slip",
        )
    if not isinstance(occurred_at, datetime) or not isinstance(session_type, SessionType):
        return None
    if not isinstance(status, AttendanceStatus) or not isinstance(scheduled, int):
        return None
    if not isinstance(minutes, int):
        return None
    return AttendanceRecord(
        location=row.location,
        client_id=client_id,
        session_type=session_type,
        occurred_at=occurred_at,
        scheduled_minutes=scheduled,
        status=status,
        minutes_attended=minutes,
        session_title=title,
        meeting_name=meeting,
        proof=proof,
        note=note,
    )


def _minutes_attended(
    reader: _Reader, row: _Row, status: object, scheduled: object
) -> int | _Bad | None:
    """The file's minutes attended, judged by the one rule pages and the API use
    (compliance.records.attendance.judge_minutes): present is the whole session, absences
    none; late and left early must have missed some minutes, and not all of them."""
    name = "minutes_attended"
    if not isinstance(status, AttendanceStatus):
        return None
    limit = scheduled if isinstance(scheduled, int) else None
    given = reader.integer(row, name, required=status in PARTIAL, minimum=0, maximum=limit)
    if given is BAD or limit is None:
        return given
    assert given is None or isinstance(given, int)
    minutes, problems = judge_minutes(status, limit, attended=given)
    for problem in problems:
        reader.error(row, problem.field, problem.reason)
    return BAD if problems else minutes.attended


# --- drug tests ---------------------------------------------------------------------


@dataclass
class _Specimen:
    line: int
    fields: dict[str, Any]  # specimen-level values as the first row gave them
    failed: bool = False
    analyte_rows: int = 0  # rows that named an analyte, readable or not
    seen: dict[str, int] = field(default_factory=dict)  # analyte key -> line
    results: list[AnalyteRecord] = field(default_factory=list)


def parse_drug_test_csv(
    data: bytes, *, lookup: AnalyteLookup, tz: ZoneInfo, now: datetime
) -> ParseResult[DrugTestRecord]:
    """One DrugTestRecord per specimen: rows are grouped by (client_id, accession_id),
    or by (client_id, collected_at) when accession_id is blank."""
    table = _read(data, DRUG_TEST, ATTENDANCE)
    reader = _Reader(table.columns, tz, now)
    names = _DrugColumns(reader.present)
    keys: dict[str, str | None] = {}
    specimens: dict[tuple[object, ...], _Specimen] = {}
    # A lab repeats a specimen's columns on each of its analyte rows: when they are the
    # same text as the row before, and that row read them without error, reuse its values.
    last: tuple[tuple[str | None, ...], dict[str, Any]] | None = None
    for line, cells in table.rows:
        row = reader.start(line, cells)
        if row is None:
            continue
        raw = tuple(map(row.values.get, SPECIMEN_COLUMNS))
        if last is not None and last[0] == raw:
            values = last[1]
        else:
            before = len(reader.errors)
            values = _specimen_fields(reader, row, names)
            last = (raw, values) if len(reader.errors) == before else None
        result = _analyte(reader, row, values["collection_status"], lookup, keys)
        key = _specimen_key(values)
        if key is None:
            continue
        specimen = specimens.get(key)
        if specimen is None:
            specimen = specimens[key] = _Specimen(line, values)
        else:
            _compare(reader, row, specimen, values, names)
        if row.values.get("analyte"):
            specimen.analyte_rows += 1
        if isinstance(result, AnalyteRecord):
            first = specimen.seen.setdefault(result.analyte_key, line)
            if first != line:
                reader.error(
                    row,
                    "analyte",
                    f"{result.code} is already reported for this specimen on line {first}",
                )
            specimen.results.append(result)
        specimen.failed = specimen.failed or row.failed

    records = []
    for specimen in specimens.values():
        status = specimen.fields["collection_status"]
        if status in NEEDS_ANALYTES and not specimen.analyte_rows:
            reader.errors.append(
                RowError(
                    f"line {specimen.line}",
                    "analyte",
                    "a collected specimen needs at least one analyte result row",
                )
            )
            continue
        if not specimen.failed:
            records.append(_identified(_drug_test(specimen), specimen.fields))
    reader.errors.sort(key=lambda e: int(e.location.split()[1]))
    return ParseResult(records, reader.errors)


class _DrugColumns:
    """Which columns this file uses for the collection and call times."""

    def __init__(self, present: set[str]) -> None:
        if "collected_at" in present:
            self.collected: tuple[str, str | None] = ("collected_at", None)
        else:
            self.collected = ("collected_date", "collected_time")
        if "called_date" in present:
            self.called: tuple[str, str | None] = ("called_date", "called_time")
        else:
            self.called = ("called_at", None)


def _specimen_fields(reader: _Reader, row: _Row, names: _DrugColumns) -> dict[str, Any]:
    status = reader.choice(
        row, "collection_status", COLLECTION_STATUSES, default=CollectionStatus.collected
    )
    no_specimen = NO_SPECIMEN.get(status) if isinstance(status, CollectionStatus) else None
    collected_day, collected_time = names.collected
    called_day, called_time = names.called
    collected_at = reader.moment(
        row,
        collected_day,
        collected_time,
        required=status in NEEDS_ANALYTES
        or (isinstance(status, CollectionStatus) and status not in NO_SPECIMEN),
    )
    if status is CollectionStatus.no_show and isinstance(collected_at, datetime):
        reader.error(
            row,
            collected_day,
            "must be blank for a no-show (nothing was collected); "
            f"put when the client was called in {called_day}",
        )
        collected_at = BAD
    called_at = reader.moment(
        row,
        called_day,
        called_time,
        required=no_specimen is not None,
        date_only=True,
        missing=f"is required for a {no_specimen}: when was the client called to test?",
    )
    reported_at = reader.moment(row, "result_reported_at", None, required=False)
    if isinstance(collected_at, datetime):
        early = collection_before_call(
            called_at if isinstance(called_at, datetime) else None, collected_at, reader.tz
        )
        if early:
            reader.error(row, collected_day, early)
        if isinstance(reported_at, datetime) and reported_at < collected_at:
            reader.error(row, "result_reported_at", f"is before {collected_day}")
    values: dict[str, Any] = {
        "client_id": reader.text(row, "client_id", required=True),
        "collected_at": collected_at,
        "collection_status": status,
        "called_at": called_at,
        "specimen_type": reader.choice(
            row, "specimen_type", SPECIMEN_TYPES, default=SpecimenType.urine
        ),
        "observed": reader.boolean(row, "observed"),
        "reason": reader.choice(row, "reason", TEST_REASONS, default=TestReason.random),
        "lab_name": reader.text(row, "lab_name"),
        "accession_id": reader.text(row, "accession_id"),
        "chain_of_custody_id": reader.text(row, "chain_of_custody_id"),
        "result_reported_at": reported_at,
        "creatinine_mg_dl": reader.decimal(row, "creatinine_mg_dl"),
        "specific_gravity": reader.decimal(row, "specific_gravity"),
        "ph": reader.decimal(row, "ph"),
        "notes": reader.text(row, "notes"),
        "last_name": reader.text(row, "last_name"),
        "first_name": reader.text(row, "first_name"),
        "date_of_birth": reader.birth_date(row, "date_of_birth"),
    }
    if no_specimen is not None:
        for name in ("creatinine_mg_dl", "specific_gravity", "ph"):
            if row.values.get(name):
                reader.error(row, name, f"must be blank for a {no_specimen} (there is no specimen)")
    return values


def _specimen_key(values: Mapping[str, Any]) -> tuple[object, ...] | None:
    client_id = values["client_id"]
    if not client_id:
        return None
    if values["accession_id"]:
        return (client_id, "accession", values["accession_id"])
    collected_at, called_at = values["collected_at"], values["called_at"]
    if collected_at is BAD or (collected_at is None and called_at in (None, BAD)):
        return None
    if collected_at is None:
        return (client_id, "called", called_at)
    return (client_id, "collected", collected_at)


def _compare(
    reader: _Reader,
    row: _Row,
    specimen: _Specimen,
    values: Mapping[str, Any],
    names: _DrugColumns,
) -> None:
    status = specimen.fields["collection_status"]
    if values is specimen.fields and status not in NO_SPECIMEN:
        return
    if status in NO_SPECIMEN and values["collection_status"] is status:
        reader.error(
            row,
            "collection_status",
            f"repeats the {NO_SPECIMEN[status]} on line {specimen.line}; "
            f"a {NO_SPECIMEN[status]} is a single row",
        )
        return
    for name, first in specimen.fields.items():
        value = values[name]
        if value is BAD or first is BAD or value == first:
            continue
        column = name
        if name == "collected_at":
            column = names.collected[0]
        elif name == "called_at":
            column = names.called[0]
        reader.error(
            row,
            column,
            f"disagrees with line {specimen.line} for the same specimen "
            f"({_show(first)} there, {_show(value)} here)",
        )


def _analyte(
    reader: _Reader,
    row: _Row,
    status: object,
    lookup: AnalyteLookup,
    keys: dict[str, str | None],
) -> AnalyteRecord | None:
    code = reader.text(row, "analyte")
    given = [c for c in ANALYTE_COLUMNS if row.values.get(c)]
    if not given:
        return None
    no_specimen = NO_SPECIMEN.get(status) if isinstance(status, CollectionStatus) else None
    if no_specimen is not None:
        for name in given:
            reader.error(row, name, f"must be blank for a {no_specimen} (there is no specimen)")
        return None
    if not code:
        reader.error(row, "analyte", f"is required when {_listing(given)} is given")
        return None
    if code not in keys:
        keys[code] = lookup("", code)
    key = keys[code]
    if key is None:
        reader.error(
            row,
            "analyte",
            f"{code!r} is not a known analyte code; check the spelling or add the code "
            "to the program's analytes",
        )
    elif key in VALIDITY_KEYS:
        reader.error(
            row,
            "analyte",
            f"{code!r} is a specimen-validity test, not a drug; put its value in the "
            f"{key}{'_mg_dl' if key == 'creatinine' else ''} column or the notes",
        )
        key = None
    screen = reader.choice(row, "screen_result", OUTCOMES)
    if screen is None:
        reader.error(row, "screen_result", "is required when analyte is given")
    confirmation = reader.choice(row, "confirmation_result", OUTCOMES)
    mro = reader.choice(row, "mro_result", OUTCOMES)
    screen_cutoff = reader.decimal(row, "screen_cutoff_ng_ml")
    confirmation_cutoff = reader.decimal(row, "confirmation_cutoff_ng_ml")
    level = reader.decimal(row, "level_ng_ml")
    texts = {
        name: reader.text(row, name)
        for name in ("screen_method", "confirmation_method", "mro_comment", "comment")
    }
    if key is None or not isinstance(screen, AnalyteOutcome):
        return None
    if not _ok(confirmation, mro, screen_cutoff, confirmation_cutoff, level):
        return None
    return AnalyteRecord(
        analyte_key=key,
        code=code,
        coding_system="",
        name=code,
        screen_result=screen,
        screen_cutoff_ng_ml=screen_cutoff,
        confirmation_result=confirmation,
        confirmation_cutoff_ng_ml=confirmation_cutoff,
        level_ng_ml=level,
        mro_result=mro,
        **texts,
    )


def _drug_test(specimen: _Specimen) -> DrugTestRecord:
    f = specimen.fields
    # The status the file states; whether the figures make the specimen dilute is the
    # program's decision, taken when the file is matched (compliance.engine.specimen_validity).
    return DrugTestRecord(
        location=f"line {specimen.line}",
        client_id=f["client_id"],
        collected_at=f["collected_at"],
        collection_status=f["collection_status"],
        specimen_type=f["specimen_type"],
        observed=f["observed"],
        reason=f["reason"],
        called_at=f["called_at"],
        lab_name=f["lab_name"],
        accession_id=f["accession_id"],
        chain_of_custody_id=f["chain_of_custody_id"],
        result_reported_at=f["result_reported_at"],
        creatinine_mg_dl=f["creatinine_mg_dl"],
        specific_gravity=f["specific_gravity"],
        ph=f["ph"],
        notes=f["notes"],
        results=tuple(specimen.results),
    )


def _identified(record: DrugTestRecord, fields: Mapping[str, Any]) -> DrugTestRecord:
    """The record with the name and date of birth the file gives, for the identity check
    (the columns are optional; blank is "not given")."""
    born = fields["date_of_birth"]
    return replace(
        record,
        last_name=fields["last_name"],
        first_name=fields["first_name"],
        date_of_birth=born if isinstance(born, date) else None,
    )
