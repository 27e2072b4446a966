"""Violations: the engine's findings an officer must hear of (a test counted positive, an
unexcused absence, a missed check-in where the program counts it), kept with the time
the service learnt of them so that a notice goes out once per violation.

``refresh`` runs inside the transaction of every write that can change them, so a
record and the violations it causes commit together. A violation is keyed by the
record's ``record_uid``, which every version of a record shares: correcting a note on
a missed test does not make a second violation, and a correction that takes one back
(an absence excused afterwards, a positive the MRO overturned) marks it withdrawn
rather than deleting what officers may already have been told.

A presumptive positive (a screen awaiting confirmation) is a violation of its own kind
only when the program's policy counts it before confirmation; otherwise it is listed as
pending (``pending_confirmations``), the same thing the engine's weeks say.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.validation import FieldError, InvalidInput
from compliance.core.vocabulary import InformationCategory
from compliance.engine import caseload
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Attendance, DrugTest, Participant, Program, Violation

RECORD_TABLES: dict[str, Any] = {"attendance": Attendance, "drug_test": DrugTest}
ATTENDANCE_KINDS = frozenset(("unexcused_absence",))


def category_of(kind: str) -> InformationCategory:
    """The consent category a violation of this kind discloses (a notice, the officer's
    page): an absence is attendance; a test, a specimen or a check-in is drug testing."""
    return (
        InformationCategory.attendance
        if kind in ATTENDANCE_KINDS
        else InformationCategory.drug_tests
    )


# Records never versioned (an excuse is added beside them): the row id is the key.
UNVERSIONED = frozenset(("missed_check_in",))


@dataclass
class Changes:
    recorded: int = 0
    withdrawn: int = 0
    reinstated: int = 0


@dataclass
class ViolationView:
    id: int
    participant_id: int
    kind: str
    occurred_at: datetime
    known_at: datetime
    description: str
    record: str | None  # "drug_test:12": the current version of the record behind it
    withdrawn_at: datetime | None
    reviewed_at: datetime | None
    review_note: str
    notified_at: datetime | None


async def _record_uids(refs: Iterable[str]) -> dict[str, str]:
    """ "drug_test:<row id>" -> "drug_test:<record uid>"."""
    ids: dict[str, list[int]] = defaultdict(list)
    for ref in refs:
        kind, _, row_id = ref.partition(":")
        ids[kind].append(int(row_id))
    out = {}
    for kind, wanted in ids.items():
        if kind in UNVERSIONED:
            out |= {f"{kind}:{i}": f"{kind}:{i}" for i in wanted}
            continue
        table = RECORD_TABLES[kind]
        for r in await table.select(table.id, table.record_uid).where(table.id.is_in(wanted)):
            out[f"{kind}:{r['id']}"] = f"{kind}:{r['record_uid']}"
    return out


async def refresh(participant_ids: Iterable[int], today: date | None = None) -> Changes:
    """Judge the participants over their whole enrolment and bring their violations in
    line. Call inside the write's transaction."""
    ids = sorted(set(participant_ids))
    changes = Changes()
    if not ids:
        return changes
    people = await Participant.select().where(Participant.id.is_in(ids))
    by_program: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for p in people:
        by_program[p["program"]].append(p)
    findings = []
    for program in await Program.select().where(Program.id.is_in(list(by_program) or [0])):
        group = by_program[program["id"]]
        local_today = today or datetime.now(ZoneInfo(program["time_zone"])).date()
        start = min(p["admitted_on"] for p in group)
        results = await caseload.evaluate_people(
            program, group, [p["id"] for p in group], start, local_today, local_today
        )
        findings += [(pid, v) for pid, result in results.items() for v in result.violations]
    uids = await _record_uids(v.ref for _, v in findings)
    found = {(pid, uids[v.ref], v.kind): v for pid, v in findings}
    existing = {
        (r["participant"], r["source_key"], r["kind"]): r
        for r in await Violation.select().where(Violation.participant.is_in(ids))
    }
    now = datetime.now(UTC)
    new = [
        {
            "participant": pid,
            "kind": kind,
            "occurred_at": v.occurred_at,
            "known_at": now,
            "source_key": key,
            "description": v.description,
        }
        for (pid, key, kind), v in found.items()
        if (pid, key, kind) not in existing
    ]
    if new:
        await db.insert_many(Violation, new)
        changes.recorded = len(new)
    for key, row in existing.items():
        v = found.get(key)
        if v is None and row["withdrawn_at"] is None:
            await Violation.update({Violation.withdrawn_at: now}).where(Violation.id == row["id"])
            changes.withdrawn += 1
        elif v is not None and (
            row["withdrawn_at"] is not None
            or row["description"] != v.description
            or row["occurred_at"] != v.occurred_at
        ):
            await Violation.update(
                {
                    Violation.withdrawn_at: None,
                    Violation.description: v.description,
                    Violation.occurred_at: v.occurred_at,
                }
            ).where(Violation.id == row["id"])
            changes.reinstated += row["withdrawn_at"] is not None
    return changes


