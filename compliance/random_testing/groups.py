"""Testing groups and who is in which: what the daily draw reads.

A program names its groups (a colour or number, as programs call them) and gives each
the number of tests a week it stands for; the draw calls each group with that rate.
A participant's group is kept as assignments from a day on, never edited: moving a
client to another group, or out of the draw, adds the next assignment with who, when
and why, so every past draw can still be explained by the assignments of its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.validation import FieldError, Form, InvalidInput
from compliance.random_testing.odds import MAX_TESTS_PER_WEEK
from compliance.staff import access
from compliance.staff.access import program_today
from compliance.staff.accounts import Principal
from compliance.tables import TestingAssignment, TestingGroup


@dataclass(frozen=True)
class TestingGroupView:
    id: int
    program_id: int
    name: str
    tests_per_week: int
    members: int  # participants in it today
    retired: bool


@dataclass(frozen=True)
class AssignmentView:
    participant_id: int
    group_id: int | None
    group_name: str
    effective_on: date
    reason: str
    assigned_at: datetime


async def list_groups(principal: Principal, program_id: int) -> list[TestingGroupView]:
    access.require_program(principal, program_id)
    today = await program_today(program_id)
    rows = (
        await TestingGroup.select()
        .where(TestingGroup.program == program_id)
        .order_by(TestingGroup.name)
    )
    counts: dict[int, int] = {}
    for group_id in (await members_on(program_id, today)).values():
        counts[group_id] = counts.get(group_id, 0) + 1
    return [_group_view(r, counts.get(r["id"], 0)) for r in rows]


def _group_view(row: dict[str, Any], members: int) -> TestingGroupView:
    return TestingGroupView(
        row["id"],
        row["program"],
        row["name"],
        row["tests_per_week"],
        members,
        row["retired_at"] is not None,
    )


async def create_group(
    principal: Principal, program_id: int, data: dict[str, Any], origin: str = ""
) -> TestingGroupView:
    access.require_program(principal, program_id)
    form = Form(data)
    name = form.text("name", max_length=80)
    rate = form.integer("tests_per_week", minimum=1, maximum=MAX_TESTS_PER_WEEK)
    form.errors.raise_if_any()
    async with db.transaction():
        await db.serialize(f"testing_group:{program_id}")
        taken = await TestingGroup.exists().where(
            (TestingGroup.program == program_id) & (TestingGroup.name == name)
        )
        if taken:
            raise InvalidInput([FieldError("name", f"the program has a group named {name!r}")])
        row = TestingGroup(
            program=program_id, name=name, tests_per_week=rate, created_by=principal.id
        )
        await row.save()
        await audit.record(
            "testing_group.create",
            principal.actor(origin),
            "testing_group",
            row.id,
            {"program": program_id, "tests_per_week": rate},
        )
    return TestingGroupView(row.id, program_id, name, int(rate or 0), 0, False)


async def retire_group(
    principal: Principal, group_id: int, origin: str = "", *, program_id: int | None = None
) -> TestingGroupView:
    """A retired group is no longer drawn; its members stay assigned to it (and so out of
    the draw) until moved, which the group page shows."""
    return await _set_retired(principal, group_id, True, origin, program_id)


async def reinstate_group(
    principal: Principal, group_id: int, origin: str = "", *, program_id: int | None = None
) -> TestingGroupView:
    """A retired group drawn again from the next draw on (its members with it); days
    already drawn stay as drawn."""
    return await _set_retired(principal, group_id, False, origin, program_id)


async def _set_retired(
    principal: Principal, group_id: int, retired: bool, origin: str, program_id: int | None
) -> TestingGroupView:
    """``program_id``: the program's page it was asked from, whose group it must be."""
    row = await access.program_record(principal, TestingGroup, group_id, "testing group")
    if program_id is not None and row["program"] != program_id:
        raise access.NotFound("no such testing group")
    when = datetime.now(UTC) if retired else None
    async with db.transaction():
        # Only a change is made and audited: of two at once, the second finds it done.
        column = TestingGroup.retired_at
        now_is = column.is_null() if retired else column.is_not_null()
        changed = (
            await TestingGroup.update({TestingGroup.retired_at: when})
            .where((TestingGroup.id == group_id) & now_is)
            .returning(TestingGroup.id)
        )
        if changed:
            action = "testing_group.retire" if retired else "testing_group.reinstate"
            await audit.record(action, principal.actor(origin), "testing_group", group_id)
    row = await TestingGroup.select().where(TestingGroup.id == group_id).first()
    today = await program_today(row["program"])
    members = sum(1 for g in (await members_on(row["program"], today)).values() if g == group_id)
    return _group_view(row, members)


