"""File imports: parse, match against the database, preview, then commit atomically.

``preview`` stores an ``import_batch`` row and, beside it in the database, the uploaded
file (``staged_upload``: any instance may take the commit), and says what would be
created, corrected, skipped as duplicate or rejected. ``commit`` parses the stored file
again, matches it against the database as it is *now*, and writes every row or none in
one transaction, which also removes the staged file (as does a rejection); a file never
committed is removed after ``STAGED_FOR`` by a periodic job. A file with any error
is rejected whole. The kind of file need not be given: ``detect_kind`` reads it from the
file (an MSH segment, or the CSV header's columns); when given, it is checked.
``batch_view`` is what the pages show of a batch afterwards, written nowhere.

A lab result whose name or date of birth is not the client record's (the identity
check, ``_check_identities``) is shown in the preview and held: ``commit`` stores
nothing while any such row lacks a clinician's confirmation (``confirm_identity``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.validation import FieldError, Form, InvalidInput, clean_filename, fit_decimal
from compliance.core.vocabulary import (
    CollectionStatus,
    ImportKind,
    ImportStatus,
    RecordSource,
    SessionType,
    SpecimenType,
    TestReason,
)
from compliance.engine import specimen_validity, violations
from compliance.engine.specimen_validity import Thresholds
from compliance.intake import import_words as words
from compliance.intake.csv_files import csv_kind, parse_attendance_csv, parse_drug_test_csv
from compliance.intake.hl7 import parse_hl7_results
from compliance.intake.identity import CSV_FIELDS, HL7_FIELDS, IdentityMismatch, check_identity
from compliance.intake.records import (
    AttendanceRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)
from compliance.records import attendance, drug_tests
from compliance.records.analytes import VALIDITY_CODES
from compliance.records.drug_tests import NUMERIC_DIGITS, collection_before_call
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    Analyte,
    AnalyteCode,
    AnalyteResult,
    Attendance,
    DrugTest,
    ImportBatch,
    Participant,
    Program,
    StaffUser,
    StagedUpload,
)

MAX_IMPORT_BYTES = 32 * 1024 * 1024
MAX_ERRORS_SHOWN = 500
# How long a previewed file waits for its commit (identity confirmations may take a
# clinician a few days); then the periodic job removes it and the batch asks for the
# file again.
STAGED_FOR = timedelta(days=7)
NOT_KEPT = "the uploaded file is no longer kept; upload it again"


# What each kind is called in a sentence, and what an upload may be.
KIND_NAMES = {
    ImportKind.attendance_csv: "an attendance CSV",
    ImportKind.drug_test_csv: "a drug-test CSV",
    ImportKind.hl7_oru: "an HL7 lab results file",
}
EXPECTED = (
    "a file to import must be an attendance CSV (its header names columns such as "
    "client_id, date, start_time, session_type, scheduled_minutes, status), a drug-test CSV "
    "(client_id, collected_at, analyte, screen_result) or a lab's HL7 results file "
    "(ORU^R01 messages, starting with an MSH segment)"
)
# HL7: the first segment (after a byte-order mark or MLLP framing) is a file, batch or
# message header; or an MSH segment starts a line further on.
_HL7_START = re.compile(rb"(?:\xef\xbb\xbf)?[\s\x0b\x1c]*(?:MSH|FHS|BHS)[^A-Za-z0-9\s]")
_HL7_MSH = re.compile(rb"[\r\n\x0b]MSH\|")
CSV_KINDS = {"attendance": ImportKind.attendance_csv, "drug_test": ImportKind.drug_test_csv}


@dataclass
class RowAction:
    location: str
    action: str  # "create", "correct", "duplicate"
    client_id: str
    summary: str  # when and what, in one line
    participant_id: int
    name: str  # the participant as staff know them
    when: str  # on the program's clock
    what: str  # the specimen and results, or the session and how the client attended
    was: str = ""  # a correction: what the stored version says
    # Lab results: the file's name or date of birth that is not the client record's
    # (held until a clinician confirms the row), and what could not be compared.
    identity: list[IdentityMismatch] = field(default_factory=list)
    identity_unchecked: list[str] = field(default_factory=list)
    identity_confirmed: IdentityConfirmation | None = None


@dataclass
class IdentityConfirmation:
    """A clinician's word that a row's results are the client's although the file's
    name or date of birth differs from the record."""

    reason: str
    confirmed_by: str  # the clinician's name
    confirmed_at: str  # on the program's clock


@dataclass
class ImportOutcome:
    batch_id: int
    kind: str | None  # None: the file is none of the kinds
    filename: str
    status: str  # "previewed", "committed", "rejected"
    created: int = 0
    corrected: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: list[RowAction] = field(default_factory=list)
    # Rows whose name or date of birth differs from the client's record and that no
    # clinician has confirmed yet: while any remain, commit stores nothing.
    unconfirmed: int = 0


@dataclass
class _Plan:
    """What committing would do; built from the records and the database's current state."""

    creates: list[tuple[Any, int]] = field(default_factory=list)  # (record, participant id)
    corrections: list[tuple[DrugTestRecord, dict[str, Any]]] = field(default_factory=list)
    # A correction's new version (values, analyte rows) by the stored test's id: the
    # stored version with what the lab's corrected report changes (drug_tests.lab_correction).
    versions: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)
    # A new test's values and analyte rows by the record's location, made once when
    # planned and written as they were shown.
    prepared: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)
    rows: list[RowAction] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    duplicates: int = 0


# --- lookups ------------------------------------------------------------------------


async def analyte_lookup(program_id: int) -> tuple[Callable[[str, str], str | None], dict]:
    """The program's code table as the parsers' lookup, plus analyte rows by key."""
    analytes = {a["id"]: a for a in await Analyte.select().where(Analyte.program == program_id)}
    by_key = {a["key"]: a for a in analytes.values()}
    exact: dict[tuple[str, str], str] = {}
    any_system: dict[str, str] = {}
    for c in await AnalyteCode.select().where(AnalyteCode.program == program_id):
        key = analytes[c["analyte"]]["key"]
        exact[(c["coding_system"].upper(), c["code"].upper())] = key
        any_system.setdefault(c["code"].upper(), key)

    def lookup(system: str, code: str) -> str | None:
        system, code = system.strip().upper(), code.strip().upper()
        if (system, code) in exact:
            return exact[(system, code)]
        if (system, code) in VALIDITY_CODES:
            return VALIDITY_CODES[(system, code)]
        if system in ("LN", "LOINC"):
            return None  # a LOINC code must be mapped explicitly
        return (
            any_system.get(code)
            or VALIDITY_CODES.get(("", code))
            or (code.lower() if code.lower() in by_key else None)
        )

    return lookup, by_key


