"""The daily draw: once per program and day, before the day's call-in, stored and
audited, never changed.

``draw`` is idempotent: the first call for a program and day draws (odds.py, with the
operating system's CSPRNG) and stores the result with its SHA-256 in the audit trail;
every later call, from the scheduler, the CLI, the API or another instance at the same
moment, returns the stored draw. A day may be drawn today or the day before it (so a
program can post tomorrow's calls the evening before); never a past day, whose
call-in is over, and never further ahead, which would let the calls be known early.

A call for cause is added to the day's draw as a call of its own, with who and why; it
changes nothing drawn.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.validation import FieldError, Form, InvalidInput, localize
from compliance.core.vocabulary import CallReason, TestReason
from compliance.random_testing import groups as testing_groups
from compliance.random_testing import odds, windows
from compliance.records import followup_plans
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    DrugTest,
    FollowUpPlan,
    Program,
    TestingCall,
    TestingCallExcuse,
    TestingDraw,
    TestingGroup,
)

DAYS_AHEAD = 1  # tomorrow's draw may be made today; no further


@dataclass(frozen=True)
class GroupOdds:
    id: int
    name: str
    tests_per_week: int
    called: bool


@dataclass(frozen=True)
class CallView:
    id: int
    participant_id: int
    client_id: str
    first_name: str
    last_name: str
    reason: str
    group_name: str
    note: str
    called_by: str
    created_at: datetime
    window_opens_at: datetime
    window_closes_at: datetime
    state: str  # called (window not closed), collected, missed or excused (windows.py)
    drug_test_id: int | None  # the specimen that answered it, or the missed test


@dataclass(frozen=True)
class DrawView:
    id: int
    program_id: int
    day: date
    drawn_at: datetime
    drawn_by: str
    digest: str
    groups: list[GroupOdds]
    calls: list[CallView]


@dataclass(frozen=True)
class PlanDue:
    """A follow-up plan's year as of a day: how many plan calls it still needs."""

    participant_id: int
    still_due: int
    days_left: int


# --- who is called (pure, given the day's facts) ----------------------------------


def choose(
    groups: Iterable[dict[str, Any]],
    members: dict[int, int],
    plans: Iterable[PlanDue],
    chance: odds.Chance,
) -> tuple[list[GroupOdds], dict[int, tuple[CallReason, int | None]]]:
    """The groups drawn and {participant: (reason, group)}. A participant called by their
    plan and their group is called once, for the plan (its count is what must be met)."""
    drawn = [
        GroupOdds(
            g["id"], g["name"], g["tests_per_week"], odds.group_called(g["tests_per_week"], chance)
        )
        for g in groups
    ]
    called_groups = {g.id for g in drawn if g.called}
    calls: dict[int, tuple[CallReason, int | None]] = {
        person: (CallReason.group, group)
        for person, group in members.items()
        if group in called_groups
    }
    for plan in plans:
        if odds.plan_day_called(plan.still_due, plan.days_left, chance):
            calls[plan.participant_id] = (
                CallReason.follow_up_plan,
                members.get(plan.participant_id),
            )
    return drawn, calls


def digest_of(program_id: int, day: date, drawn: list[GroupOdds], calls: dict[int, Any]) -> str:
    """What the audit event holds of a draw: enough to show later that the stored draw is
    the one drawn, and no health information in the trail itself."""
    canonical = {
        "program": program_id,
        "day": day.isoformat(),
        "groups": [[g.id, g.tests_per_week, g.called] for g in drawn],
        "calls": sorted([p, str(r), g] for p, (r, g) in calls.items()),
    }
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()


# --- the draw, stored ---------------------------------------------------------------


