"""File imports: parse, match against the database, preview, then commit atomically.

``preview`` stores the uploaded file (content-addressed, under var/imports) and an
``import_batch`` row, and says what would be created, corrected, skipped as duplicate
or rejected. ``commit`` parses the stored file again, matches it against the database
as it is *now*, and writes every row or none in one transaction. A file with any error
is rejected whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from compliance import access, audit, db, violations
from compliance.accounts import Principal
from compliance.analytes import VALIDITY_CODES
from compliance.drug_tests import NUMERIC_DIGITS, correct_stored_test
from compliance.intake.csv_files import parse_attendance_csv, parse_drug_test_csv
from compliance.intake.hl7_results import parse_hl7_results
from compliance.intake.records import (
    AttendanceRecord,
    DrugTestRecord,
    ParseError,
    ParseResult,
    RowError,
)
from compliance.local_time import spoken
from compliance.tables import (
    Analyte,
    AnalyteCode,
    AnalyteResult,
    Attendance,
    DrugTest,
    ImportBatch,
    Participant,
    Program,
    TreatmentSession,
)
from compliance.validation import clean_filename, fit_decimal
from compliance.vocabulary import ImportKind, ImportStatus, RecordSource, SessionType

MAX_IMPORT_BYTES = 32 * 1024 * 1024
MAX_ERRORS_SHOWN = 500


@dataclass
class RowAction:
    location: str
    action: str  # "create", "correct", "duplicate"
    client_id: str
    summary: str


@dataclass
class ImportOutcome:
    batch_id: int
    kind: str
    filename: str
    status: str  # "previewed", "committed", "rejected"
    created: int = 0
    corrected: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: list[RowAction] = field(default_factory=list)


@dataclass
class _Plan:
    """What committing would do; built from the records and the database's current state."""

    creates: list[tuple[Any, int]] = field(default_factory=list)  # (record, participant id)
    corrections: list[tuple[DrugTestRecord, dict[str, Any]]] = field(default_factory=list)
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


# --- drug tests ---------------------------------------------------------------------


def _fit(name: str, value: Decimal | None) -> Decimal | None:
    return fit_decimal(value, NUMERIC_DIGITS[name])


def _record_problems(r: DrugTestRecord) -> list[RowError]:
    """What the database could not store as given: numbers beyond a column's range,
    identifiers longer than their column."""
    problems = []
    numbers = {
        "creatinine_mg_dl": r.creatinine_mg_dl,
        "specific_gravity": r.specific_gravity,
        "ph": r.ph,
    }
    for a in r.results:
        numbers.update(
            {
                "screen_cutoff_ng_ml": a.screen_cutoff_ng_ml,
                "level_ng_ml": a.level_ng_ml,
                "confirmation_cutoff_ng_ml": a.confirmation_cutoff_ng_ml,
            }
        )
        for name, value in numbers.items():
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
        "validity_note": r.validity_note,
        "notes": r.notes,
    }


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


def _summary(r: DrugTestRecord, tz: ZoneInfo) -> str:
    stamp = spoken(r.collected_at or r.called_at, tz) or "?"
    status = r.collection_status.value.replace("_", " ")
    return f"{stamp} {r.specimen_type.value}, {status}, {len(r.results)} analyte(s)"


async def _plan_drug_tests(
    records: list[DrugTestRecord],
    people: dict[str, dict],
    analytes: dict,
    tz: ZoneInfo,
    plan: _Plan,
) -> None:
    pids = sorted({p["id"] for p in people.values()}) or [0]
    existing: dict[tuple, dict] = {}
    for t in await DrugTest.select().where(
        DrugTest.participant.is_in(pids) & DrugTest.is_current.eq(True)
    ):
        key = (
            (t["participant"], t["lab_name"], t["accession_id"])
            if t["accession_id"]
            else (
                t["participant"],
                t["collected_at"].astimezone(UTC) if t["collected_at"] else None,
            )
        )
        existing[key] = t
    seen: dict[tuple, str] = {}
    matched: list[tuple[DrugTestRecord, int, dict | None]] = []
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
        key = (
            (person["id"], r.lab_name, r.accession_id)
            if r.accession_id
            else (person["id"], r.collected_at.astimezone(UTC) if r.collected_at else None)
        )
        if key in seen:
            plan.errors.append(
                RowError(
                    r.location,
                    "accession_id",
                    f"the same specimen appears earlier in the file ({seen[key]})",
                )
            )
            continue
        seen[key] = r.location
        matched.append((r, person["id"], existing.get(key)))
    # Compare with what is stored only where a stored test matches (duplicates, corrections).
    stored_ids = [t["id"] for _, _, t in matched if t] or [0]
    stored_results: dict[int, list[dict]] = {}
    for row in await AnalyteResult.select().where(AnalyteResult.drug_test.is_in(stored_ids)):
        stored_results.setdefault(row["drug_test"], []).append(row)
    for r, pid, stored in matched:
        if stored is None:
            plan.creates.append((r, pid))
            plan.rows.append(RowAction(r.location, "create", r.client_id, _summary(r, tz)))
            continue
        same = _fingerprint(_test_values(r), _result_values(r, analytes)) == _fingerprint(
            {k: stored[k] for k in _test_values(r)}, stored_results.get(stored["id"], [])
        )
        if same:
            plan.duplicates += 1
            plan.rows.append(
                RowAction(
                    r.location, "duplicate", r.client_id, f"already imported: {_summary(r, tz)}"
                )
            )
        elif r.corrected:
            plan.corrections.append((r, stored))
            plan.rows.append(
                RowAction(
                    r.location,
                    "correct",
                    r.client_id,
                    f"lab correction of version {stored['version']}: {_summary(r, tz)}",
                )
            )
        else:
            plan.errors.append(
                RowError(
                    r.location,
                    "accession_id",
                    f"specimen {r.accession_id or _summary(r, tz)!r} was already imported with "
                    "different "
                    "results; a lab must send a change as a corrected result (OBX-11 = C), staff "
                    "correct it on the test's page",
                )
            )


