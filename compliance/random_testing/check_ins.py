"""Check-ins not made. On each drawn day everyone the draw was for (a member of one of
its groups, a participant on a follow-up plan) who has a call-in PIN is expected to
check in by the close of the day's collection window; whoever has not by then, and was
not called that day (their call is judged by its window), is recorded once, by the
windows job, as a missed check-in.

What it counts for is the program's policy (``missed_check_in_counts``, off by
default): off, it is recorded and shown to staff only; on, the engine makes it a reason
its week is not compliant and a violation, so the officer's notice follows as for any
violation. Staff can excuse one (the phone line was down) with who and why, a record
beside it; an excused miss counts for nothing and its violation is withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.validation import FieldError, Form, InvalidInput
from compliance.core.vocabulary import CallReason
from compliance.engine import violations
from compliance.random_testing import draws
from compliance.random_testing import groups as testing_groups
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    CallInCheck,
    CallInPin,
    CheckInSweep,
    MissedCheckIn,
    MissedCheckInExcuse,
    Program,
    TestingCall,
    TestingDraw,
)

LOOK_BACK = timedelta(days=14)  # days drawn longer ago are not judged again


@dataclass(frozen=True)
class MissedCheckInView:
    id: int
    participant_id: int
    client_id: str
    first_name: str
    last_name: str
    day: date
    due_by: datetime
    recorded_at: datetime
    excused_at: datetime | None
    excused_by: str  # the staff member's name
    excuse_reason: str
    counts: bool  # the program's policy counts it, and it is not excused


async def expected_on(draw: dict[str, Any], due_by: datetime) -> set[int]:
    """Who had to check in on the draw's day, and could: the members of the groups it
    drew from and the participants on a follow-up plan then (both enrolled that day)
    who had a call-in PIN by the close. Not anyone called that day by then: their call
    is judged by its own window (a specimen, or a missed test), one event one reason."""
    considered = {g["id"] for g in draws.stored_groups(draw)}
    members = await testing_groups.members_on(draw["program"], draw["day"])
    expected = {person for person, group in members.items() if group in considered}
    expected |= {p.participant_id for p in await draws.plans_due(draw["program"], draw["day"])}
    if not expected:
        return set()
    called = await TestingCall.select(TestingCall.participant).where(
        (TestingCall.draw == draw["id"]) & (TestingCall.created_at <= due_by)
    )
    with_pin = await CallInPin.select(CallInPin.participant).where(
        CallInPin.participant.is_in(sorted(expected)) & (CallInPin.set_at <= due_by)
    )
    return {r["participant"] for r in with_pin} - {c["participant"] for c in called}


async def due_by(draw: dict[str, Any]) -> datetime:
    """When the draw's day's check-in closed: with the collection window of the calls it
    made (as the program's settings stood when it was drawn), else the program's window
    for that day now."""
    drawn = (
        await TestingCall.select(TestingCall.window_closes_at)
        .where((TestingCall.draw == draw["id"]) & (TestingCall.reason != CallReason.for_cause))
        .order_by(TestingCall.window_closes_at)
        .first()
    )
    if drawn is not None:
        return drawn["window_closes_at"]
    _, closes = await draws.window_of(draw["program"], draw["day"])
    return closes


async def record_missed(now: datetime | None = None) -> int:
    """The windows job: for each drawn day whose check-in has closed and that has not
    been judged, record who did not check in; how many. Each day in a transaction of its
    own, judged once (``CheckInSweep``) however many workers run it at once."""
    now = now or datetime.now(UTC)
    recorded = 0
    pending = (
        await TestingDraw.select()
        .where(
            (TestingDraw.day >= (now - LOOK_BACK).date())
            & TestingDraw.id.not_in(CheckInSweep.select(CheckInSweep.draw))
        )
        .order_by(TestingDraw.id)
    )
    for row in pending:
        closed = await due_by(row)
        if closed >= now:
            continue  # still open: only a closed check-in is judged
        async with db.transaction():
            await db.serialize("check_in_sweep")
            if not await CheckInSweep.exists().where(CheckInSweep.draw == row["id"]):
                recorded += await _judge_day(row, closed)
    return recorded


async def _judge_day(draw: dict[str, Any], closed: datetime) -> int:
    expected = await expected_on(draw, closed)
    checked = {
        r["participant"]
        for r in await CallInCheck.select(CallInCheck.participant).where(
            CallInCheck.participant.is_in(sorted(expected) or [0])
            & (CallInCheck.day == draw["day"])
            & (CallInCheck.checked_at <= closed)
        )
    }
    missing = sorted(expected - checked)
    if missing:
        await db.insert_many(
            MissedCheckIn,
            [{"draw": draw["id"], "participant": p, "due_by": closed} for p in missing],
        )
    await CheckInSweep(draw=draw["id"], missed=len(missing)).save()
    await audit.record(
        "testing.check_ins_judged",
        audit.SYSTEM,
        "testing_draw",
        draw["id"],
        {"expected": len(expected), "missed": len(missing)},
    )
    if missing and await counts(draw["program"]):
        await violations.refresh(missing)
    return len(missing)


async def counts(program_id: int) -> bool:
    """Does the program's policy count missed check-ins?"""
    row = (
        await Program.select(Program.missed_check_in_counts).where(Program.id == program_id).first()
    )
    return bool(row and row["missed_check_in_counts"])


async def excuse(
    principal: Principal,
    missed_id: int,
    data: dict[str, Any],
    origin: str = "",
    *,
    participant_id: int | None = None,
    program_id: int | None = None,
) -> MissedCheckInView:
    """Excuse a missed check-in, with the reason: a record beside it. Its violation, if
    the program counts it, is withdrawn in the same transaction. ``participant_id`` or
    ``program_id``: the page it was asked from, whose miss it must be."""
    row = await access.participant_record(principal, MissedCheckIn, missed_id, "missed check-in")
    if participant_id is not None and row["participant"] != participant_id:
        raise access.NotFound("no such missed check-in")
    if program_id is not None and not await draws.drawn_in(row["draw"], program_id):
        raise access.NotFound("no such missed check-in")
    form = Form(data)
    reason = form.text("reason", max_length=2000)
    form.errors.raise_if_any()
    async with db.transaction(touching=row["participant"]):
        await db.serialize(f"check_in_excuse:{missed_id}")
        if await MissedCheckInExcuse.exists().where(MissedCheckInExcuse.missed == missed_id):
            raise InvalidInput([FieldError("missed", "this missed check-in is excused already")])
        await MissedCheckInExcuse(missed=missed_id, reason=reason, excused_by=principal.id).save()
        await audit.record(
            "testing.check_in_excused",
            principal.actor(origin),
            "participant",
            row["participant"],
            {"missed_check_in": missed_id},
        )
        await violations.refresh([row["participant"]])
    [view] = await _views([missed_id])
    return view


async def of_participant(principal: Principal, participant_id: int) -> list[MissedCheckInView]:
    """The participant's missed check-ins, newest first."""
    await access.participant_row(principal, participant_id)
    rows = await MissedCheckIn.select(MissedCheckIn.id).where(
        MissedCheckIn.participant == participant_id
    )
    return await _views([r["id"] for r in rows])


async def of_program(principal: Principal, program_id: int, since: date) -> list[MissedCheckInView]:
    """The program's missed check-ins on days from ``since``, newest first."""
    access.require_program(principal, program_id)
    rows = await MissedCheckIn.select(MissedCheckIn.id).where(
        (MissedCheckIn.draw.program == program_id) & (MissedCheckIn.draw.day >= since)
    )
    return await _views([r["id"] for r in rows])


async def _views(ids: list[int]) -> list[MissedCheckInView]:
    if not ids:
        return []
    rows = await MissedCheckIn.select(
        MissedCheckIn.all_columns(),
        MissedCheckIn.draw.day.as_alias("day"),
        MissedCheckIn.participant.client_id.as_alias("client_id"),
        MissedCheckIn.participant.first_name.as_alias("first_name"),
        MissedCheckIn.participant.last_name.as_alias("last_name"),
        MissedCheckIn.draw.program.missed_check_in_counts.as_alias("policy"),
    ).where(MissedCheckIn.id.is_in(ids))
    excuses = {
        e["missed"]: e
        for e in await MissedCheckInExcuse.select(
            MissedCheckInExcuse.all_columns(),
            MissedCheckInExcuse.excused_by.full_name.as_alias("by"),
        ).where(MissedCheckInExcuse.missed.is_in(ids))
    }
    views = [
        MissedCheckInView(
            r["id"],
            r["participant"],
            r["client_id"],
            r["first_name"],
            r["last_name"],
            r["day"],
            r["due_by"],
            r["recorded_at"],
            (e := excuses.get(r["id"], {})).get("excused_at"),
            e.get("by", ""),
            e.get("reason", ""),
            bool(r["policy"]) and not e,
        )
        for r in rows
    ]
    views.sort(key=lambda v: (v.last_name, v.first_name))
    views.sort(key=lambda v: v.day, reverse=True)
    return views
