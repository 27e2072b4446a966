"""Drug tests with per-analyte results: typed in by staff, or stored by an import.

A test is never edited in place: a correction (a lab's corrected report, an MRO review,
a typo) is a new version of the test with its own analyte rows, who, when and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from compliance import access, audit, db, versioning, violations
from compliance.accounts import Principal
from compliance.attendance import program_zone
from compliance.tables import Analyte, AnalyteResult, DrugTest, Participant, Program, StaffUser
from compliance.validation import Errors, Form, fit_decimal
from compliance.versioning import add_version, versions
from compliance.vocabulary import (
    AnalyteOutcome,
    CollectionStatus,
    RecordSource,
    SpecimenType,
    TestReason,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOT_COLLECTED = (
    CollectionStatus.no_show,
    CollectionStatus.refused,
    CollectionStatus.unable_to_provide,
)
TEST_FIELDS = (
    "called_at",
    "collected_at",
    "specimen_type",
    "observed",
    "reason",
    "collection_status",
    "lab_name",
    "accession_id",
    "chain_of_custody_id",
    "result_reported_at",
    "creatinine_mg_dl",
    "specific_gravity",
    "ph",
    "validity_note",
    "notes",
)
RESULT_FIELDS = (
    "analyte",
    "analyte_code",
    "analyte_name",
    "screen_result",
    "screen_method",
    "screen_cutoff_ng_ml",
    "confirmation_result",
    "confirmation_method",
    "confirmation_lab",
    "confirmation_cutoff_ng_ml",
    "level_ng_ml",
    "units",
    "reference_range",
    "abnormal_flag",
    "mro_result",
    "mro_comment",
    "mro_verified_at",
    "comment",
)


@dataclass
class AnalyteResultView:
    analyte_key: str
    analyte_name: str
    screen_result: str
    screen_method: str
    screen_cutoff_ng_ml: Decimal | None
    confirmation_result: str | None
    confirmation_method: str
    confirmation_cutoff_ng_ml: Decimal | None
    level_ng_ml: Decimal | None
    mro_result: str | None
    mro_comment: str
    comment: str
    confirmation_lab: str = ""
    mro_verified_at: datetime | None = None


@dataclass
class DrugTestView:
    id: int
    record_uid: str
    version: int
    is_current: bool
    corrects: int | None
    participant_id: int
    called_at: datetime | None
    collected_at: datetime | None
    specimen_type: str
    observed: bool
    reason: str
    collection_status: str
    lab_name: str
    accession_id: str
    chain_of_custody_id: str
    result_reported_at: datetime | None
    creatinine_mg_dl: Decimal | None
    specific_gravity: Decimal | None
    ph: Decimal | None
    validity_note: str
    notes: str
    source: str
    recorded_by: str
    recorded_at: datetime
    correction_reason: str
    results: list[AnalyteResultView] = field(default_factory=list)
    # DOMAIN.md's two clocks, shown (not judged) against the program's settings: the
    # specimen within collection_window_hours of the call, the result within
    # results_due_hours of collection. Whole hours; None when a time is missing.
    collection_hours: int | None = None
    collection_late: bool = False
    collection_window_hours: int = 8
    result_hours: int | None = None
    result_late: bool = False
    result_due_hours: int = 48


def hours_past(
    start: datetime | None, end: datetime | None, allowed_hours: int
) -> tuple[int | None, bool]:
    """Whole hours from ``start`` to ``end``, and whether that took longer than allowed."""
    if start is None or end is None:
        return None, False
    taken = end - start
    return int(taken.total_seconds() // 3600), taken > timedelta(hours=allowed_hours)


@dataclass(frozen=True)
class Deadlines:
    collection_window_hours: int = 8
    results_due_hours: int = 48


async def _deadlines(participant_id: int) -> Deadlines:
    row = (
        await Participant.select(
            Participant.program.collection_window_hours, Participant.program.results_due_hours
        )
        .where(Participant.id == participant_id)
        .first()
    )
    if row is None:
        return Deadlines()
    return Deadlines(row["program.collection_window_hours"], row["program.results_due_hours"])


def number(value: Decimal) -> str:
    """20.00 and 20 print alike on both engines: no exponent, no trailing zeros."""
    return format(value.normalize(), "f")


def _decimal(form: Form, name: str, data: Mapping[str, Any]) -> Decimal | None:
    raw = data.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        form.errors.add(name, f"{raw!r} is not a number")
        return None
    if not value.is_finite() or value < 0:
        form.errors.add(name, "must be a number of 0 or more")
        return None
    try:
        return fit_decimal(value, NUMERIC_DIGITS[name])
    except ValueError:
        form.errors.add(name, f"{raw} is too large")
        return None


def _digits(column: Any) -> tuple[int, int]:
    return column._meta.params["digits"]


# Every numeric column's (precision, scale): input is rounded to it on both engines.
NUMERIC_DIGITS = {
    "creatinine_mg_dl": _digits(DrugTest.creatinine_mg_dl),
    "specific_gravity": _digits(DrugTest.specific_gravity),
    "ph": _digits(DrugTest.ph),
    "screen_cutoff_ng_ml": _digits(AnalyteResult.screen_cutoff_ng_ml),
    "confirmation_cutoff_ng_ml": _digits(AnalyteResult.confirmation_cutoff_ng_ml),
    "level_ng_ml": _digits(AnalyteResult.level_ng_ml),
}


async def _analytes(program_id: int) -> dict[str, dict[str, Any]]:
    rows = await Analyte.select().where((Analyte.program == program_id) & Analyte.active.eq(True))
    return {r["key"]: r for r in rows}


async def read_test(
    form: Form, program_id: int, data: Mapping[str, Any]
) -> tuple[dict, list[dict]]:
    """Validate a test and its results from raw input; errors collect on ``form``."""
    tz = await program_zone(program_id)
    program = await Program.select().where(Program.id == program_id).first()
    status = form.choice("collection_status", CollectionStatus) or CollectionStatus.collected
    values: dict[str, Any] = {
        "collection_status": status.value,
        "called_at": form.local_datetime("called_at", tz, required=status in NOT_COLLECTED),
        "collected_at": form.local_datetime(
            "collected_at", tz, required=status not in NOT_COLLECTED
        ),
        "specimen_type": (
            form.choice("specimen_type", SpecimenType, required=False) or SpecimenType.urine
        ).value,
        "observed": form.boolean("observed"),
        "reason": (form.choice("reason", TestReason, required=False) or TestReason.random).value,
        "lab_name": form.text("lab_name", required=False),
        "accession_id": form.text("accession_id", required=False, max_length=80),
        "chain_of_custody_id": form.text("chain_of_custody_id", required=False, max_length=80),
        "result_reported_at": form.local_datetime("result_reported_at", tz, required=False),
        "creatinine_mg_dl": _decimal(form, "creatinine_mg_dl", data),
        "specific_gravity": _decimal(form, "specific_gravity", data),
        "ph": _decimal(form, "ph", data),
        "validity_note": form.text("validity_note", required=False, max_length=2000),
        "notes": form.text("notes", required=False, max_length=4000),
    }
    if status in NOT_COLLECTED and values["collected_at"] is not None:
        form.errors.add("collected_at", f"must be empty for {status.value.replace('_', ' ')}")
    threshold = program["dilute_creatinine_mg_dl"]
    creatinine = values["creatinine_mg_dl"]
    if status is CollectionStatus.collected and creatinine is not None and creatinine < threshold:
        values["collection_status"] = CollectionStatus.dilute.value
        values["validity_note"] = (
            values["validity_note"]
            or f"Dilute: creatinine {number(creatinine)} mg/dL < {number(threshold)}"
        )
    catalogue = await _analytes(program_id)
    raw_results = data.get("results") or []
    results: list[dict] = []
    if status in NOT_COLLECTED and raw_results:
        form.errors.add("results", f"a {status.value.replace('_', ' ')} has no analyte results")
    elif status not in NOT_COLLECTED and not raw_results:
        form.errors.add("results", "a collected specimen needs at least one analyte result")
    for n, raw in enumerate(raw_results if isinstance(raw_results, Sequence) else []):
        sub = Form(raw, Errors())
        key = sub.text("analyte", max_length=40)
        analyte = catalogue.get(key)
        if key and analyte is None:
            sub.errors.add("analyte", f"{key!r} is not in the program's analyte table")
        screen = sub.choice("screen_result", AnalyteOutcome)
        confirmation = sub.choice("confirmation_result", AnalyteOutcome, required=False)
        mro = sub.choice("mro_result", AnalyteOutcome, required=False)
        row = {
            "analyte": analyte["id"] if analyte else None,
            "analyte_code": key,
            "analyte_name": analyte["name"] if analyte else key,
            "screen_result": screen.value if screen else None,
            "screen_method": sub.text("screen_method", required=False, max_length=40),
            "screen_cutoff_ng_ml": _decimal(sub, "screen_cutoff_ng_ml", raw)
            or (analyte or {}).get("screen_cutoff_ng_ml"),
            "confirmation_result": confirmation.value if confirmation else None,
            "confirmation_method": sub.text(
                "confirmation_method", required=confirmation is not None, max_length=40
            ),
            "confirmation_cutoff_ng_ml": _decimal(sub, "confirmation_cutoff_ng_ml", raw)
            or (analyte or {}).get("confirmation_cutoff_ng_ml"),
            "level_ng_ml": _decimal(sub, "level_ng_ml", raw),
            "mro_result": mro.value if mro else None,
            "mro_comment": sub.text("mro_comment", required=mro is not None, max_length=2000),
            "comment": sub.text("comment", required=False, max_length=2000),
        }
        for e in sub.errors.items:
            form.errors.add(f"results[{n}].{e.field}", e.reason)
        results.append(row)
    return values, results


async def store_test(
    participant_id: int,
    values: dict,
    results: list[dict],
    *,
    user_id: int | None,
    source: RecordSource,
    import_batch: int | None = None,
) -> int:
    """Insert version 1 of a test and its analyte rows; caller owns the transaction."""
    test = DrugTest(
        record_uid=uuid.uuid4(),
        participant=participant_id,
        source=source.value,
        import_batch=import_batch,
        recorded_by=user_id,
        **values,
    )
    await test.save()
    if results:
        await AnalyteResult.insert(*[AnalyteResult(drug_test=test.id, **r) for r in results])
    return test.id


async def record_test(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    person = await access.participant_row(principal, participant_id)
    form = Form(data)
    values, results = await read_test(form, person["program"], data)
    form.errors.raise_if_any()
    async with db.transaction():
        test_id = await store_test(
            participant_id, values, results, user_id=principal.id, source=RecordSource.manual
        )
        await violations.refresh([participant_id])
        await audit.record("drug_test.create", principal.actor(origin), "drug_test", test_id)
    return (await test_history(principal, test_id))[-1]


async def _test_row(principal: Principal, test_id: int) -> dict[str, Any]:
    row = await DrugTest.select().where(DrugTest.id == test_id).first()
    if row is None:
        raise access.NotFound("no such drug test")
    await access.participant_row(principal, row["participant"])
    return row


async def correct_test(
    principal: Principal, test_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    """A new version with a required reason. Only what ``data`` names changes: every other
    field of the test and of each analyte (units, ranges, flags, the lab's cutoffs, the
    exact collection time) is carried over from the version it corrects."""
    current = await _test_row(principal, test_id)
    person = await access.participant_row(principal, current["participant"])
    stored = (
        await AnalyteResult.select()
        .where(AnalyteResult.drug_test == test_id)
        .order_by(AnalyteResult.id)
    )
    keys = {
        a["id"]: a["key"]
        for a in await Analyte.select(Analyte.id, Analyte.key).where(
            Analyte.program == person["program"]
        )
    }
    stored_by_key = {keys.get(r["analyte"], r["analyte_code"]): r for r in stored}
    submitted = data.get("results")
    merged: dict[str, Any] = {**{k: current[k] for k in TEST_FIELDS}, **data}
    if not isinstance(submitted, list):
        submitted = []
    named = {str(raw.get("analyte", "")) for raw in submitted if isinstance(raw, Mapping)}
    submitted = [*submitted, *({"analyte": key} for key in stored_by_key if key not in named)]
    # Each submitted analyte starts from its stored row; the fields sent replace those.
    merged["results"] = [
        {**{f: base[f] for f in RESULT_FIELDS if f != "analyte"}, **raw}
        if isinstance(raw, Mapping) and (base := stored_by_key.get(str(raw.get("analyte", ""))))
        else raw
        for raw in submitted
    ]
    form = Form(merged)
    reason = form.text("correction_reason", max_length=2000)
    values, parsed = await read_test(form, person["program"], merged)
    results = []
    for raw, row in zip(submitted, parsed, strict=False):
        base = stored_by_key.get(str(raw.get("analyte", "")))
        if base is None:
            results.append(row)
            continue
        final = {f: base[f] for f in RESULT_FIELDS}
        final.update({f: row[f] for f in raw if f in row and f != "analyte"})
        if final.get("mro_result") != base["mro_result"] and final.get("mro_result"):
            final["mro_verified_at"] = datetime.now(UTC)
        results.append(final)
    if not current["is_current"]:
        form.errors.add("drug_test_id", "a newer version exists; correct that one")
    form.errors.raise_if_any()
    async with db.transaction():
        new_id = await correct_stored_test(
            current, values, results, user_id=principal.id, reason=reason
        )
        await violations.refresh([current["participant"]])
        await audit.record(
            "drug_test.correct", principal.actor(origin), "drug_test", new_id, {"corrects": test_id}
        )
    return (await test_history(principal, new_id))[-1]


async def correct_stored_test(
    current: dict,
    values: dict,
    results: list[dict],
    *,
    user_id: int | None,
    reason: str,
    extra: dict | None = None,
) -> int:
    """New version of a stored test with fresh analyte rows; caller owns the transaction."""
    new_id = await add_version(
        DrugTest,
        current,
        values,
        user_id=user_id,  # type: ignore[arg-type]
        reason=reason,
        extra=extra,
    )
    if results:
        await AnalyteResult.insert(*[AnalyteResult(drug_test=new_id, **r) for r in results])
    return new_id


async def _views(rows: list[dict[str, Any]], deadlines: Deadlines) -> list[DrugTestView]:
    ids = [r["id"] for r in rows]
    results: dict[int, list[AnalyteResultView]] = {}
    keys = {a["id"]: a["key"] for a in await Analyte.select(Analyte.id, Analyte.key)}
    for r in (
        await AnalyteResult.select()
        .where(AnalyteResult.drug_test.is_in(ids or [0]))
        .order_by(AnalyteResult.id)
    ):
        results.setdefault(r["drug_test"], []).append(
            AnalyteResultView(
                keys.get(r["analyte"], r["analyte_code"]),
                r["analyte_name"],
                r["screen_result"],
                r["screen_method"],
                r["screen_cutoff_ng_ml"],
                r["confirmation_result"],
                r["confirmation_method"],
                r["confirmation_cutoff_ng_ml"],
                r["level_ng_ml"],
                r["mro_result"],
                r["mro_comment"],
                r["comment"],
                r["confirmation_lab"],
                r["mro_verified_at"],
            )
        )
    users = {
        u["id"]: u["full_name"] for u in await StaffUser.select(StaffUser.id, StaffUser.full_name)
    }
    return [
        DrugTestView(
            id=r["id"],
            record_uid=str(r["record_uid"]),
            version=r["version"],
            is_current=r["is_current"],
            corrects=r["corrects"],
            participant_id=r["participant"],
            **{k: r[k] for k in TEST_FIELDS},
            source=r["source"],
            recorded_by=users.get(r["recorded_by"], "import"),
            recorded_at=r["recorded_at"],
            correction_reason=r["correction_reason"],
            results=results.get(r["id"], []),
            **_timeliness(r, deadlines),
        )
        for r in rows
    ]


def _timeliness(row: dict[str, Any], deadlines: Deadlines) -> dict[str, Any]:
    window, due = deadlines.collection_window_hours, deadlines.results_due_hours
    collection, collection_late = hours_past(row["called_at"], row["collected_at"], window)
    result, result_late = hours_past(row["collected_at"], row["result_reported_at"], due)
    return {
        "collection_hours": collection,
        "collection_late": collection_late,
        "collection_window_hours": window,
        "result_hours": result,
        "result_late": result_late,
        "result_due_hours": due,
    }


async def test_history(principal: Principal, test_id: int) -> list[DrugTestView]:
    row = await _test_row(principal, test_id)
    return await _views(
        await versions(DrugTest, row["record_uid"]), await _deadlines(row["participant"])
    )


async def earlier_versions(
    participant_id: int, tests: list[DrugTestView]
) -> dict[int, list[DrugTestView]]:
    """Earlier versions of the corrected ones among ``tests``: a report shows the
    history, since a result is never changed in place."""
    deadlines = await _deadlines(participant_id)

    async def views(rows: list[dict[str, Any]]) -> list[DrugTestView]:
        return await _views(rows, deadlines)

    return await versioning.earlier_versions(DrugTest, participant_id, tests, views)


async def participant_tests(principal: Principal, participant_id: int) -> list[DrugTestView]:
    await access.participant_row(principal, participant_id)
    rows = await DrugTest.select().where(
        (DrugTest.participant == participant_id) & DrugTest.is_current.eq(True)
    )
    # Newest first, a no-show by when it was called; sorted here because the engines
    # disagree on where NULLs go, and the page shows the first 50.
    rows.sort(key=lambda r: (r["collected_at"] or r["called_at"] or _EPOCH, r["id"]), reverse=True)
    return await _views(rows, await _deadlines(participant_id))