# --- attendance ---------------------------------------------------------------------


async def _plan_attendance(
    records: list[AttendanceRecord],
    people: dict[str, dict],
    program_id: int,
    tz: ZoneInfo,
    plan: _Plan,
) -> None:
    pids = sorted({p["id"] for p in people.values()}) or [0]
    existing: dict[tuple, dict] = {}
    for a in await Attendance.select().where(
        Attendance.participant.is_in(pids) & Attendance.is_current.eq(True)
    ):
        existing[(a["participant"], a["session_type"], a["occurred_at"].astimezone(UTC))] = a
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
        key = (person["id"], r.session_type.value, r.occurred_at.astimezone(UTC))
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
        status = r.status.value.replace("_", " ")
        summary = f"{spoken(r.occurred_at, tz)} {r.session_type.value}, {status}"
        stored = existing.get(key)
        if stored is None:
            plan.creates.append((r, person["id"]))
            plan.rows.append(RowAction(r.location, "create", r.client_id, summary))
        elif (stored["status"], stored["minutes_attended"]) == (r.status.value, r.minutes_attended):
            plan.duplicates += 1
            plan.rows.append(
                RowAction(r.location, "duplicate", r.client_id, f"already recorded: {summary}")
            )
        else:
            plan.errors.append(
                RowError(
                    r.location,
                    "status",
                    f"already recorded as {stored['status'].replace('_', ' ')}; correct it on the "
                    "attendance record, with a reason",
                )
            )


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
        await _plan_drug_tests(parsed.records, people, analytes, tz, plan)
    plan.errors.sort(key=lambda e: _location_order(e.location))
    return plan, analytes, tz


def _location_order(location: str) -> tuple:
    digits = [
        int(part)
        for part in location.replace("(", " ").replace(")", " ").replace(",", " ").split()
        if part.isdigit()
    ]
    return tuple(digits) or (0,)


def _store_upload(directory: Path, digest: str, data: bytes) -> Path:
    target = directory / digest
    if not target.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    return target


def _outcome(
    batch_id: int, kind: ImportKind, filename: str, status: ImportStatus, plan: _Plan
) -> ImportOutcome:
    creates = len(plan.creates)
    return ImportOutcome(
        batch_id=batch_id,
        kind=kind.value,
        filename=filename,
        status=status.value,
        created=creates,
        corrected=len(plan.corrections),
        duplicates=plan.duplicates,
        rejected=len(plan.errors),
        errors=plan.errors[:MAX_ERRORS_SHOWN],
        rows=plan.rows,
    )


