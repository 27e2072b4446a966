"""Drug tests with per-analyte results: typed in by staff, or stored by an import.

A test is never edited in place: every change is a new version of the test with its own
analyte rows, who and when. A version says what it is (VersionKind): the lab's
confirmation of a screen and the MRO's review add facts and need no reason; a correction
fixes a mistake (or is the lab's corrected report) and must say why.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.validation import Errors, Form, fit_decimal
from compliance.core.vocabulary import (
    AnalyteOutcome,
    CollectionStatus,
    RecordSource,
    SpecimenType,
    TestReason,
    VersionKind,
)
from compliance.engine import caseload, rules, specimen_validity, violations
from compliance.records import versioning
from compliance.records.analytes import key_resolver, panel_presets
from compliance.records.duplicates import DuplicateRecord
from compliance.records.versioning import add_version, versions
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Analyte, AnalyteResult, DrugTest, Participant, Program

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
    "oxidants",
    "nitrite",
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
    "confirmed_at",
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
    confirmed_at: datetime | None = None
    member_of: str = ""  # the immunoassay class (its key) this drug confirms


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
    oxidants: str
    nitrite: str
    validity_note: str
    notes: str
    source: str
    recorded_by: str
    recorded_at: datetime
    correction_reason: str  # a correction's reason; a confirmation's or review's note
    results: list[AnalyteResultView] = field(default_factory=list)
    version_kind: str = VersionKind.original.value
    mro_name: str = ""
    # The engine's verdict on this version under the program's policy (rules.py), so a
    # page says what a report and the officer's page say: "presumptive", counting or not.
    outcome: str = ""
    counts_positive: bool = False
    outcome_words: str = ""
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
    policy: rules.Policy = field(default_factory=rules.Policy)


async def _deadlines(participant_id: int, program: dict[str, Any] | None = None) -> Deadlines:
    """The program's clocks and the policy its tests are judged under; ``program``: the
    participant's, when the caller has read it already."""
    if program is not None:
        return deadlines_of(program)
    person = (
        await Participant.select(Participant.program)
        .where(Participant.id == participant_id)
        .first()
    )
    program = person and await Program.select().where(Program.id == person["program"]).first()
    return deadlines_of(program) if program else Deadlines()


def deadlines_of(program: dict[str, Any]) -> Deadlines:
    """``_deadlines`` from the program's row, for a caller that has read it already."""
    return Deadlines(
        program["collection_window_hours"],
        program["results_due_hours"],
        caseload.policy_of(program),
    )


def collection_before_call(
    called_at: datetime | None, collected_at: datetime | None, zone: ZoneInfo | str
) -> str | None:
    """Why a specimen collected before the client was called to test cannot be stored,
    or None when the times agree. The one rule the form, the API and both imports (CSV
    and HL7) apply, each naming its own field."""
    if called_at is None or collected_at is None or collected_at >= called_at:
        return None
    return (
        f"{spoken(collected_at, zone)} is before the call to test at "
        f"{spoken(called_at, zone)}; a specimen is given after the call"
    )


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
    """The program's analytes by key, retired ones included: a correction may keep a
    result for one; only new entry is refused it (``read_test``)."""
    rows = await Analyte.select().where(Analyte.program == program_id)
    return {r["key"]: r for r in rows}


OUTCOME_FIGURES = ("negative", "positive")  # an oxidant or nitrite result, when given


def _outcome_figure(form: Form, name: str) -> str:
    value = form.text(name, required=False, max_length=20).lower()
    if value and value not in OUTCOME_FIGURES:
        form.errors.add(name, f"{value!r} is not one of: {', '.join(OUTCOME_FIGURES)}")
        return ""
    return value