async def draw(
    program_id: int,
    day: date | None,
    actor: audit.Actor,
    *,
    chance: odds.Chance | None = None,
    today: date | None = None,
) -> tuple[DrawView, bool]:
    """The program's draw for ``day`` (default: today on its clock), and whether this
    call made it. Callers have checked the actor may draw for the program. ``today``:
    the program's today (simulations of many days pass theirs)."""
    today = today or await access.program_today(program_id)
    day = day or today
    _check_day(day, today)
    existing = await _draw_row(program_id, day)
    if existing is not None:
        return await _view(existing), False
    groups = await _groups_in_draw(program_id)
    members = await testing_groups.members_on(program_id, day)
    plans = await plans_due(program_id, day)
    drawn, calls = choose(groups, members, plans, chance or secrets.randbelow)
    digest = digest_of(program_id, day, drawn, calls)
    opens, closes = await window_of(program_id, day)
    async with db.transaction():
        await db.serialize(f"testing_draw:{program_id}")
        existing = await _draw_row(program_id, day)  # made meanwhile, elsewhere
        if existing is None:
            row = TestingDraw(
                program=program_id,
                day=day,
                drawn_by=actor.ref,
                groups=json.dumps([g.__dict__ for g in drawn]),
                digest=digest,
            )
            await row.save()
            for participant, (reason, group) in sorted(calls.items()):
                await TestingCall(
                    draw=row.id,
                    participant=participant,
                    reason=reason,
                    testing_group=group,
                    called_by=actor.ref,
                    window_opens_at=opens,
                    window_closes_at=closes,
                ).save()
            await audit.record(
                "testing.draw",
                actor,
                "testing_draw",
                row.id,
                {
                    "program": program_id,
                    "day": day.isoformat(),
                    "groups_called": sum(g.called for g in drawn),
                    "calls": len(calls),
                    "digest": digest,
                },
            )
    if existing is not None:
        return await _view(existing), False
    made = await _draw_row(program_id, day)
    assert made is not None
    return await _view(made), True


async def window_of(
    program_id: int, day: date, called_at: datetime | None = None
) -> tuple[datetime, datetime]:
    """When a call on ``day`` must be answered: from the call-in's opening on the
    program's clock (or from ``called_at``, a call for cause made later that day) for
    the program's collection window."""
    program = (
        await Program.select(
            Program.time_zone, Program.testing_opens_at, Program.collection_window_hours
        )
        .where(Program.id == program_id)
        .first()
    )
    hour, minute = (int(part) for part in program["testing_opens_at"].split(":"))
    opens = localize(datetime.combine(day, time(hour, minute)), ZoneInfo(program["time_zone"]))
    if opens is None:  # the opening falls in a DST gap: an hour later exists
        opens = localize(
            datetime.combine(day, time(hour, minute)) + timedelta(hours=1),
            ZoneInfo(program["time_zone"]),
        )
    assert opens is not None
    if called_at is not None and called_at > opens:
        opens = called_at
    return opens, opens + timedelta(hours=program["collection_window_hours"])


def _check_day(day: date, today: date) -> None:
    if day < today:
        raise InvalidInput(
            [FieldError("date", f"{day.isoformat()} has passed: a day is drawn before its call-in")]
        )
    if day > today + timedelta(days=DAYS_AHEAD):
        raise InvalidInput(
            [
                FieldError(
                    "date",
                    f"{day.isoformat()} is too far ahead: a draw is made on its day or the "
                    "day before, so nobody can know the calls earlier",
                )
            ]
        )


async def draw_for(
    principal: Principal, program_id: int, data: dict[str, Any], origin: str = ""
) -> tuple[DrawView, bool]:
    """Staff asking for a day's draw (page, API): the program is theirs; ``date`` is
    optional (today)."""
    access.require_program(principal, program_id)
    form = Form(data)
    day = form.date("date", required=False, not_future=False)
    form.errors.raise_if_any()
    return await draw(program_id, day, principal.actor(origin))


async def draw_of(principal: Principal, program_id: int, day: date) -> DrawView | None:
    access.require_program(principal, program_id)
    row = await _draw_row(program_id, day)
    return None if row is None else await _view(row)


async def history(principal: Principal, program_id: int, limit: int = 60) -> list[DrawView]:
    access.require_program(principal, program_id)
    rows = (
        await TestingDraw.select()
        .where(TestingDraw.program == program_id)
        .order_by(TestingDraw.day, ascending=False)
        .limit(limit)
    )
    return await _views(rows)


