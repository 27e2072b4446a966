"""The validated records parsers produce, and the errors they report.

Parsers never touch the database. Every record carries where it came from
(``location``: "line 7", "message 3, OBX segment 4 (line 19)") so a later stage (an
unknown client id, a duplicate) can point at the same place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from compliance.core.vocabulary import (
    AnalyteOutcome,
    AttendanceStatus,
    CollectionStatus,
    SessionType,
    SpecimenType,
    TestReason,
)

T = TypeVar("T")

# Keys the analyte lookup may return for specimen-validity observations rather than drugs.
VALIDITY_KEYS = ("creatinine", "specific_gravity", "ph", "oxidants", "nitrite")


@dataclass(frozen=True)
class RowError:
    location: str  # "line 7" or "message 2, OBX segment 3 (line 14)"
    field: str  # column name or HL7 field, e.g. "collected_at", "OBX-3"
    reason: str  # a sentence a clinician understands


@dataclass(frozen=True)
class AnalyteRecord:
    analyte_key: str  # from the program's analyte table, e.g. "thc"
    code: str  # the code as the file gave it, e.g. "COC" or "3426-4"
    coding_system: str  # "LN", "L", a lab's name, or "" for CSV
    name: str
    screen_result: AnalyteOutcome
    screen_method: str = ""
    screen_cutoff_ng_ml: Decimal | None = None
    confirmation_result: AnalyteOutcome | None = None
    confirmation_method: str = ""
    confirmation_cutoff_ng_ml: Decimal | None = None
    level_ng_ml: Decimal | None = None
    units: str = "ng/mL"
    reference_range: str = ""
    abnormal_flag: str = ""
    mro_result: AnalyteOutcome | None = None
    mro_comment: str = ""
    comment: str = ""


@dataclass(frozen=True)
class DrugTestRecord:
    location: str
    client_id: str
    collected_at: datetime | None  # timezone-aware; None for a no-show
    collection_status: CollectionStatus
    specimen_type: SpecimenType = SpecimenType.urine
    observed: bool = False
    reason: TestReason = TestReason.random
    called_at: datetime | None = None
    lab_name: str = ""
    accession_id: str = ""
    chain_of_custody_id: str = ""
    result_reported_at: datetime | None = None
    creatinine_mg_dl: Decimal | None = None
    specific_gravity: Decimal | None = None
    ph: Decimal | None = None
    oxidants: str = ""  # the lab's oxidant (adulterant) result: "", "negative" or "positive"
    nitrite: str = ""  # likewise for nitrite
    # ``collection_status`` is what the file states (a lab's own "dilute"); whether the
    # figures make the specimen dilute is decided with the program's policy when the
    # file is matched (compliance.engine.specimen_validity), not by the parser.
    validity_note: str = ""
    notes: str = ""
    corrected: bool = False  # the lab marked it a correction (HL7 OBX-11 = C)
    results: tuple[AnalyteRecord, ...] = ()
    # Who the lab says the specimen is from (HL7 PID-5/PID-7, CSV columns when present);
    # checked against the client's record before anything is stored.
    last_name: str = ""
    first_name: str = ""
    date_of_birth: date | None = None


@dataclass(frozen=True)
class AttendanceRecord:
    location: str
    client_id: str
    session_type: SessionType
    occurred_at: datetime  # timezone-aware
    scheduled_minutes: int
    status: AttendanceStatus
    minutes_attended: int
    session_title: str = ""
    meeting_name: str = ""  # outside meetings (12-step)
    proof: str = ""
    note: str = ""


@dataclass
class ParseResult(Generic[T]):
    records: list[T] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class AnalyteLookup(Protocol):
    def __call__(self, coding_system: str, code: str) -> str | None:
        """The analyte key (or a VALIDITY_KEYS entry) for a lab code, or None if unknown."""
        ...


class ParseError(Exception):
    """The file as a whole cannot be read (binary, wrong kind, empty)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