def apply_validity(values: dict[str, Any], thresholds: specimen_validity.Thresholds) -> None:
    """A specimen's status from its figures under the program's thresholds: the one
    rule (compliance.engine.specimen_validity) for staff's entry, CSV and HL7 imports. The
    figures stay; the note says why, unless staff (or the lab) wrote one."""
    stated = CollectionStatus(values["collection_status"])
    status, note = specimen_validity.judge(stated, measures_of(values), thresholds)
    values["collection_status"] = status.value
    values["validity_note"] = values.get("validity_note") or note


def measures_of(values: Mapping[str, Any]) -> specimen_validity.Measures:
    """The validity figures among a test's values."""
    return specimen_validity.Measures(
        values.get("creatinine_mg_dl"),
        values.get("specific_gravity"),
        values.get("ph"),
        values.get("oxidants") or "",
        values.get("nitrite") or "",
    )


async def _with_panel(
    form: Form, program_id: int, data: Mapping[str, Any], raw: Any, status: CollectionStatus
) -> Any:
    """``panel`` names a preset of the program's analytes (analytes.panel_presets): each
    of them needs a result, and with ``all_negative`` every one not in ``results``
    screened negative, so staff type only the exceptions."""
    preset = str(data.get("panel") or "").strip()
    everything_negative = form.boolean("all_negative")
    if status in NOT_COLLECTED or not isinstance(raw, list):
        return raw
    if not preset:
        if everything_negative:
            form.errors.add("panel", "choose the panel the lab screened for 'all negative'")
        return raw
    presets = {p.key: p for p in await panel_presets(program_id)}
    chosen = presets.get(preset)
    if chosen is None:
        form.errors.add("panel", f"{preset!r} is not one of: {', '.join(presets)}")
        return raw
    named = {str(r.get("analyte", "")) for r in raw if isinstance(r, Mapping)}
    missing = [(key, name) for key, name in chosen.analytes if key not in named]
    if everything_negative:
        return [*raw, *({"analyte": key, "screen_result": "negative"} for key, _ in missing)]
    if missing:
        form.errors.add(
            "results",
            f"no screen result for {', '.join(name for _, name in missing)}: mark each, "
            "or choose 'all negative' and mark only the exceptions",
        )
    return raw


async def read_test(
    form: Form, program_id: int, data: Mapping[str, Any], kept: Collection[str] = ()
) -> tuple[dict, list[dict]]:
    """Validate a test and its results from raw input; errors collect on ``form``.
    ``kept``: the analyte keys of the version a correction starts from, which may name
    an analyte retired since."""
    tz = await access.program_tz(program_id)
    program = await Program.select().where(Program.id == program_id).first()
    status = form.choice("collection_status", CollectionStatus) or CollectionStatus.collected
    values = _test_fields(form, status, tz, data)
    _check_times(form, status, values, tz)
    apply_validity(values, specimen_validity.Thresholds.of(program))
    catalogue = await _analytes(program_id)
    resolve_key = await key_resolver(program_id)
    raw_results = await _with_panel(form, program_id, data, data.get("results") or [], status)
    results: list[dict] = []
    if status in NOT_COLLECTED and raw_results:
        form.errors.add("results", f"a {status.value.replace('_', ' ')} has no analyte results")
    elif status not in NOT_COLLECTED and not raw_results:
        form.errors.add("results", "a collected specimen needs at least one analyte result")
    seen: set[str] = set()
    for n, raw in enumerate(raw_results if isinstance(raw_results, Sequence) else []):
        sub = Form(raw, Errors())
        key = resolve_key(sub.text("analyte", max_length=40))  # key or lab code
        analyte = catalogue.get(key)
        if key and analyte is None:
            sub.errors.add("analyte", f"{key!r} is not in the program's analyte table")
        elif analyte is not None and not analyte["active"] and key not in kept:
            sub.errors.add("analyte", f"{key!r} is retired from the analyte table")
        elif key and key in seen:
            sub.errors.add("analyte", f"{key!r} has a result already")
        seen.add(key)
        row = _result_fields(sub, raw, key, analyte)
        form.errors.add_under(f"results[{n}]", sub.errors)
        results.append(row)
    return values, results