async def preview(
    principal: Principal,
    program_id: int,
    kind: ImportKind,
    filename: str,
    data: bytes,
    uploads_dir: Path,
    origin: str,
) -> ImportOutcome:
    """Parse and match without storing any record; keep the file for ``commit``."""
    access.require_program(principal, program_id)
    if len(data) > MAX_IMPORT_BYTES:
        plan = _Plan(errors=[RowError("file", "file", "is larger than 32 MB")])
    else:
        plan, _, _ = await _plan(kind, data, program_id)
    digest = hashlib.sha256(data).hexdigest()
    if not plan.errors:
        await asyncio.to_thread(_store_upload, uploads_dir, digest, data)
    status = ImportStatus.previewed if not plan.errors else ImportStatus.rejected
    async with db.transaction():
        batch = ImportBatch(
            program=program_id,
            kind=kind.value,
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
        await audit.record(
            "import.preview",
            principal.actor(origin),
            "import_batch",
            batch.id,
            {"kind": kind.value, "sha256": digest, "errors": len(plan.errors)},
        )
    return _outcome(batch.id, kind, filename, status, plan)


async def _batch_row(principal: Principal, batch_id: int) -> dict[str, Any]:
    row = await ImportBatch.select().where(ImportBatch.id == batch_id).first()
    if row is None or row["program"] not in principal.program_ids:
        raise access.NotFound("no such import")
    return row


async def commit(
    principal: Principal, batch_id: int, uploads_dir: Path, origin: str
) -> ImportOutcome:
    """Store every row of a previewed file, or none: re-checked against the database now."""
    batch = await _batch_row(principal, batch_id)
    kind = ImportKind(batch["kind"])
    if batch["status"] != ImportStatus.previewed.value:
        plan = _Plan(
            errors=[
                RowError("file", "file", f"this import is {batch['status']}; upload the file again")
            ]
        )
        return _outcome(batch_id, kind, batch["filename"], ImportStatus(batch["status"]), plan)
    data = await asyncio.to_thread((uploads_dir / batch["sha256"]).read_bytes)
    parsed = await _parse_file(kind, data, batch["program"])  # outside the write lock
    async with db.transaction():
        await db.serialize(f"import:{batch['program']}")
        status_now = (
            await ImportBatch.select(ImportBatch.status).where(ImportBatch.id == batch_id).first()
        )
        if status_now["status"] != ImportStatus.previewed.value:  # a parallel commit won
            plan = _Plan(
                errors=[
                    RowError(
                        "file",
                        "file",
                        f"this import is {status_now['status']}; upload the file again",
                    )
                ]
            )
            return _outcome(
                batch_id, kind, batch["filename"], ImportStatus(status_now["status"]), plan
            )
        plan, analytes, _ = await _match(kind, parsed, batch["program"])
        if not plan.errors:
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
                [pid for _, pid in plan.creates]
                + [stored["participant"] for _, stored in plan.corrections]
            )
            status = ImportStatus.committed
            await ImportBatch.update(
                {
                    ImportBatch.status: status.value,
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
    if plan.errors:  # the database changed since the preview: nothing stored
        status = ImportStatus.rejected
        async with db.transaction():
            await ImportBatch.update(
                {
                    ImportBatch.status: status.value,
                    ImportBatch.rejected_count: len(plan.errors),
                    ImportBatch.errors: json.dumps(
                        [asdict(e) for e in plan.errors[:MAX_ERRORS_SHOWN]]
                    ),
                }
            ).where(ImportBatch.id == batch_id)
            await audit.record(
                "import.reject",
                principal.actor(origin),
                "import_batch",
                batch_id,
                {"errors": len(plan.errors)},
            )
    return _outcome(batch_id, kind, batch["filename"], status, plan)


async def _write_drug_tests(
    plan: _Plan, analytes: dict, batch_id: int, user_id: int, *, source: RecordSource, filename: str
) -> None:
    tests, results_by_uid = [], {}
    for record, pid in plan.creates:
        uid = uuid.uuid4()
        tests.append(
            {
                "record_uid": uid,
                "participant": pid,
                "source": source.value,
                "import_batch": batch_id,
                "recorded_by": user_id,
                **_test_values(record),
            }
        )
        results_by_uid[uid] = _result_values(record, analytes)
    await db.insert_many(DrugTest, tests)
    ids = await DrugTest.select(DrugTest.id, DrugTest.record_uid).where(
        DrugTest.import_batch == batch_id
    )
    await db.insert_many(
        AnalyteResult,
        [
            {"drug_test": r["id"], **values}
            for r in ids
            for values in results_by_uid.get(_uuid(r["record_uid"]), [])
        ],
    )
    for record, stored in plan.corrections:
        await correct_stored_test(
            stored,
            _test_values(record),
            _result_values(record, analytes),
            user_id=user_id,
            reason=f"Corrected result from the lab ({filename})",
            extra={"source": source.value, "import_batch": batch_id},
        )


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


async def _write_attendance(plan: _Plan, program_id: int, batch_id: int, user_id: int) -> None:
    sessions: dict[tuple, int] = {}
    for s in await TreatmentSession.select().where(TreatmentSession.program == program_id):
        sessions[(s["session_type"], s["starts_at"].astimezone(UTC), s["scheduled_minutes"])] = s[
            "id"
        ]
    rows = []
    for record, pid in plan.creates:
        session_id = None
        if record.session_type is not SessionType.twelve_step:
            key = (
                record.session_type.value,
                record.occurred_at.astimezone(UTC),
                record.scheduled_minutes,
            )
            if key not in sessions:
                s = TreatmentSession(
                    program=program_id,
                    session_type=record.session_type.value,
                    title=record.session_title,
                    starts_at=record.occurred_at,
                    scheduled_minutes=record.scheduled_minutes,
                )
                await s.save()
                sessions[key] = s.id
            session_id = sessions[key]
        rows.append(
            {
                "record_uid": uuid.uuid4(),
                "participant": pid,
                "session": session_id,
                "session_type": record.session_type.value,
                "occurred_at": record.occurred_at,
                "scheduled_minutes": record.scheduled_minutes,
                "status": record.status.value,
                "minutes_attended": record.minutes_attended,
                "meeting_name": record.meeting_name,
                "proof": record.proof,
                "note": record.note,
                "source": RecordSource.csv.value,
                "import_batch": batch_id,
                "recorded_by": user_id,
            }
        )
    await db.insert_many(Attendance, rows)


__all__ = ["ImportOutcome", "RowAction", "commit", "preview"]