async def _views(rows: list[dict[str, Any]]) -> list[ViolationView]:
    uids: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        kind, _, uid = r["source_key"].partition(":")
        uids[kind].append(uid)
    current: dict[str, str] = {}
    for kind, wanted in uids.items():
        if kind in UNVERSIONED:
            current |= {f"{kind}:{u}": f"{kind}:{u}" for u in wanted}
            continue
        table = RECORD_TABLES[kind]
        for c in await table.select(table.id, table.record_uid).where(
            table.record_uid.is_in(wanted) & table.is_current.eq(True)
        ):
            current[f"{kind}:{c['record_uid']}"] = f"{kind}:{c['id']}"
    return [
        ViolationView(
            r["id"],
            r["participant"],
            r["kind"],
            r["occurred_at"],
            r["known_at"],
            r["description"],
            current.get(r["source_key"]),
            r["withdrawn_at"],
            r["reviewed_at"],
            r["review_note"],
            r["notified_at"],
        )
        for r in rows
    ]


@dataclass
class PendingView:
    """A presumptive positive awaiting confirmation that the program's policy does not
    count yet: shown beside the violations, never one of them, never notified."""

    participant_id: int
    occurred_at: datetime | None  # when collected
    description: str  # the engine's words: "Presumptive positive ..., pending confirmation"
    record: str  # "drug_test:12": the current version


async def pending_confirmations(
    principal: Principal, participant_id: int, today: date | None = None
) -> list[PendingView]:
    """The participant's presumptive positives awaiting confirmation over the whole
    enrolment, newest first: what the engine leaves out of the violations by policy."""
    person = await access.participant_row(principal, participant_id)
    program = await Program.select().where(Program.id == person["program"]).first()
    local_today = today or datetime.now(ZoneInfo(program["time_zone"])).date()
    result = (
        await caseload.evaluate_people(
            program, [person], [participant_id], person["admitted_on"], local_today, local_today
        )
    )[participant_id]
    return [
        PendingView(participant_id, o.at, o.detail, f"drug_test:{o.test_id}")
        for o in reversed(result.pending)
    ]


async def participant_violations(
    principal: Principal,
    participant_id: int,
    known_since: datetime | None = None,
    include_withdrawn: bool = False,
) -> list[ViolationView]:
    """A participant's violations, newest known first; ``known_since`` gives only those
    the service learnt of after that moment (the "new violations" a notifier polls)."""
    await access.participant_row(principal, participant_id)
    where = Violation.participant == participant_id
    if known_since is not None:
        where &= Violation.known_at > known_since
    if not include_withdrawn:
        where &= Violation.withdrawn_at.is_null()
    rows = await Violation.select().where(where).order_by(Violation.known_at, ascending=False)
    return await _views(rows)


async def review(principal: Principal, violation_id: int, note: str, origin: str) -> ViolationView:
    """A clinician has dealt with it (talked to the client, told the officer): it leaves
    the caseload's open count but stays on record."""
    note = note.strip()
    if not note:
        raise InvalidInput([FieldError("note", "say what was done about it")])
    if len(note) > 2000:
        raise InvalidInput([FieldError("note", "at most 2,000 characters")])
    if "\x00" in note:  # PostgreSQL refuses to store it: a 500, not a reason
        raise InvalidInput([FieldError("note", "contains a NUL character")])
    async with db.transaction():
        row = await access.participant_record(principal, Violation, violation_id, "violation")
        if row["reviewed_at"] is not None:
            raise InvalidInput([FieldError("note", "this violation has already been reviewed")])
        if row["withdrawn_at"] is not None:
            raise InvalidInput([FieldError("note", "a correction withdrew this violation")])
        await Violation.update(
            {
                Violation.reviewed_at: datetime.now(UTC),
                Violation.reviewed_by: principal.id,
                Violation.review_note: note,
            }
        ).where(Violation.id == violation_id)
        await audit.record("violation.review", principal.actor(origin), "violation", violation_id)
        row = await Violation.select().where(Violation.id == violation_id).first()
    return (await _views([row]))[0]