async def assign(
    principal: Principal, participant_id: int, data: dict[str, Any], origin: str = ""
) -> AssignmentView:
    """Put a participant in a testing group (``group_id``; empty: in none) from
    ``effective_on`` (default: today, on the program's clock). A day already drawn stays
    as drawn, so the day must be today or later."""
    person = await access.participant_row(principal, participant_id)
    program_id = person["program"]
    today = await program_today(program_id)
    form = Form(data)
    group_id = form.integer("group_id", required=False, minimum=1)
    effective_on = form.date("effective_on", required=False, not_future=False) or today
    reason = form.text("reason", required=False, max_length=2000)
    if effective_on < today:
        form.errors.add("effective_on", "a day already drawn stays as drawn: today or later")
    form.errors.raise_if_any()
    name = ""
    if group_id is not None:
        group = await TestingGroup.select().where(TestingGroup.id == group_id).first()
        if group is None or group["program"] != program_id:
            raise InvalidInput([FieldError("group_id", "no such testing group in this program")])
        if group["retired_at"] is not None:
            raise InvalidInput([FieldError("group_id", f"the group {group['name']} is retired")])
        name = group["name"]
    async with db.transaction(touching=participant_id):
        row = TestingAssignment(
            participant=participant_id,
            testing_group=group_id,
            effective_on=effective_on,
            reason=reason,
            assigned_by=principal.id,
        )
        await row.save()
        await audit.record(
            "testing_group.assign",
            principal.actor(origin),
            "participant",
            participant_id,
            {"testing_group": group_id, "effective_on": effective_on.isoformat()},
        )
    return AssignmentView(participant_id, group_id, name, effective_on, reason, row.assigned_at)


async def assignment_history(principal: Principal, participant_id: int) -> list[AssignmentView]:
    await access.participant_row(principal, participant_id)
    rows = (
        await TestingAssignment.select(
            TestingAssignment.all_columns(), TestingAssignment.testing_group.name.as_alias("name")
        )
        .where(TestingAssignment.participant == participant_id)
        .order_by(TestingAssignment.effective_on)
        .order_by(TestingAssignment.id)
    )
    return [
        AssignmentView(
            participant_id,
            r["testing_group"],
            r["name"] or "",
            r["effective_on"],
            r["reason"],
            r["assigned_at"],
        )
        for r in rows
    ]


async def members_on(program_id: int, day: date) -> dict[int, int]:
    """{participant id: testing group id} on ``day``: each enrolled participant's newest
    assignment from that day or before (the later one of a day wins), if it names a group."""
    rows = (
        await TestingAssignment.select(
            TestingAssignment.participant,
            TestingAssignment.testing_group,
            TestingAssignment.participant.admitted_on.as_alias("admitted_on"),
            TestingAssignment.participant.discharged_on.as_alias("discharged_on"),
        )
        .where(
            (TestingAssignment.participant.program == program_id)
            & (TestingAssignment.effective_on <= day)
        )
        .order_by(TestingAssignment.effective_on)
        .order_by(TestingAssignment.id)
    )
    newest: dict[int, int | None] = {}
    enrolled: set[int] = set()
    for r in rows:
        newest[r["participant"]] = r["testing_group"]
        if access.enrolled_on(r, day):
            enrolled.add(r["participant"])
    return {p: g for p, g in newest.items() if g is not None and p in enrolled}