async def call_for_cause(
    principal: Principal, participant_id: int, data: dict[str, Any], origin: str = ""
) -> CallView:
    """Call one participant to test today (or on tomorrow's draw), with the reason. The
    day's draw is made first if it has not been; a participant already called that day
    keeps their call (one call a day) and the answer says so."""
    person = await access.participant_row(principal, participant_id)
    program_id = person["program"]
    form = Form(data)
    day = form.date("date", required=False, not_future=False)
    note = form.text("note", max_length=2000)
    form.errors.raise_if_any()
    today = await access.program_today(program_id)
    if not access.enrolled_on(person, day or today):
        raise InvalidInput([FieldError("participant", "is not enrolled on that day")])
    view, _ = await draw(program_id, day, principal.actor(origin))
    async with db.transaction(touching=participant_id):
        await db.serialize(f"testing_draw:{program_id}")
        if await TestingCall.exists().where(
            (TestingCall.draw == view.id) & (TestingCall.participant == participant_id)
        ):
            raise InvalidInput(
                [FieldError("participant", f"is already called to test on {view.day.isoformat()}")]
            )
        opens, closes = await window_of(program_id, view.day, datetime.now(UTC))
        call = TestingCall(
            draw=view.id,
            participant=participant_id,
            reason=CallReason.for_cause,
            note=note,
            called_by=principal.actor(origin).ref,
            window_opens_at=opens,
            window_closes_at=closes,
        )
        await call.save()
        await audit.record(
            "testing.call_for_cause",
            principal.actor(origin),
            "participant",
            participant_id,
            {"draw": view.id, "day": view.day.isoformat()},
        )
    return await _call_view(view.id, call.id)


async def drawn_in(draw_id: int, program_id: int) -> bool:
    """Whether the draw is that program's: a record asked for from one program's page
    must belong to it, even for a user of both."""
    return await TestingDraw.exists().where(
        (TestingDraw.id == draw_id) & (TestingDraw.program == program_id)
    )


async def excuse_call(
    principal: Principal,
    call_id: int,
    data: dict[str, Any],
    origin: str = "",
    *,
    program_id: int | None = None,
) -> CallView:
    """Excuse a call (the participant is in hospital, in court ...), with the reason: a
    record beside the call, which the draw keeps as drawn. Only while no missed test is
    recorded for it: that one is corrected as a drug test, with its own reason.
    ``program_id``: the program's page it was asked from, whose call it must be."""
    call = await access.participant_record(principal, TestingCall, call_id, "call")
    if program_id is not None and not await drawn_in(call["draw"], program_id):
        raise access.NotFound("no such call")
    form = Form(data)
    reason = form.text("reason", max_length=2000)
    form.errors.raise_if_any()
    async with db.transaction(touching=call["participant"]):
        await db.serialize("testing_windows")  # not while a window's close is recorded
        [state] = await windows.states([call])
        if state.state in ("missed", "collected", "excused"):
            why = {
                "missed": "a missed test is recorded for this call: correct that test instead",
                "collected": "a specimen has answered this call",
                "excused": "this call is excused already",
            }[state.state]
            raise InvalidInput([FieldError("call", why)])
        await TestingCallExcuse(call=call_id, reason=reason, excused_by=principal.id).save()
        await audit.record(
            "testing.call_excused",
            principal.actor(origin),
            "participant",
            call["participant"],
            {"call": call_id},
        )
    return await _call_view(call["draw"], call_id)


async def _call_view(draw_id: int, call_id: int) -> CallView:
    """One call as its draw's view shows it (state included)."""
    draw = await TestingDraw.select().where(TestingDraw.id == draw_id).first()
    return next(c for c in (await _view(draw)).calls if c.id == call_id)


async def draw_due_everywhere(actor: audit.Actor = audit.SYSTEM) -> int:
    """The scheduler's job: today's draw for every program that has not had it (each on
    its own clock). Safe to run on every worker at once and as often as wanted."""
    made = 0
    for row in await Program.select(Program.id).order_by(Program.id):
        _, new = await draw(row["id"], None, actor)
        made += new
    return made


# --- reading ------------------------------------------------------------------------


async def _draw_row(program_id: int, day: date) -> dict[str, Any] | None:
    return (
        await TestingDraw.select()
        .where((TestingDraw.program == program_id) & (TestingDraw.day == day))
        .first()
    )


async def _groups_in_draw(program_id: int) -> list[dict[str, Any]]:
    return (
        await TestingGroup.select(TestingGroup.id, TestingGroup.name, TestingGroup.tests_per_week)
        .where((TestingGroup.program == program_id) & TestingGroup.retired_at.is_null())
        .order_by(TestingGroup.id)
    )