# --- parsing ------------------------------------------------------------------------


async def _parse(
    kind: ImportKind, data: bytes, program_id: int, tz: ZoneInfo
) -> tuple[ParseResult, dict]:
    now = datetime.now(UTC)
    lookup, analytes = await analyte_lookup(program_id)
    if kind is ImportKind.attendance_csv:
        return await asyncio.to_thread(parse_attendance_csv, data, tz=tz, now=now), analytes
    if kind is ImportKind.drug_test_csv:
        result = await asyncio.to_thread(parse_drug_test_csv, data, lookup=lookup, tz=tz, now=now)
        return result, analytes
    return await asyncio.to_thread(parse_hl7_results, data, lookup=lookup, tz=tz, now=now), analytes


def detect_kind(data: bytes) -> ImportKind:
    """What the file is, from its first segment or its CSV header. ParseError, naming
    what an import may be, when it is none of them."""
    if _HL7_START.match(data[:1024]) or _HL7_MSH.search(data[:65536]):
        return ImportKind.hl7_oru
    try:
        found = csv_kind(data)
    except ParseError as exc:
        raise ParseError(f"{exc.reason}; {EXPECTED}") from None
    if found is None:
        raise ParseError(f"the first line names none of the columns we know; {EXPECTED}")
    return CSV_KINDS[found]


def _checked_kind(given: ImportKind | None, data: bytes) -> tuple[ImportKind | None, str]:
    """The kind to read the file as, or why it cannot be read ("" to go on)."""
    try:
        found = detect_kind(data)
    except ParseError as exc:
        # Told the kind, its parser says best what is wrong with the file.
        return (given, "") if given is not None else (None, exc.reason)
    if given is not None and found is not given:
        return given, (
            f"this is {KIND_NAMES[found]}, not {KIND_NAMES[given]}; choose that kind, "
            "or leave the kind out and it is recognized from the file"
        )
    return found, ""


# --- drug tests ---------------------------------------------------------------------


def _fit(name: str, value: Decimal | None) -> Decimal | None:
    return fit_decimal(value, NUMERIC_DIGITS[name])


def _record_problems(r: DrugTestRecord) -> list[RowError]:
    """What the database could not store as given: numbers beyond a column's range,
    identifiers longer than their column."""
    problems = []
    # Each number once (each analyte's were checked again for every later analyte).
    numbers = [
        ("creatinine_mg_dl", r.creatinine_mg_dl),
        ("specific_gravity", r.specific_gravity),
        ("ph", r.ph),
    ]
    for a in r.results:
        numbers += [
            ("screen_cutoff_ng_ml", a.screen_cutoff_ng_ml),
            ("level_ng_ml", a.level_ng_ml),
            ("confirmation_cutoff_ng_ml", a.confirmation_cutoff_ng_ml),
        ]
    for name, value in numbers:
        if value is None:
            continue
        try:
            _fit(name, value)
        except ValueError:
            problems.append(RowError(r.location, name, f"{value} is out of range"))
    for name, value, limit in (
        ("accession_id", r.accession_id, 80),
        ("chain_of_custody_id", r.chain_of_custody_id, 80),
    ):
        if len(value) > limit:
            problems.append(RowError(r.location, name, f"is longer than {limit} characters"))
    return problems


def _participant(r: Any, people: dict[str, dict], plan: _Plan) -> dict | None:
    """The record's participant by client id, or None with the error added to the plan."""
    person = people.get(r.client_id)
    if person is None:
        plan.errors.append(
            RowError(
                r.location,
                "client_id",
                f"no participant with client id {r.client_id!r} in this program",
            )
        )
    return person


def _test_values(r: DrugTestRecord) -> dict[str, Any]:
    return {
        "called_at": r.called_at,
        "collected_at": r.collected_at,
        "specimen_type": r.specimen_type.value,
        "observed": r.observed,
        "reason": r.reason.value,
        "collection_status": r.collection_status.value,
        "lab_name": r.lab_name[:200],
        "accession_id": r.accession_id,
        "chain_of_custody_id": r.chain_of_custody_id,
        "result_reported_at": r.result_reported_at,
        "creatinine_mg_dl": _fit("creatinine_mg_dl", r.creatinine_mg_dl),
        "specific_gravity": _fit("specific_gravity", r.specific_gravity),
        "ph": _fit("ph", r.ph),
        "oxidants": r.oxidants,
        "nitrite": r.nitrite,
        "validity_note": r.validity_note,
        "notes": r.notes,
    }


# What a message that names no specimen, reason or observation reads as: not "given".
_UNSAID = {
    "specimen_type": SpecimenType.urine.value,
    "reason": TestReason.random.value,
    "observed": False,
    "collection_status": CollectionStatus.collected.value,
}


def _given_values(r: DrugTestRecord) -> dict[str, Any]:
    """What a lab's corrected report says of the test itself: values it leaves empty,
    and the defaults a message naming none reads as, are left out, so the stored ones
    stay (drug_tests.lab_correction)."""
    return {
        k: v
        for k, v in _test_values(r).items()
        if v is not None and v != "" and not (k in _UNSAID and _UNSAID[k] == v)
    }


def _judged(r: DrugTestRecord, thresholds: Thresholds) -> DrugTestRecord:
    """The record with the status the program's policy gives its figures: the one
    validity rule of staff's entry, CSV and HL7 (drug_tests.apply_validity)."""
    values = {**_test_values(r), "collection_status": r.collection_status.value}
    drug_tests.apply_validity(values, thresholds)
    return dataclasses.replace(
        r,
        collection_status=CollectionStatus(values["collection_status"]),
        validity_note=values["validity_note"],
    )