def _test_fields(
    form: Form, status: CollectionStatus, tz: ZoneInfo, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The test's own fields, read from the form (times on the program's clock)."""
    return {
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
        "oxidants": _outcome_figure(form, "oxidants"),
        "nitrite": _outcome_figure(form, "nitrite"),
        "validity_note": form.text("validity_note", required=False, max_length=2000),
        "notes": form.text("notes", required=False, max_length=4000),
    }


def _check_times(
    form: Form, status: CollectionStatus, values: dict[str, Any], tz: ZoneInfo
) -> None:
    """A no-show has no collection; a specimen is given after the call to test, and
    reported after it was collected."""
    if status in NOT_COLLECTED and values["collected_at"] is not None:
        form.errors.add("collected_at", f"must be empty for {status.value.replace('_', ' ')}")
    early = collection_before_call(values["called_at"], values["collected_at"], tz)
    if early:
        form.errors.add("collected_at", early)
    reported, collected = values["result_reported_at"], values["collected_at"]
    if reported is not None and collected is not None and reported < collected:
        form.errors.add("result_reported_at", "is before the specimen was collected")


def _result_fields(
    sub: Form, raw: Mapping[str, Any], key: str | None, analyte: dict[str, Any] | None
) -> dict[str, Any]:
    """One analyte result's fields; cutoffs default to the analyte table's."""
    screen = sub.choice("screen_result", AnalyteOutcome)
    confirmation = sub.choice("confirmation_result", AnalyteOutcome, required=False)
    mro = sub.choice("mro_result", AnalyteOutcome, required=False)
    return {
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


# --- the one way a new test is written ------------------------------------------------


@dataclass
class NewTest:
    """A checked test (read_test, or an import's plan) ready to store as version 1."""

    participant_id: int
    values: dict[str, Any]
    results: list[dict[str, Any]]


async def store_tests(
    tests: Sequence[NewTest],
    *,
    user_id: int | None,
    source: RecordSource,
    import_batch: int | None = None,
) -> list[int]:
    """Version 1 of each test with its analyte rows, in two bulk inserts however many
    there are: the one write path for staff's entry, the API and both imports (a lab
    file writes thousands). Ids come back in the order given. The caller owns the
    transaction and has checked the tests, duplicates included (``refuse_duplicate``,
    or the import's plan against ``current_by_key``)."""
    if not tests:
        return []
    uids = [uuid.uuid4() for _ in tests]
    # Every column given, once for all: defaults worked out per row and column were a
    # fifth of a 5,000-test import.
    first = {
        "version": 1,
        "corrects": None,
        "is_current": True,
        "source": source.value,
        "import_batch": import_batch,
        "recorded_by": user_id,
        "recorded_at": datetime.now(UTC),
        "correction_reason": "",
        "version_kind": VersionKind.original.value,
        "mro_name": "",
    }
    await db.insert_many(
        DrugTest,
        [
            {**first, "record_uid": uid, "participant": test.participant_id, **test.values}
            for uid, test in zip(uids, tests, strict=True)
        ],
    )
    ids = await versioning.first_version_ids(DrugTest, uids, import_batch)
    await db.insert_many(
        AnalyteResult,
        [
            {**RESULT_DEFAULTS, "drug_test": test_id, **row}
            for test_id, test in zip(ids, tests, strict=True)
            for row in test.results
        ],
    )
    return ids


# An analyte row's fields that entry and imports leave to later versions (confirmation,
# MRO review), given up front for the bulk insert.
RESULT_DEFAULTS: dict[str, Any] = {
    "screen_method": "",
    "confirmation_result": None,
    "confirmation_method": "",
    "confirmation_lab": "",
    "confirmation_cutoff_ng_ml": None,
    "confirmed_at": None,
    "level_ng_ml": None,
    "units": "ng/mL",
    "reference_range": "",
    "abnormal_flag": "",
    "mro_result": None,
    "mro_comment": "",
    "mro_verified_at": None,
    "comment": "",
}


# --- the same test twice: refused on every path --------------------------------------

NOT_COLLECTED_VALUES = frozenset(s.value for s in NOT_COLLECTED)
KEY_FIELDS = {"accession": "accession_id", "call": "called_at", "collected": "collected_at"}


def specimen_key(participant_id: int, values: Mapping[str, Any]) -> tuple | None:
    """What makes two drug tests one, on every path (form, API, CSV, HL7): the same
    client and accession id (whatever the letter case); without one, for a no-show,
    refusal or unable-to-provide the same client, call time and status, and for a
    specimen the same client and collection time. None when nothing tells it apart."""
    accession = str(values.get("accession_id") or "").strip().casefold()
    if accession:
        return (participant_id, "accession", accession)
    status = str(values.get("collection_status") or "")
    if status in NOT_COLLECTED_VALUES:
        return _moment_key(participant_id, "call", values.get("called_at"), status)
    return _moment_key(participant_id, "collected", values.get("collected_at"), "")


def _moment_key(participant_id: int, kind: str, when: Any, status: str) -> tuple | None:
    if not isinstance(when, datetime):
        return None
    return (participant_id, kind, when.astimezone(UTC), status)


async def current_by_key(participant_ids: Sequence[int]) -> dict[tuple, dict[str, Any]]:
    """The current tests of these participants by ``specimen_key``."""
    rows = await DrugTest.select().where(
        DrugTest.participant.is_in(list(participant_ids) or [0]) & DrugTest.is_current.eq(True)
    )
    found: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        key = specimen_key(row["participant"], row)
        if key is not None:
            found.setdefault(key, row)
    return found


def stored_words(stored: Mapping[str, Any], zone: ZoneInfo | str) -> str:
    """The stored test a duplicate points at, as staff would find it."""
    parts = []
    if stored["collection_status"] != CollectionStatus.collected.value:
        parts.append(stored["collection_status"].replace("_", " "))
    if stored["collected_at"] is not None:
        parts.append(f"collected {spoken(stored['collected_at'], zone)}")
    elif stored["called_at"] is not None:
        parts.append(f"called {spoken(stored['called_at'], zone)}")
    if stored["accession_id"]:
        parts.append(f"accession {stored['accession_id']}")
    return f"drug test {stored['id']} ({', '.join(parts)})"


def duplicate_of(stored: Mapping[str, Any], key: tuple, zone: ZoneInfo | str) -> DuplicateRecord:
    """The refusal of a test already stored, naming the field that makes it the same."""
    url = f"/drug-tests/{stored['id']}"
    return DuplicateRecord(
        KEY_FIELDS[key[1]],
        f"is already recorded for this client: {stored_words(stored, zone)}, at {url}; "
        "open it to correct it rather than recording it again",
        stored["id"],
        url,
    )


async def refuse_duplicate(
    participant_id: int,
    values: Mapping[str, Any],
    program_id: int,
    record_uid: Any = None,
) -> None:
    """DuplicateRecord, pointing at the stored test, when these values are a test already
    stored (other than ``record_uid``, the test a correction is a version of: a
    correction may not make it another one, such as an accession typed into the wrong
    test). Call inside the transaction that stores it, after
    ``db.serialize(f"import:{program_id}")``: the lock an import of the program takes,
    so neither a double-click nor a lab file committed at that moment slips past."""
    key = specimen_key(participant_id, values)
    if key is None:
        return
    stored = (await current_by_key([participant_id])).get(key)
    if stored is not None and str(stored["record_uid"]) != str(record_uid):
        raise duplicate_of(stored, key, await access.program_tz(program_id))


async def record_test(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    person = await access.participant_row(principal, participant_id)
    test_id = await store_one(person, data, principal.actor(origin), principal.id)
    return (await test_history(principal, test_id))[-1]


async def store_one(
    person: Mapping[str, Any], data: Mapping[str, Any], actor: audit.Actor, user_id: int | None
) -> int:
    """One test as staff's entry stores it, checked the same way, its violations with it:
    for ``record_test`` and for the service's own (a called test's window closing with
    no specimen is a missed test, recorded by ``system``)."""
    participant_id = person["id"]
    form = Form(data)
    values, results = await read_test(form, person["program"], data)
    form.errors.raise_if_any()
    async with db.transaction():
        await db.serialize(f"import:{person['program']}")
        await refuse_duplicate(participant_id, values, person["program"])
        [test_id] = await store_tests(
            [NewTest(participant_id, values, results)],
            user_id=user_id,
            source=RecordSource.manual if user_id is not None else RecordSource.system,
        )
        await violations.refresh([participant_id])
        await audit.record("drug_test.create", actor, "drug_test", test_id)
    return test_id


async def _test_row(principal: Principal, test_id: int) -> dict[str, Any]:
    return await access.participant_record(principal, DrugTest, test_id, "drug test")


async def _version_base(
    principal: Principal, test_id: int
) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """The version a new one starts from, its participant, and its analyte rows by key."""
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
    return current, person, {keys.get(r["analyte"], r["analyte_code"]): r for r in stored}


async def correct_test(
    principal: Principal, test_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    """A new version with a required reason. Only what ``data`` names changes: every other
    field of the test and of each analyte (units, ranges, flags, the lab's cutoffs, the
    exact collection time) is carried over from the version it corrects."""
    current, person, stored_by_key = await _version_base(principal, test_id)
    submitted = data.get("results")
    merged: dict[str, Any] = {**{k: current[k] for k in TEST_FIELDS}, **data}
    if not isinstance(submitted, list):
        submitted = []
    resolve_key = await key_resolver(person["program"])
    submitted = [
        {**raw, "analyte": resolve_key(raw["analyte"])}
        if isinstance(raw, Mapping) and isinstance(raw.get("analyte"), str)
        else raw
        for raw in submitted
    ]
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
    values, parsed = await read_test(form, person["program"], merged, kept=stored_by_key)
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
        await db.serialize(f"import:{person['program']}")
        await refuse_duplicate(
            current["participant"], values, person["program"], current["record_uid"]
        )
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
    """New version of a stored test with fresh analyte rows; caller owns the transaction.
    A correction unless ``extra`` names another ``version_kind``."""
    new_id = await add_version(
        DrugTest,
        current,
        values,
        user_id=user_id,  # type: ignore[arg-type]
        reason=reason,
        extra={"version_kind": VersionKind.correction.value, **(extra or {})},
    )
    if results:
        await AnalyteResult.insert(*[AnalyteResult(drug_test=new_id, **r) for r in results])
    return new_id


def _result_key(row: Mapping[str, Any]) -> Any:
    """An analyte row's identity across versions and sources: the program's analyte,
    else the code it was given under."""
    return row.get("analyte") or row.get("analyte_code")


def lab_correction(
    current: Mapping[str, Any],
    stored_results: Sequence[Mapping[str, Any]],
    given: Mapping[str, Any],
    results: Sequence[Mapping[str, Any]],
    thresholds: specimen_validity.Thresholds,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A lab's corrected report (HL7 OBX-11 = C) as the next version's values and
    analyte rows. Only what the report gives changes: each analyte it carries replaces
    that analyte's stored row (field by field, so an MRO's verdict or a confirmation it
    does not mention stays, as in ``correct_test``), every other analyte is carried
    over, and so are the validity figures, notes and collection facts it leaves out
    (``given`` holds only what it says). A report that re-sends the whole panel so
    replaces all of it. Correcting only THC used to leave a version holding only THC.

    The specimen is judged again (``apply_validity``) on the figures now on record when
    the report gives figures or a verdict; otherwise its stored status and note stay."""
    values: dict[str, Any] = {k: current[k] for k in TEST_FIELDS}
    values.update({k: v for k, v in given.items() if k in TEST_FIELDS and v not in (None, "")})
    stated = given.get("collection_status") or CollectionStatus.collected.value
    if measures_of(given).any or stated != CollectionStatus.collected.value:
        values["collection_status"], values["validity_note"] = stated, ""
        apply_validity(values, thresholds)
    merged = {_result_key(r): {f: r[f] for f in RESULT_FIELDS} for r in stored_results}
    for row in results:
        key = _result_key(row)
        base = merged.get(key)
        changes = {f: v for f, v in row.items() if v not in (None, "")}
        merged[key] = {**base, **changes} if base is not None else dict(row)
    return values, list(merged.values())


# --- confirmations and MRO reviews: new versions that add facts -----------------------


def _entries(form: Form, data: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    raw = data.get("results")
    entries = [r for r in raw if isinstance(r, Mapping)] if isinstance(raw, list) else []
    if not entries or (isinstance(raw, list) and len(entries) != len(raw)):
        form.errors.add("results", f"name at least one analyte and its {what}")
    return entries


def _after_collection(form: Form, name: str, when: datetime | None, current: dict) -> None:
    collected = current["collected_at"]
    if when is not None and collected is not None and when < collected:
        form.errors.add(name, "is before the specimen was collected")


def _named_result(
    sub: Form,
    resolve_key: Callable[[str], str],
    stored: Mapping[str, Any],
    changes: Mapping[str, Any],
) -> str:
    """The analyte an entry names, by key or lab code: one of this test's results, and
    not one an earlier entry already changed."""
    key = resolve_key(sub.text("analyte", max_length=40))
    if key and key not in stored:
        sub.errors.add("analyte", f"{key!r} is not among this test's results")
    elif key in changes:
        sub.errors.add("analyte", f"{key!r} is named twice")
    return key


def _addable(form: Form, current: dict[str, Any], what: str) -> None:
    if not current["is_current"]:
        form.errors.add("drug_test_id", f"a newer version exists; add the {what} to that one")
    if current["collection_status"] in NOT_COLLECTED:
        status = current["collection_status"].replace("_", " ")
        form.errors.add("collection_status", f"a {status} has no specimen for a {what}")


async def _add_facts(
    principal: Principal,
    current: dict[str, Any],
    stored: dict[str, dict[str, Any]],
    changes: dict[str, dict[str, Any]],
    *,
    kind: VersionKind,
    note: str,
    test_changes: dict[str, Any],
    origin: str,
) -> DrugTestView:
    """A new version with ``changes`` applied to the named analytes; everything else is
    carried over. The note, if any, is kept where a correction keeps its reason."""
    results = [
        {**{f: row[f] for f in RESULT_FIELDS}, **changes.get(key, {})}
        for key, row in stored.items()
    ]
    async with db.transaction():
        new_id = await correct_stored_test(
            current,
            test_changes,
            results,
            user_id=principal.id,
            reason=note,
            extra={"version_kind": kind.value},
        )
        await violations.refresh([current["participant"]])
        await audit.record(
            f"drug_test.{kind.value}",
            principal.actor(origin),
            "drug_test",
            new_id,
            {"version_of": current["id"]},
        )
    return (await test_history(principal, new_id))[-1]


CONFIRMED = (AnalyteOutcome.positive, AnalyteOutcome.negative, AnalyteOutcome.invalid)
MRO_VERDICTS = (AnalyteOutcome.positive, AnalyteOutcome.negative)


async def add_confirmation(
    principal: Principal, test_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    """The lab's confirmation (GC-MS, LC-MS/MS) of one or more screens: when it was
    reported, by which lab, and per analyte the result, method and level. A new version
    labelled a confirmation; a note is optional, no reason is asked."""
    current, person, stored = await _version_base(principal, test_id)
    tz = await access.program_tz(person["program"])
    resolve_key = await key_resolver(person["program"])
    form = Form(data)
    when = form.local_datetime("confirmed_at", tz)
    _after_collection(form, "confirmed_at", when, current)
    lab = form.text("confirmation_lab", required=False) or current["lab_name"]
    note = form.text("note", required=False, max_length=2000)
    _addable(form, current, "confirmation")
    changes: dict[str, dict[str, Any]] = {}
    for n, raw in enumerate(_entries(form, data, "confirmation result")):
        sub = Form(raw, Errors())
        key = _named_result(sub, resolve_key, stored, changes)
        base = stored.get(key)
        result = sub.choice("confirmation_result", AnalyteOutcome)
        if result is not None and result not in CONFIRMED:
            sub.errors.add("confirmation_result", "must be positive, negative or invalid")
        method = sub.text("confirmation_method", max_length=40)
        level = _decimal(sub, "level_ng_ml", raw)
        cutoff = _decimal(sub, "confirmation_cutoff_ng_ml", raw)
        form.errors.add_under(f"results[{n}]", sub.errors)
        if base is not None and result is not None:
            changes[key] = {
                "confirmation_result": result.value,
                "confirmation_method": method,
                "confirmation_lab": lab[:200],
                "confirmed_at": when,
                "level_ng_ml": level if level is not None else base["level_ng_ml"],
                "confirmation_cutoff_ng_ml": cutoff or base["confirmation_cutoff_ng_ml"],
            }
    form.errors.raise_if_any()
    return await _add_facts(
        principal,
        current,
        stored,
        changes,
        kind=VersionKind.confirmation,
        note=note,
        test_changes={},
        origin=origin,
    )


async def add_mro_review(
    principal: Principal, test_id: int, data: Mapping[str, Any], origin: str
) -> DrugTestView:
    """A Medical Review Officer's verdict: who reviewed, when, and per analyte positive
    or negative with why (a negative on a lab positive needs it: "valid prescription").
    The lab's result stays beside it; the MRO's verdict prevails in the engine."""
    current, person, stored = await _version_base(principal, test_id)
    tz = await access.program_tz(person["program"])
    resolve_key = await key_resolver(person["program"])
    form = Form(data)
    mro_name = form.text("mro_name", max_length=200)
    when = form.local_datetime("reviewed_at", tz)
    _after_collection(form, "reviewed_at", when, current)
    note = form.text("note", required=False, max_length=2000)
    _addable(form, current, "MRO review")
    changes: dict[str, dict[str, Any]] = {}
    for n, raw in enumerate(_entries(form, data, "MRO verdict")):
        sub = Form(raw, Errors())
        key = _named_result(sub, resolve_key, stored, changes)
        verdict = sub.choice("mro_result", AnalyteOutcome)
        if verdict is not None and verdict not in MRO_VERDICTS:
            sub.errors.add("mro_result", "must be positive or negative")
        comment = sub.text(
            "mro_comment", required=verdict is AnalyteOutcome.negative, max_length=2000
        )
        form.errors.add_under(f"results[{n}]", sub.errors)
        if key in stored and verdict is not None:
            changes[key] = {
                "mro_result": verdict.value,
                "mro_comment": comment,
                "mro_verified_at": when,
            }
    form.errors.raise_if_any()
    return await _add_facts(
        principal,
        current,
        stored,
        changes,
        kind=VersionKind.mro_review,
        note=note,
        test_changes={"mro_name": mro_name},
        origin=origin,
    )


def version_kind(row: dict[str, Any]) -> str:
    """What a stored version is: rows from before kinds were kept read "original", and
    any later version among them was a correction."""
    kind = row["version_kind"] or VersionKind.original.value
    if kind == VersionKind.original.value and row["version"] > 1:
        return VersionKind.correction.value
    return kind


def _judge(view: DrugTestView, policy: rules.Policy) -> None:
    """The engine's verdict on one version, the same words a report uses."""
    fact = rules.DrugTestFact(
        view.id,
        view.collection_status,
        view.reason,
        view.collected_at,
        view.called_at,
        tuple(
            rules.AnalyteFact(
                r.analyte_key,
                r.analyte_name,
                r.screen_result,
                r.confirmation_result,
                r.confirmation_method,
                r.mro_result,
                r.member_of,
            )
            for r in view.results
        ),
    )
    found = rules.drug_test_outcome(fact, ZoneInfo(policy.time_zone), policy)
    view.outcome, view.counts_positive, view.outcome_words = (
        found.outcome,
        found.counts_positive,
        found.detail,
    )


async def _analyte_keys(ids: set[int]) -> tuple[dict[int, str], dict[int, str]]:
    """The keys of these analytes, and of the class each belongs to (its ``member_of``):
    only those the results name, not the whole catalogue on every read."""
    catalogue = await Analyte.select(Analyte.id, Analyte.key, Analyte.member_of).where(
        Analyte.id.is_in(sorted(ids) or [0])
    )
    keys = {a["id"]: a["key"] for a in catalogue}
    parents = {a["member_of"] for a in catalogue if a["member_of"]} - keys.keys()
    if parents:
        for a in await Analyte.select(Analyte.id, Analyte.key).where(
            Analyte.id.is_in(sorted(parents))
        ):
            keys[a["id"]] = a["key"]
    classes = {a["id"]: keys.get(a["member_of"], "") for a in catalogue if a["member_of"]}
    return keys, classes


async def _views(rows: list[dict[str, Any]], deadlines: Deadlines) -> list[DrugTestView]:
    ids = [r["id"] for r in rows]
    results: dict[int, list[AnalyteResultView]] = {}
    found = (
        await AnalyteResult.select()
        .where(AnalyteResult.drug_test.is_in(ids or [0]))
        .order_by(AnalyteResult.id)
    )
    keys, classes = await _analyte_keys({r["analyte"] for r in found if r["analyte"]})
    for r in found:
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
                r["confirmed_at"],
                classes.get(r["analyte"], ""),
            )
        )
    users = await versioning.recorders(rows)
    views = [
        DrugTestView(
            **versioning.version_fields(r, users),
            **{k: r[k] for k in TEST_FIELDS},
            results=results.get(r["id"], []),
            version_kind=version_kind(r),
            mro_name=r["mro_name"],
            **_timeliness(r, deadlines),
        )
        for r in rows
    ]
    for view in views:
        _judge(view, deadlines.policy)
    return views


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
    participant_id: int, tests: list[DrugTestView], program: dict[str, Any] | None = None
) -> dict[int, list[DrugTestView]]:
    """Earlier versions of the corrected ones among ``tests``: a report shows the
    history, since a result is never changed in place. ``program``: the participant's,
    when the caller has read it."""
    deadlines = await _deadlines(participant_id, program)

    async def views(rows: list[dict[str, Any]]) -> list[DrugTestView]:
        return await _views(rows, deadlines)

    return await versioning.earlier_versions(DrugTest, participant_id, tests, views)


async def participant_tests(principal: Principal, participant_id: int) -> list[DrugTestView]:
    return await tests_of(await access.participant(principal, participant_id))


async def tests_of(
    allowed: access.ParticipantAccess, program: dict[str, Any] | None = None
) -> list[DrugTestView]:
    """The participant's current tests, newest first. ``program``: theirs, when the
    caller has read it (the judging needs its clocks and policy)."""
    participant_id = allowed.id
    rows = await DrugTest.select().where(
        (DrugTest.participant == participant_id) & DrugTest.is_current.eq(True)
    )
    # Newest first, a no-show by when it was called; sorted here because the engines
    # disagree on where NULLs go, and the page shows the first 50.
    rows.sort(key=lambda r: (r["collected_at"] or r["called_at"] or _EPOCH, r["id"]), reverse=True)
    deadlines = await _deadlines(participant_id, program)
    return await _views(rows, deadlines)