async def plans_due(program_id: int, day: date) -> list[PlanDue]:
    """Each enrolled participant's follow-up plan in force (newest version per mandate)
    whose plan year holds ``day``, with the plan calls it still needs this year."""
    rows = (
        await FollowUpPlan.select(
            FollowUpPlan.all_columns(),
            FollowUpPlan.mandate.participant.as_alias("participant"),
            FollowUpPlan.mandate.participant.admitted_on.as_alias("admitted_on"),
            FollowUpPlan.mandate.participant.discharged_on.as_alias("discharged_on"),
        )
        .where(FollowUpPlan.mandate.participant.program == program_id)
        .order_by(FollowUpPlan.version)
    )
    newest: dict[int, dict[str, Any]] = {}
    for r in rows:
        newest[r["mandate"]] = r
    due: dict[int, PlanDue] = {}
    zone = await access.program_tz(program_id)
    for plan in newest.values():
        years = followup_plans.plan_years(SimpleNamespace(**plan), day)
        year = years[-1] if years else None
        if year is None or day > year.end or not access.enrolled_on(plan, day):
            continue  # before return to duty, or after the plan's months
        done = await _plan_tests_done(plan["participant"], year.start, day, zone)
        days_left = (year.end - day).days + 1
        due[plan["participant"]] = PlanDue(
            plan["participant"], year.tests_required - done, days_left
        )
    return list(due.values())


async def _plan_tests_done(participant_id: int, first: date, day: date, zone: ZoneInfo) -> int:
    """The plan year's tests done before ``day``, as the SAP report counts them (follow-up
    tests collected), together with every specimen that answered a plan call whatever
    reason it was recorded with. A missed plan test is not done: the plan still needs it,
    so the draw calls again on a later day."""
    starts, ends = (datetime.combine(d, time(), tzinfo=zone) for d in (first, day))
    follow_up = await DrugTest.select(DrugTest.id).where(
        (DrugTest.participant == participant_id)
        & (DrugTest.is_current == True)  # noqa: E712
        & (DrugTest.reason == TestReason.follow_up)
        & (DrugTest.collected_at >= starts)
        & (DrugTest.collected_at < ends)
    )
    calls = await TestingCall.select().where(
        (TestingCall.participant == participant_id)
        & (TestingCall.reason == CallReason.follow_up_plan)
        & (TestingCall.draw.day >= first)
        & (TestingCall.draw.day < day)
    )
    answered = {s.drug_test_id for s in await windows.states(calls) if s.state == "collected"}
    return len({r["id"] for r in follow_up} | answered)


def stored_groups(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored draw's groups as drawn (SQLite gives the JSON column as text)."""
    stored = row["groups"]
    return json.loads(stored) if isinstance(stored, str) else stored


async def _view(row: dict[str, Any]) -> DrawView:
    return (await _views([row]))[0]


async def _views(rows: list[dict[str, Any]]) -> list[DrawView]:
    """The draws with their calls and each call's state, in three queries however many
    draws (the day's page lists two weeks of them)."""
    calls = (
        await TestingCall.select(
            TestingCall.all_columns(),
            TestingCall.participant.client_id.as_alias("client_id"),
            TestingCall.participant.first_name.as_alias("first_name"),
            TestingCall.participant.last_name.as_alias("last_name"),
            TestingCall.testing_group.name.as_alias("group_name"),
        )
        .where(TestingCall.draw.is_in([r["id"] for r in rows] or [0]))
        .order_by(TestingCall.participant.last_name)
        .order_by(TestingCall.participant.first_name)
    )
    found = await windows.states(calls)
    by_draw: dict[int, list[CallView]] = {r["id"]: [] for r in rows}
    for c, state in zip(calls, found, strict=True):
        by_draw[c["draw"]].append(
            CallView(
                c["id"],
                c["participant"],
                c["client_id"],
                c["first_name"],
                c["last_name"],
                c["reason"],
                c["group_name"] or "",
                c["note"],
                c["called_by"],
                c["created_at"],
                c["window_opens_at"],
                c["window_closes_at"],
                state.state,
                state.drug_test_id,
            )
        )
    views = []
    for row in rows:
        groups = stored_groups(row)
        views.append(
            DrawView(
                row["id"],
                row["program"],
                row["day"],
                row["drawn_at"],
                row["drawn_by"],
                row["digest"],
                [GroupOdds(**g) for g in groups],
                by_draw[row["id"]],
            )
        )
    return views