def _result_values(r: DrugTestRecord, analytes: dict[str, dict]) -> list[dict[str, Any]]:
    out = []
    for a in r.results:
        row = analytes.get(a.analyte_key, {})
        out.append(
            {
                "analyte": row.get("id"),
                "analyte_code": a.code[:40],
                "analyte_name": (row.get("name") or a.name)[:120],
                "screen_result": a.screen_result.value,
                "screen_method": a.screen_method[:40],
                "screen_cutoff_ng_ml": _fit("screen_cutoff_ng_ml", a.screen_cutoff_ng_ml)
                or row.get("screen_cutoff_ng_ml"),
                "confirmation_result": a.confirmation_result.value
                if a.confirmation_result
                else None,
                "confirmation_method": a.confirmation_method[:40],
                "confirmation_cutoff_ng_ml": _fit(
                    "confirmation_cutoff_ng_ml", a.confirmation_cutoff_ng_ml
                )
                or (row.get("confirmation_cutoff_ng_ml") if a.confirmation_result else None),
                "level_ng_ml": _fit("level_ng_ml", a.level_ng_ml),
                "units": a.units[:20],
                "reference_range": a.reference_range[:60],
                "abnormal_flag": a.abnormal_flag[:10],
                "mro_result": a.mro_result.value if a.mro_result else None,
                "mro_comment": a.mro_comment,
                "comment": a.comment,
            }
        )
    return out


def _fingerprint(values: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """What makes two reports of a specimen the same, whatever the engine returns."""

    def norm(v: Any) -> Any:
        if isinstance(v, Decimal):
            return format(v.normalize(), "f")
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat()
        return v

    keep = {k: norm(v) for k, v in values.items() if k not in ("notes", "validity_note")}
    if keep.get("collection_status") in SPECIMEN_VERDICTS:
        keep["collection_status"] = "specimen"
    rows = sorted(
        json.dumps(
            {
                k: norm(v)
                for k, v in r.items()
                if k
                in ("analyte", "screen_result", "confirmation_result", "level_ng_ml", "mro_result")
            },
            sort_keys=True,
        )
        for r in results
    )
    return json.dumps([keep, rows], sort_keys=True, default=str)


# Verdicts on a collected specimen: a fingerprint compares the lab's figures instead,
# since the verdict is the program's (its thresholds may have changed since).
SPECIMEN_VERDICTS = frozenset(s.value for s in specimen_validity.SEVERITY)


def _same_report(
    values: dict[str, Any],
    results: list[dict[str, Any]],
    stored: dict[str, Any],
    stored_rows: list[dict[str, Any]],
    stated: CollectionStatus,
) -> bool:
    """Is this report of a specimen the one already stored? The lab's facts are
    compared, not the verdict the program drew from them: a file imported again after
    the dilute threshold changed is still the same file. A verdict the lab stated must
    match; oxidants and nitrite are compared only when stored (imports before issue 16
    did not keep them)."""
    ours = {k: stored[k] for k in values}
    theirs = dict(values)
    for k in ("oxidants", "nitrite"):
        if not ours.get(k):
            ours.pop(k, None)
            theirs.pop(k, None)
    if stated.value in SPECIMEN_VERDICTS - {"collected"} and stored["collection_status"] != stated:
        return False
    return _fingerprint(theirs, results) == _fingerprint(ours, stored_rows)


def _summary(r: DrugTestRecord, tz: ZoneInfo) -> str:
    stamp = spoken(r.collected_at or r.called_at, tz) or "?"
    status = r.collection_status.value.replace("_", " ")
    return f"{stamp} {r.specimen_type.value}, {status}, {len(r.results)} analyte(s)"


def name_of(person: dict[str, Any]) -> str:
    return f"{person['first_name']} {person['last_name']}"


def _row(
    location: str, action: str, person: dict[str, Any], when: str, what: str, was: str = ""
) -> RowAction:
    return RowAction(
        location=location,
        action=action,
        client_id=person["client_id"],
        summary=f"{when} {what}" if when else what,
        participant_id=person["id"],
        name=name_of(person),
        when=when,
        what=what,
        was=was,
    )


def _drug_test_row(
    r: DrugTestRecord,
    person: dict[str, Any],
    action: str,
    analytes: dict,
    tz: ZoneInfo,
) -> RowAction:
    """The preview's line: who, when, the results (a correction's: ``_plan_correction``)."""
    values = _test_values(r)
    what = words.drug_test_words(values, _result_values(r, analytes))
    return _row(r.location, action, person, words.drug_test_when(values, tz), what)


async def _plan_drug_tests(
    records: list[DrugTestRecord],
    people: dict[str, dict],
    analytes: dict,
    program: dict[str, Any],
    kind: ImportKind,
    plan: _Plan,
) -> None:
    """Match each specimen to what is stored (drug_tests.specimen_key: the rule every
    path follows) and decide: create, the same report again (a duplicate, skipped), a
    lab's correction (a new version keeping what it does not correct), or an error
    naming the stored test. The status comes from the program's policy here, not from
    the parser (``_judged``)."""
    tz = ZoneInfo(program["time_zone"])
    thresholds = Thresholds.of(program)
    accession_field = "OBR-3" if kind is ImportKind.hl7_oru else "accession_id"
    existing = await drug_tests.current_by_key(sorted({p["id"] for p in people.values()}))
    matched = _matched_specimens(records, people, existing, tz, accession_field, plan)
    stored_results = await _stored_results(matched)
    for r, person, stored in matched:
        _decide(r, person, stored, stored_results, analytes, thresholds, tz, accession_field, plan)


_Matched = list[tuple[DrugTestRecord, dict, dict | None]]


def _matched_specimens(
    records: list[DrugTestRecord],
    people: dict[str, dict],
    existing: dict,
    tz: ZoneInfo,
    accession_field: str,
    plan: _Plan,
) -> _Matched:
    """Each record with its participant and the stored test of the same specimen (or
    None); a record that cannot be matched (no such client, outside the enrolment, the
    same specimen twice in the file, collected before the call) is an error instead."""
    seen: dict[tuple, str] = {}
    matched: _Matched = []
    for r in records:
        person = _participant(r, people, plan)
        if person is None:
            continue
        problems = _record_problems(r)
        if problems:
            plan.errors.extend(problems)
            continue
        when = r.collected_at or r.called_at
        if when and not access.enrolled_on(person, when.astimezone(tz).date()):
            plan.errors.append(
                RowError(
                    r.location,
                    "collected_at",
                    f"{when.astimezone(tz).date()} is outside the participant's enrolment",
                )
            )
            continue
        key = drug_tests.specimen_key(person["id"], _test_values(r))
        field_name = _key_field(key, accession_field)
        if key is not None and key in seen:
            plan.errors.append(
                RowError(
                    r.location,
                    field_name,
                    f"the same specimen appears earlier in the file ({seen[key]})",
                )
            )
            continue
        if key is not None:
            seen[key] = r.location
        stored = existing.get(key) if key is not None else None
        # The call may be on the stored test the file's result belongs to (HL7 has none).
        called = r.called_at or (stored["called_at"] if stored else None)
        early = collection_before_call(called, r.collected_at, tz)
        if early:
            plan.errors.append(RowError(r.location, "collected_at", early))
            continue
        matched.append((r, person, stored))
    return matched


async def _stored_results(matched: _Matched) -> dict[int, list[dict]]:
    """The analyte results of the stored tests the file matched, by test: compared only
    where a stored test matches (duplicates, corrections)."""
    stored_ids = [t["id"] for _, _, t in matched if t] or [0]
    found: dict[int, list[dict]] = {}
    for row in (
        await AnalyteResult.select()
        .where(AnalyteResult.drug_test.is_in(stored_ids))
        .order_by(AnalyteResult.id)
    ):
        found.setdefault(row["drug_test"], []).append(row)
    return found


def _decide(
    r: DrugTestRecord,
    person: dict,
    stored: dict | None,
    stored_results: dict[int, list[dict]],
    analytes: dict,
    thresholds: Thresholds,
    tz: ZoneInfo,
    accession_field: str,
    plan: _Plan,
) -> None:
    """Create, the same report again (a duplicate), a lab's correction, or an error
    naming the stored test that differs."""
    judged = _judged(r, thresholds)
    if stored is None and r.corrected:
        plan.errors.append(_nothing_to_correct(r, accession_field))
    elif stored is None:
        values, results = _test_values(judged), _result_values(judged, analytes)
        plan.creates.append((judged, person["id"]))
        plan.prepared[r.location] = (values, results)
        when = words.drug_test_when(values, tz)
        what = words.drug_test_words(values, results)
        plan.rows.append(_row(r.location, "create", person, when, what))
    elif r.corrected:
        _plan_correction(r, person, stored, stored_results, analytes, thresholds, tz, plan)
    elif _same_report(
        _test_values(judged),
        _result_values(judged, analytes),
        stored,
        stored_results.get(stored["id"], []),
        r.collection_status,
    ):
        plan.duplicates += 1
        plan.rows.append(_drug_test_row(judged, person, "duplicate", analytes, tz))
    else:
        plan.errors.append(_stored_differently(r, stored, accession_field, tz))


def _key_field(key: tuple | None, accession_field: str) -> str:
    """The field that makes a record the same as another: its accession, its call or
    its collection time."""
    if key is None or key[1] == "accession":
        return accession_field
    return drug_tests.KEY_FIELDS[key[1]]


def _nothing_to_correct(r: DrugTestRecord, accession_field: str) -> RowError:
    specimen = f"accession {r.accession_id!r}" if r.accession_id else "this specimen"
    return RowError(
        r.location,
        accession_field,
        f"is a corrected result (OBX-11 = C) for {specimen}, but no result for it is on "
        f"file for client {r.client_id}: there is nothing to correct; import the "
        "original result first, or check the accession number",
    )


def _stored_differently(
    r: DrugTestRecord, stored: dict[str, Any], accession_field: str, tz: ZoneInfo
) -> RowError:
    """A report of a stored test that differs from it and is not a correction."""
    key = drug_tests.specimen_key(stored["participant"], stored)
    return RowError(
        r.location,
        _key_field(key, accession_field),
        f"specimen {r.accession_id or _summary(r, tz)!r} is already recorded for client "
        f"{r.client_id} as {drug_tests.stored_words(stored, tz)}, at "
        f"/drug-tests/{stored['id']}, with different results; a lab must send a change "
        "as a corrected result (OBX-11 = C), staff correct it on the test's page",
    )


def _plan_correction(
    r: DrugTestRecord,
    person: dict[str, Any],
    stored: dict[str, Any],
    stored_results: dict[int, list[dict]],
    analytes: dict,
    thresholds: Thresholds,
    tz: ZoneInfo,
    plan: _Plan,
) -> None:
    """A lab's corrected report of a stored test: the new version keeps what the report
    does not correct. The same report again is a duplicate."""
    stored_rows = stored_results.get(stored["id"], [])
    values, results = drug_tests.lab_correction(
        stored, stored_rows, _given_values(r), _result_values(r, analytes), thresholds
    )
    if _same_report(values, results, stored, stored_rows, r.collection_status):
        plan.duplicates += 1
        row = _row(
            r.location,
            "duplicate",
            person,
            words.drug_test_when(values, tz),
            words.drug_test_words(values, results),
        )
        plan.rows.append(row)
        return
    plan.corrections.append((r, stored))
    plan.versions[stored["id"]] = (values, results)
    was = f"version {stored['version']}: {words.drug_test_words(stored, stored_rows)}"
    plan.rows.append(
        _row(
            r.location,
            "correct",
            person,
            words.drug_test_when(values, tz),
            words.drug_test_words(values, results),
            was,
        )
    )


# --- attendance ---------------------------------------------------------------------


def _attendance_row(r: AttendanceRecord, person: dict[str, Any], tz: ZoneInfo) -> RowAction:
    what = words.attendance_words(
        {
            "session_type": r.session_type.value,
            "scheduled_minutes": r.scheduled_minutes,
            "status": r.status.value,
            "minutes_attended": r.minutes_attended,
            "meeting_name": r.meeting_name,
        },
        r.session_title,
    )
    return _row(r.location, "create", person, spoken(r.occurred_at, tz), what)


async def _plan_attendance(
    records: list[AttendanceRecord],
    people: dict[str, dict],
    program_id: int,
    tz: ZoneInfo,
    plan: _Plan,
) -> None:
    """Match each row to what is stored (attendance.attendance_key: the rule every path
    follows): new, the same record again (a duplicate, skipped), or an error naming the
    stored record when it says otherwise."""
    existing = await attendance.current_by_key(sorted({p["id"] for p in people.values()}))
    seen: dict[tuple, str] = {}
    for r in records:
        person = _participant(r, people, plan)
        if person is None:
            continue
        if not access.enrolled_on(person, r.occurred_at.astimezone(tz).date()):
            plan.errors.append(
                RowError(
                    r.location,
                    "date",
                    f"{r.occurred_at.astimezone(tz).date()} is outside the participant's enrolment",
                )
            )
            continue
        key = attendance.attendance_key(person["id"], r.session_type.value, r.occurred_at)
        if key in seen:
            plan.errors.append(
                RowError(
                    r.location,
                    "client_id",
                    f"the same participant and session appear earlier ({seen[key]})",
                )
            )
            continue
        seen[key] = r.location
        row = _attendance_row(r, person, tz)
        stored = existing.get(key)
        if stored is None:
            plan.creates.append((r, person["id"]))
            plan.rows.append(row)
        elif (stored["status"], stored["minutes_attended"]) == (r.status.value, r.minutes_attended):
            plan.duplicates += 1
            row.action = "duplicate"
            plan.rows.append(row)
        else:
            plan.errors.append(
                RowError(
                    r.location,
                    "status",
                    f"already recorded as {attendance.stored_words(stored, tz)}, at "
                    f"/attendance/{stored['id']}; correct it on the attendance record, "
                    "with a reason",
                )
            )


# --- identity: is the person the file names the client? ------------------------------


def _check_identities(
    kind: ImportKind, records: list[DrugTestRecord], people: dict[str, dict], plan: _Plan
) -> None:
    """Put on each planned row what the file says of the person (HL7 PID-5/PID-7, the
    CSV's name and date-of-birth columns) that is not the client's record, and what
    could not be compared (compliance.intake.identity has the rule)."""
    fields = HL7_FIELDS if kind is ImportKind.hl7_oru else CSV_FIELDS
    by_location = {r.location: r for r in records}
    for row in plan.rows:
        record = by_location.get(row.location)
        person = people.get(row.client_id)
        if record is None or person is None:
            continue
        found = check_identity(
            fields,
            file_last=record.last_name,
            file_first=record.first_name,
            file_dob=record.date_of_birth,
            record_last=person["last_name"] or "",
            record_first=person["first_name"] or "",
            record_dob=person["date_of_birth"],
        )
        row.identity = list(found.mismatches)
        row.identity_unchecked = list(found.unchecked)


def _mismatch_key(row: RowAction) -> list[list[str]]:
    """What a confirmation is for: the values compared, so a confirmation no longer
    counts once the file's row or the client's record says something else."""
    return [[m.field, m.in_file, m.on_record] for m in row.identity]


def _confirmations(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The batch's confirmations by row location; a later one replaces an earlier."""
    return {c["location"]: c for c in _json_list(batch.get("identity_confirmations"))}


def _apply_confirmations(plan: _Plan, batch: dict[str, Any], tz: ZoneInfo) -> None:
    confirmed = _confirmations(batch)
    for row in plan.rows:
        entry = confirmed.get(row.location)
        if (
            row.identity
            and entry is not None
            and entry["participant_id"] == row.participant_id
            and entry["mismatches"] == _mismatch_key(row)
        ):
            row.identity_confirmed = IdentityConfirmation(
                reason=entry["reason"],
                confirmed_by=entry["confirmed_by_name"],
                confirmed_at=spoken(datetime.fromisoformat(entry["confirmed_at"]), tz),
            )


def _unconfirmed(rows: list[RowAction]) -> list[RowAction]:
    """Rows that would store results for a client the file names otherwise, with no
    clinician's confirmation (a row already recorded stores nothing, so is not held)."""
    return [
        r for r in rows if r.identity and r.identity_confirmed is None and r.action != "duplicate"
    ]


def _identity_errors(rows: list[RowAction]) -> list[RowError]:
    return [
        RowError(
            row.location,
            m.field,
            f"the {m.label} in the file ({m.in_file}) is not the {m.label} on the record of "
            f"client {row.client_id}, {row.name} ({m.on_record}); a clinician must confirm "
            "that this row is that client's, with a reason, before the file can be stored",
        )
        for row in _unconfirmed(rows)
        for m in row.identity
    ]


def _held_for_identity(plan: _Plan, batch: dict[str, Any], tz: ZoneInfo) -> bool:
    """Whether commit must stop, the batch staying a preview, because rows name someone
    other than the client and are not confirmed; their errors are then the plan's. With
    other errors too, the file is rejected as usual, these errors listed with them."""
    _apply_confirmations(plan, batch, tz)
    held = _identity_errors(plan.rows)
    if not held:
        return False
    if plan.errors:
        plan.errors = sorted([*plan.errors, *held], key=lambda e: _location_order(e.location))
        return False
    plan.errors = held
    return True


async def confirm_identity(
    principal: Principal,
    batch_id: int,
    location: str,
    reason: str,
    origin: str,
) -> ImportOutcome:
    """A clinician confirms that one held row (by its location, "line 7" or "message 2,
    OBR segment 1 (line 9)") is the client's although the file's name or date of birth
    differs. Kept on the batch with who, when and why, and audited; the preview as it
    now stands comes back. InvalidInput for a missing reason or a row that is not held."""
    form = Form({"location": location, "reason": reason})
    location = form.text("location", max_length=200)
    reason = form.text("reason", max_length=1000)
    form.errors.raise_if_any()
    batch = await _batch_row(principal, batch_id)
    kind = _previewed_kind(batch)
    data = await staged_file(batch_id)
    if data is None:
        raise InvalidInput([FieldError("file", NOT_KEPT)])
    parsed = await _parse_file(kind, data, batch["program"])
    async with db.transaction():
        await db.serialize(f"import:{batch['program']}")
        batch = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
        _previewed_kind(batch)  # a parallel commit may have won
        plan, _, tz = await _match(kind, parsed, batch["program"])
        _apply_confirmations(plan, batch, tz)
        row = _held_row(plan, location)
        entries = [
            *_json_list(batch["identity_confirmations"]),
            {
                "location": location,
                "participant_id": row.participant_id,
                "client_id": row.client_id,
                "mismatches": _mismatch_key(row),
                "reason": reason,
                "confirmed_by": principal.id,
                "confirmed_by_name": principal.full_name,
                "confirmed_at": datetime.now(UTC).isoformat(),
            },
        ]
        await ImportBatch.update({ImportBatch.identity_confirmations: json.dumps(entries)}).where(
            ImportBatch.id == batch_id
        )
        await audit.record(
            "import.identity_confirm",
            principal.actor(origin),
            "import_batch",
            batch_id,
            {
                "location": location,
                "participant": row.participant_id,
                "fields": sorted({m.field for m in row.identity}),
            },
        )
    _apply_confirmations(plan, {"identity_confirmations": entries}, tz)
    return _outcome(batch_id, kind, batch["filename"], ImportStatus.previewed, plan)


def _previewed_kind(batch: dict[str, Any]) -> ImportKind:
    """The kind of a batch that can still be confirmed and committed; InvalidInput else."""
    kind = _kind(batch)
    if batch["status"] != ImportStatus.previewed.value or kind is None:
        raise InvalidInput(
            [FieldError("batch", f"this import is {batch['status']}; nothing can be confirmed")]
        )
    return kind


def _held_row(plan: _Plan, location: str) -> RowAction:
    """The row at ``location`` whose identity a clinician may confirm; InvalidInput when
    there is none, it needs no confirmation, or it has one."""
    row = next((r for r in plan.rows if r.location == location), None)
    problem = ""
    if row is None:
        problem = f"the file has no drug test at {location!r}"
    elif not row.identity:
        problem = f"{location}: the name and date of birth agree with the client's record"
    elif row.action == "duplicate":
        problem = f"{location} is already recorded; nothing from it would be stored"
    elif row.identity_confirmed is not None:
        problem = (
            f"{location} was confirmed by {row.identity_confirmed.confirmed_by} on "
            f"{row.identity_confirmed.confirmed_at}"
        )
    if row is None or problem:
        raise InvalidInput([FieldError("location", problem)])
    return row


# --- preview and commit -------------------------------------------------------------


async def _parse_file(kind: ImportKind, data: bytes, program_id: int) -> tuple[Any, dict, ZoneInfo]:
    """Parse (in a thread) with the program's code table; a ParseError is returned, not raised."""
    program = await Program.select().where(Program.id == program_id).first()
    tz = ZoneInfo(program["time_zone"])
    try:
        parsed, analytes = await _parse(kind, data, program_id, tz)
    except ParseError as exc:
        return exc, {}, tz
    return parsed, analytes, tz


async def _plan(kind: ImportKind, data: bytes, program_id: int) -> tuple[_Plan, dict, ZoneInfo]:
    return await _match(kind, await _parse_file(kind, data, program_id), program_id)


async def _match(
    kind: ImportKind, parsed_file: tuple[Any, dict, ZoneInfo], program_id: int
) -> tuple[_Plan, dict, ZoneInfo]:
    """Plan against the database as it is now: what would be created, corrected, skipped."""
    parsed, analytes, tz = parsed_file
    plan = _Plan()
    if isinstance(parsed, ParseError):
        plan.errors.append(RowError("file", "file", parsed.reason))
        return plan, {}, tz
    plan.errors.extend(parsed.errors)
    people = {
        p["client_id"]: p
        for p in await Participant.select().where(Participant.program == program_id)
    }
    if kind is ImportKind.attendance_csv:
        await _plan_attendance(parsed.records, people, program_id, tz, plan)
    else:
        program = await Program.select().where(Program.id == program_id).first()
        await _plan_drug_tests(parsed.records, people, analytes, program, kind, plan)
        _check_identities(kind, parsed.records, people, plan)
    plan.errors.sort(key=lambda e: _location_order(e.location))
    return plan, analytes, tz


def _location_order(location: str) -> tuple:
    digits = [
        int(part)
        for part in location.replace("(", " ").replace(")", " ").replace(",", " ").split()
        if part.isdigit()
    ]
    return tuple(digits) or (0,)


async def staged_file(batch_id: int) -> bytes | None:
    """The file a batch was previewed with, while it is kept (None: committed, rejected
    or expired)."""
    row = (
        await StagedUpload.select(StagedUpload.content)
        .where(StagedUpload.import_batch == batch_id)
        .first()
    )
    return None if row is None else bytes(row["content"])


async def _unstage(batch_id: int) -> None:
    """Inside the transaction that commits or rejects the batch: a rollback keeps the file."""
    await StagedUpload.delete().where(StagedUpload.import_batch == batch_id)


async def remove_expired_uploads(now: datetime | None = None) -> int:
    """Remove the files of previews older than ``STAGED_FOR``; how many. Their batches
    stay previewed and ask for the file again (``NOT_KEPT``)."""
    older = StagedUpload.created_at < (now or datetime.now(UTC)) - STAGED_FOR
    expired = await StagedUpload.count().where(older)
    if expired:  # a delete that removes nothing would still count as a change
        async with db.transaction():
            await StagedUpload.delete().where(older)
    return expired


def _outcome(
    batch_id: int, kind: ImportKind | None, filename: str, status: ImportStatus, plan: _Plan
) -> ImportOutcome:
    creates = len(plan.creates)
    return ImportOutcome(
        batch_id=batch_id,
        kind=kind.value if kind else None,
        filename=filename,
        status=status.value,
        created=creates,
        corrected=len(plan.corrections),
        duplicates=plan.duplicates,
        rejected=len(plan.errors),
        errors=plan.errors[:MAX_ERRORS_SHOWN],
        rows=plan.rows,
        unconfirmed=len(_unconfirmed(plan.rows)),
    )


async def preview(
    principal: Principal,
    program_id: int,
    kind: ImportKind | None,
    filename: str,
    data: bytes,
    origin: str,
) -> ImportOutcome:
    """Parse and match without storing any record; keep the file for ``commit``. With no
    ``kind``, the file says what it is."""
    access.require_program(principal, program_id)
    if len(data) > MAX_IMPORT_BYTES:
        plan = _Plan(errors=[RowError("file", "file", "is larger than 32 MB")])
    else:
        kind, problem = await asyncio.to_thread(_checked_kind, kind, data)
        if problem or kind is None:
            plan = _Plan(errors=[RowError("file", "file", problem)])
        else:
            plan, _, _ = await _plan(kind, data, program_id)
    digest = hashlib.sha256(data).hexdigest()
    status = ImportStatus.previewed if not plan.errors else ImportStatus.rejected
    async with db.transaction():
        batch = ImportBatch(
            program=program_id,
            kind=kind.value if kind else "",
            filename=clean_filename(filename),
            sha256=digest,
            size_bytes=len(data),
            status=status.value,
            created_count=len(plan.creates),
            updated_count=len(plan.corrections),
            duplicate_count=plan.duplicates,
            rejected_count=len(plan.errors),
            errors=json.dumps([asdict(e) for e in plan.errors[:MAX_ERRORS_SHOWN]]),
            uploaded_by=principal.id,
        )
        await batch.save()
        if not plan.errors:  # kept for the commit, which any instance may take
            await StagedUpload.insert(
                StagedUpload(
                    import_batch=batch.id, sha256=digest, size_bytes=len(data), content=data
                )
            )
        await audit.record(
            "import.preview",
            principal.actor(origin),
            "import_batch",
            batch.id,
            {"kind": kind.value if kind else None, "sha256": digest, "errors": len(plan.errors)},
        )
    return _outcome(batch.id, kind, filename, status, plan)


async def _batch_row(principal: Principal, batch_id: int) -> dict[str, Any]:
    row = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    if row is None or row["program"] not in principal.program_ids:
        raise access.NotFound("no such import")
    return row


def _kind(batch: dict[str, Any]) -> ImportKind | None:
    """A batch's kind; none for a file that was none of them (stored as "")."""
    return ImportKind(batch["kind"]) if batch["kind"] else None


# --- what the pages show of a batch -------------------------------------------------


@dataclass
class StoredRow:
    """One record a committed import wrote, for the result page."""

    participant_id: int
    name: str
    client_id: str
    when: str
    what: str
    url: str  # the record's page
    corrected: bool  # a new version of a test stored before


@dataclass
class BatchView:
    outcome: ImportOutcome
    program: str
    uploaded_by: str
    uploaded_at: str
    stored: list[StoredRow] = field(default_factory=list)
    more_stored: int = 0  # written but not listed


MAX_STORED_SHOWN = 1000


async def batch_view(principal: Principal, batch_id: int) -> BatchView:
    """A batch as the pages show it, changing nothing. A preview is planned again against
    the database as it is now (a refresh shows what a commit would really do); a rejected
    upload shows its stored errors; a committed one lists what it wrote."""
    batch = await _batch_row(principal, batch_id)
    status = ImportStatus(batch["status"])
    kind = _kind(batch)
    program = await Program.select().where(Program.id == batch["program"]).first()
    tz = ZoneInfo(program["time_zone"])
    plan = _Plan()
    stored: list[StoredRow] = []
    more = 0
    if status is ImportStatus.previewed and kind is not None:
        data = await staged_file(batch_id)
        if data is None:
            plan.errors.append(RowError("file", "file", NOT_KEPT))
        else:
            plan, _, _ = await _plan(kind, data, batch["program"])
            _apply_confirmations(plan, batch, tz)
    elif status is ImportStatus.rejected:
        plan.errors = [RowError(**e) for e in _json_list(batch["errors"])]
    if status is ImportStatus.committed:
        stored, more = await _stored_rows(batch_id, kind, tz)
    outcome = _outcome(batch_id, kind, batch["filename"], status, plan)
    if status is not ImportStatus.previewed:  # the counts of what happened, as recorded
        outcome.created = batch["created_count"]
        outcome.corrected = batch["updated_count"]
        outcome.duplicates = batch["duplicate_count"]
        outcome.rejected = batch["rejected_count"]
    uploader = None
    if batch["uploaded_by"] is not None:
        uploader = (
            await StaffUser.select(StaffUser.full_name)
            .where(StaffUser.id == batch["uploaded_by"])
            .first()
        )
    return BatchView(
        outcome=outcome,
        program=program["name"],
        uploaded_by=uploader["full_name"] if uploader else "",
        uploaded_at=spoken(batch["uploaded_at"], tz),
        stored=stored,
        more_stored=more,
    )


def _json_list(value: Any) -> list[dict[str, Any]]:
    """A JSON column as the engine returns it: text on SQLite, text or a list elsewhere."""
    return json.loads(value) if isinstance(value, str) else list(value or [])


async def _written_by(
    table: type[Attendance] | type[DrugTest], batch_id: int, *more: Any
) -> tuple[list[dict[str, Any]], int]:
    """The first MAX_STORED_SHOWN rows a batch wrote to ``table`` with whose each is
    (and ``more`` columns), and how many it wrote in all."""
    where = table.import_batch == batch_id
    total = await table.count().where(where)
    rows = (
        await table.select(
            table.all_columns(),
            table.participant.first_name,
            table.participant.last_name,
            table.participant.client_id,
            *more,
        )
        .where(where)
        .order_by(table.id)
        .limit(MAX_STORED_SHOWN)
    )
    return rows, total


async def _stored_rows(
    batch_id: int, kind: ImportKind | None, tz: ZoneInfo
) -> tuple[list[StoredRow], int]:
    """What a committed batch wrote (the first MAX_STORED_SHOWN), and how many more."""

    def who(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "participant_id": row["participant"],
            "name": f"{row['participant.first_name']} {row['participant.last_name']}",
            "client_id": row["participant.client_id"],
        }

    out: list[StoredRow] = []
    if kind is ImportKind.attendance_csv:
        rows, total = await _written_by(Attendance, batch_id, Attendance.session.title)
        for row in rows:
            what = words.attendance_words(row, row["session.title"] or "")
            out.append(
                StoredRow(
                    **who(row),
                    when=spoken(row["occurred_at"], tz),
                    what=what,
                    url=f"/attendance/{row['id']}",
                    corrected=False,
                )
            )
        return out, total - len(out)
    tests, total = await _written_by(DrugTest, batch_id)
    results: dict[int, list[dict[str, Any]]] = {}
    for r in await AnalyteResult.select().where(AnalyteResult.drug_test.import_batch == batch_id):
        results.setdefault(r["drug_test"], []).append(r)
    for t in tests:
        out.append(
            StoredRow(
                **who(t),
                when=words.drug_test_when(t, tz),
                what=words.drug_test_words(t, results.get(t["id"], [])),
                url=f"/drug-tests/{t['id']}",
                corrected=t["version"] > 1,
            )
        )
    return out, total - len(out)


async def commit(principal: Principal, batch_id: int, origin: str) -> ImportOutcome:
    """Store every row of a previewed file, or none: re-checked against the database now."""
    batch = await _batch_row(principal, batch_id)
    if batch["status"] != ImportStatus.previewed.value:
        return _not_previewed(batch, _kind(batch), batch["status"])
    kind = ImportKind(batch["kind"])
    data = await staged_file(batch_id)
    if data is None:  # expired, or another request committed it meanwhile
        status_now = (
            await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first()
        )
        if status_now["status"] != ImportStatus.previewed.value:
            return _not_previewed(batch, kind, status_now["status"])
        plan = _Plan(errors=[RowError("file", "file", NOT_KEPT)])
        return _outcome(batch_id, kind, batch["filename"], ImportStatus.previewed, plan)
    parsed = await _parse_file(kind, data, batch["program"])  # outside the write lock
    async with db.transaction():
        await db.serialize(f"import:{batch['program']}")
        status_now = (
            await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first()
        )
        if status_now["status"] != ImportStatus.previewed.value:  # a parallel commit won
            return _not_previewed(batch, kind, status_now["status"])
        plan, analytes, _ = await _match(kind, parsed, batch["program"])
        if _held_for_identity(plan, batch, parsed[2]):  # nothing stored; still a preview
            return _outcome(batch_id, kind, batch["filename"], ImportStatus.previewed, plan)
        if not plan.errors:
            await _store(principal, batch, kind, plan, analytes, origin)
    if plan.errors:  # the database changed since the preview: nothing stored
        await _reject(principal, batch_id, plan, origin)
        return _outcome(batch_id, kind, batch["filename"], ImportStatus.rejected, plan)
    return _outcome(batch_id, kind, batch["filename"], ImportStatus.committed, plan)


def _not_previewed(batch: dict[str, Any], kind: ImportKind | None, status: str) -> ImportOutcome:
    """Committed, rejected or expired already (by another click, perhaps): nothing to do."""
    why = f"this import is {status}; upload the file again"
    plan = _Plan(errors=[RowError("file", "file", why)])
    return _outcome(batch["id"], kind, batch["filename"], ImportStatus(status), plan)


async def _store(
    principal: Principal,
    batch: dict[str, Any],
    kind: ImportKind,
    plan: _Plan,
    analytes: dict,
    origin: str,
) -> None:
    """Inside the commit's transaction: the records, the violations they give, the
    batch marked committed with its counts, and the audit event."""
    batch_id = batch["id"]
    if kind is ImportKind.attendance_csv:
        await _write_attendance(plan, batch["program"], batch_id, principal.id)
    else:
        await _write_drug_tests(
            plan,
            analytes,
            batch_id,
            principal.id,
            source=RecordSource.hl7 if kind is ImportKind.hl7_oru else RecordSource.csv,
            filename=batch["filename"],
        )
    await violations.refresh(
        [pid for _, pid in plan.creates] + [stored["participant"] for _, stored in plan.corrections]
    )
    await _unstage(batch_id)
    await ImportBatch.update(
        {
            ImportBatch.status: ImportStatus.committed.value,
            ImportBatch.created_count: len(plan.creates),
            ImportBatch.updated_count: len(plan.corrections),
            ImportBatch.duplicate_count: plan.duplicates,
            ImportBatch.rejected_count: 0,
        }
    ).where(ImportBatch.id == batch_id)
    await audit.record(
        "import.commit",
        principal.actor(origin),
        "import_batch",
        batch_id,
        {
            "created": len(plan.creates),
            "corrected": len(plan.corrections),
            "duplicates": plan.duplicates,
        },
    )


async def _reject(principal: Principal, batch_id: int, plan: _Plan, origin: str) -> None:
    """The batch marked rejected, with the first errors kept for its page, and audited."""
    async with db.transaction():
        await ImportBatch.update(
            {
                ImportBatch.status: ImportStatus.rejected.value,
                ImportBatch.rejected_count: len(plan.errors),
                ImportBatch.errors: json.dumps([asdict(e) for e in plan.errors[:MAX_ERRORS_SHOWN]]),
            }
        ).where(ImportBatch.id == batch_id)
        await _unstage(batch_id)
        await audit.record(
            "import.reject",
            principal.actor(origin),
            "import_batch",
            batch_id,
            {"errors": len(plan.errors)},
        )


async def _write_drug_tests(
    plan: _Plan, analytes: dict, batch_id: int, user_id: int, *, source: RecordSource, filename: str
) -> None:
    """Through the drug-test service, as staff's entry: new tests in bulk
    (drug_tests.store_tests), a lab's corrections as new versions keeping what they do
    not correct (planned by drug_tests.lab_correction)."""
    await drug_tests.store_tests(
        [drug_tests.NewTest(pid, *plan.prepared[record.location]) for record, pid in plan.creates],
        user_id=user_id,
        source=source,
        import_batch=batch_id,
    )
    for record, stored in plan.corrections:
        values, results = plan.versions[stored["id"]]
        await drug_tests.correct_stored_test(
            stored,
            # A lab's file has no call time: the call stays as stored.
            {**values, "called_at": record.called_at or stored["called_at"]},
            results,
            user_id=user_id,
            reason=f"Corrected result from the lab ({filename})",
            extra={"source": source.value, "import_batch": batch_id},
        )


async def _write_attendance(plan: _Plan, program_id: int, batch_id: int, user_id: int) -> None:
    """Through the attendance service, as a roster: each row in the program's session
    (made when nobody set it up), all in one bulk insert."""
    sessions = await attendance.sessions_for(
        program_id,
        [
            (r.session_type.value, r.occurred_at, r.scheduled_minutes, r.session_title)
            for r, _ in plan.creates
            if r.session_type is not SessionType.twelve_step
        ],
    )
    await attendance.store_attendance(
        [
            attendance.NewAttendance(
                participant_id=pid,
                session_id=None
                if r.session_type is SessionType.twelve_step
                else sessions[
                    (r.session_type.value, r.occurred_at.astimezone(UTC), r.scheduled_minutes)
                ],
                session_type=r.session_type.value,
                occurred_at=r.occurred_at,
                scheduled_minutes=r.scheduled_minutes,
                status=r.status.value,
                minutes_attended=r.minutes_attended,
                meeting_name=r.meeting_name,
                proof=r.proof,
                note=r.note,
            )
            for r, pid in plan.creates
        ],
        user_id=user_id,
        source=RecordSource.csv,
        import_batch=batch_id,
    )


__all__ = [
    "BatchView",
    "IdentityConfirmation",
    "ImportOutcome",
    "RowAction",
    "batch_view",
    "commit",
    "confirm_identity",
    "detect_kind",
    "preview",
]
