"""Standing groups: a weekly schedule and its members, so tonight's roster lists the
group, and sessions are scheduled ahead (attendance is taken once they start).

Pages and the JSON API call these functions. Membership is kept with when it ended,
so the roster of a meeting held before someone left still lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.rows import view_of
from compliance.core.validation import MAX_ID, Errors, Form, localize
from compliance.core.vocabulary import SessionType, Weekday
from compliance.records.attendance import (
    MAX_AHEAD,
    MAX_SESSION_MINUTES,
    SessionView,
    get_session,
)
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    GroupMember,
    Participant,
    Program,
    SessionParticipant,
    TreatmentGroup,
    TreatmentSession,
)

CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(:00)?$")
DAY_WORDS = {
    Weekday.mon: "Mon",
    Weekday.tue: "Tue",
    Weekday.wed: "Wed",
    Weekday.thu: "Thu",
    Weekday.fri: "Fri",
    Weekday.sat: "Sat",
    Weekday.sun: "Sun",
}


@dataclass
class MemberView:
    participant_id: int
    client_id: str
    first_name: str
    last_name: str
    active: bool  # not discharged
    added_at: datetime


@dataclass
class GroupView:
    id: int
    program_id: int
    name: str
    session_type: str
    scheduled_minutes: int
    weekdays: list[str] = field(metadata={"description": "mon, tue, … sun"})
    start_time: str = field(metadata={"description": "HH:MM on the program's clock"})
    location: str
    facilitator_name: str
    members: list[MemberView]

    @property
    def schedule(self) -> str:
        """ "Mon, Wed, Thu 18:00", as the pages say it."""
        days = ", ".join(DAY_WORDS[Weekday(d)] for d in self.weekdays)
        return f"{days} {self.start_time}"


@dataclass
class ScheduledSessions:
    """What scheduling made: ``created`` new sessions; ``sessions`` every one asked for,
    including those already there (scheduling twice makes nothing twice)."""

    created: int
    sessions: list[SessionView]


@dataclass
class Meeting:
    """A group's meeting on a given day, and its session if it has been made."""

    group: GroupView
    starts_at: datetime
    session_id: int | None


# --- reading ----------------------------------------------------------------------


async def _members(group_ids: list[int]) -> dict[int, list[MemberView]]:
    rows = (
        await GroupMember.select(
            GroupMember.treatment_group,
            GroupMember.participant,
            GroupMember.added_at,
            GroupMember.participant.client_id,
            GroupMember.participant.first_name,
            GroupMember.participant.last_name,
            GroupMember.participant.discharged_on,
        )
        .where(
            GroupMember.treatment_group.is_in(group_ids or [0]) & GroupMember.removed_at.is_null()
        )
        .order_by(GroupMember.participant.last_name)
        .order_by(GroupMember.participant.first_name)
    )
    found: dict[int, list[MemberView]] = {g: [] for g in group_ids}
    for r in rows:
        found[r["treatment_group"]].append(
            MemberView(
                r["participant"],
                r["participant.client_id"],
                r["participant.first_name"],
                r["participant.last_name"],
                r["participant.discharged_on"] is None,
                r["added_at"],
            )
        )
    return found


def _view(row: dict[str, Any], members: list[MemberView]) -> GroupView:
    return view_of(GroupView, row, weekdays=_ordered(row["weekdays"]), members=members)


def _ordered(days: Iterable[str]) -> list[str]:
    return [d.value for d in Weekday if d.value in set(days)]


async def _group_row(principal: Principal, group_id: int) -> dict[str, Any]:
    return await access.program_record(principal, TreatmentGroup, group_id, "group")


async def get_group(principal: Principal, group_id: int) -> GroupView:
    row = await _group_row(principal, group_id)
    return _view(row, (await _members([row["id"]]))[row["id"]])


async def list_groups(principal: Principal, program_id: int | None = None) -> list[GroupView]:
    programs = access.covered_programs(principal, program_id)
    rows = (
        await TreatmentGroup.select()
        .where(TreatmentGroup.program.is_in(programs or [0]))
        .order_by(TreatmentGroup.name)
    )
    members = await _members([r["id"] for r in rows])
    return [_view(r, members[r["id"]]) for r in rows]


# --- writing ----------------------------------------------------------------------


def _read(form: Form) -> dict[str, Any]:
    """A group's fields, checked; the same for creating and changing one."""
    values: dict[str, Any] = {"name": form.text("name")}
    kind = form.choice("session_type", SessionType, required=False) or SessionType.group
    if kind is SessionType.twelve_step:
        form.errors.add("session_type", "outside meetings are recorded per participant")
    values["session_type"] = kind.value
    values["scheduled_minutes"] = form.integer(
        "scheduled_minutes", minimum=1, maximum=MAX_SESSION_MINUTES
    )
    values["weekdays"] = _weekdays(form)
    values["start_time"] = _clock(form)
    values["location"] = form.text("location", required=False)
    values["facilitator_name"] = form.text("facilitator_name", required=False)
    return values


def _weekdays(form: Form) -> list[str]:
    raw = form.data.get("weekdays")
    given = [raw] if isinstance(raw, str) else list(raw or [])
    days: list[str] = []
    for value in given:
        try:
            days.append(Weekday(str(value).strip().lower()[:3]).value)
        except ValueError:
            form.errors.add("weekdays", f"{value!r} is not a day of the week (mon … sun)")
    if not given:
        form.errors.add("weekdays", "choose at least one day")
    return _ordered(days)


def _clock(form: Form) -> str:
    text = form.text("start_time", max_length=8)
    match = CLOCK.match(text)
    if text and not match:
        form.errors.add("start_time", f"{text!r} is not a time of day (HH:MM, 24-hour)")
        return ""
    return f"{int(match.group(1)):02d}:{match.group(2)}" if match else ""


async def create_group(principal: Principal, data: Mapping[str, Any], origin: str) -> GroupView:
    form = Form(data)
    program_id = form.integer("program_id")
    if program_id is not None and program_id not in principal.program_ids:
        form.errors.add("program_id", "is not one of your programs")
    values = _read(form)
    form.errors.raise_if_any()
    async with db.transaction():
        row = TreatmentGroup(program=program_id, created_by=principal.id, **values)
        await row.save()
        await audit.record("group.create", principal.actor(origin), "group", row.id)
    return await get_group(principal, row.id)


async def update_group(
    principal: Principal, group_id: int, data: Mapping[str, Any], origin: str
) -> GroupView:
    """A new schedule or place applies to sessions scheduled from now on; sessions
    already made keep theirs (attendance may have been taken at them)."""
    await _group_row(principal, group_id)
    form = Form(data)
    values = _read(form)
    form.errors.raise_if_any()
    async with db.transaction():
        await TreatmentGroup.update(values).where(TreatmentGroup.id == group_id)
        await audit.record("group.update", principal.actor(origin), "group", group_id)
    return await get_group(principal, group_id)


def _ids(raw: Any, errors: Errors, name: str = "participant_ids") -> list[int]:
    values = raw if isinstance(raw, list | tuple) else [raw] if raw not in (None, "") else []
    ids: list[int] = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors.add(name, f"{value!r} is not a participant id")
            continue
        if number not in ids:
            ids.append(number)
    if not values:
        errors.add(name, "choose at least one client")
    return ids


async def _program_people(
    program_id: int, ids: list[int], errors: Errors, day: date | None = None
) -> dict[int, dict[str, Any]]:
    """The named participants, each checked to be the program's and enrolled (on
    ``day``, or now); problems into ``errors``."""
    rows = {
        r["id"]: r
        for r in await Participant.select().where(
            Participant.id.is_in([i for i in ids if 0 < i <= MAX_ID] or [0])
        )
    }
    for pid in ids:
        person = rows.get(pid)
        if person is None or person["program"] != program_id:
            errors.add("participant_ids", f"{pid} is not a client of this program")
        elif day is not None and not access.enrolled_on(person, day):
            errors.add(
                "participant_ids",
                f"{person['first_name']} {person['last_name']} is not enrolled on {day}",
            )
        elif day is None and person["discharged_on"] is not None:
            errors.add(
                "participant_ids", f"{person['first_name']} {person['last_name']} was discharged"
            )
    return rows


async def add_members(
    principal: Principal, group_id: int, participant_ids: Any, origin: str
) -> GroupView:
    """Clients join the group; those already in it stay as they are."""
    group = await _group_row(principal, group_id)
    errors = Errors()
    ids = _ids(participant_ids, errors)
    await _program_people(group["program"], ids, errors)
    errors.raise_if_any()
    async with db.transaction():
        await db.serialize(f"group:{group_id}")
        current = {
            r["participant"]
            for r in await GroupMember.select(GroupMember.participant).where(
                (GroupMember.treatment_group == group_id) & GroupMember.removed_at.is_null()
            )
        }
        new = [pid for pid in ids if pid not in current]
        if new:
            await GroupMember.insert(
                *[
                    GroupMember(treatment_group=group_id, participant=pid, added_by=principal.id)
                    for pid in new
                ]
            )
        await audit.record(
            "group.members.add", principal.actor(origin), "group", group_id, {"added": len(new)}
        )
    return await get_group(principal, group_id)


async def remove_member(
    principal: Principal, group_id: int, participant_id: int, origin: str
) -> GroupView:
    """The client leaves the group from now on; meetings before stay as they were."""
    await _group_row(principal, group_id)
    async with db.transaction():
        await db.serialize(f"group:{group_id}")
        member = (
            await GroupMember.select(GroupMember.id)
            .where(
                (GroupMember.treatment_group == group_id)
                & (GroupMember.participant == participant_id)
                & GroupMember.removed_at.is_null()
            )
            .first()
        )
        if member is None:
            raise access.NotFound("not a member of this group")
        await GroupMember.update({GroupMember.removed_at: datetime.now(UTC)}).where(
            GroupMember.id == member["id"]
        )
        await audit.record(
            "group.members.remove",
            principal.actor(origin),
            "group",
            group_id,
            {"participant": participant_id},
        )
    return await get_group(principal, group_id)


# --- schedule ---------------------------------------------------------------------


async def _program(program_id: int) -> dict[str, Any]:
    return await Program.select().where(Program.id == program_id).first()


def week_of(day: date, starts_on: int) -> list[date]:
    """The program's week (it starts on ``starts_on``, 0 Monday) holding ``day``."""
    first = day - timedelta(days=(day.weekday() - starts_on) % 7)
    return [first + timedelta(days=n) for n in range(7)]


def _meeting_at(group: GroupView | dict[str, Any], day: date, tz: ZoneInfo) -> datetime | None:
    clock = group.start_time if isinstance(group, GroupView) else group["start_time"]
    hour, minute = (int(p) for p in clock.split(":"))
    return localize(datetime.combine(day, time(hour, minute)), tz)


async def schedule_sessions(
    principal: Principal,
    group_id: int,
    data: Mapping[str, Any],
    origin: str,
    now: datetime | None = None,
) -> ScheduledSessions:
    """The group's sessions for one day (``on``: tonight's, or an extra meeting) or for
    the program's week holding ``week_of`` (by default this week), at the group's time.
    A meeting already scheduled is kept, never made twice."""
    group = await get_group(principal, group_id)
    program = await _program(group.program_id)
    tz = ZoneInfo(program["time_zone"])
    now = now or datetime.now(UTC)
    form = Form(data)
    on = form.date("on", required=False, not_future=False)
    week = form.date("week_of", required=False, not_future=False)
    if on is not None and week is not None:
        form.errors.add("on", "give either a day or a week, not both")
    form.errors.raise_if_any()
    if on is not None:
        days = [on]
    else:
        wanted = {Weekday(d).number for d in group.weekdays}
        days = [
            d
            for d in week_of(week or now.astimezone(tz).date(), program["week_starts_on"])
            if d.weekday() in wanted
        ]
    moments = []
    for day in days:
        at = _meeting_at(group, day, tz)
        if at is None:
            form.errors.add("start_time", f"{group.start_time} does not exist on {day} (DST)")
        elif at > now + MAX_AHEAD:
            form.errors.add("on" if on else "week_of", f"{day} is more than a year ahead")
        else:
            moments.append(at)
    form.errors.raise_if_any()
    created: list[int] = []
    async with db.transaction():
        await db.serialize(f"group:{group_id}")
        existing = {
            r["starts_at"]: r["id"]
            for r in await TreatmentSession.select(
                TreatmentSession.id, TreatmentSession.starts_at
            ).where(
                (TreatmentSession.treatment_group == group_id)
                & TreatmentSession.starts_at.is_in(moments or [now])
                & TreatmentSession.cancelled_at.is_null()
            )
        }
        ids = []
        for at in moments:
            found = next((sid for moment, sid in existing.items() if moment == at), None)
            if found is None:
                row = TreatmentSession(
                    program=group.program_id,
                    session_type=group.session_type,
                    title=group.name,
                    starts_at=at,
                    scheduled_minutes=group.scheduled_minutes,
                    facilitator=principal.id,
                    facilitator_name=group.facilitator_name,
                    location=group.location,
                    treatment_group=group_id,
                )
                await row.save()
                found = row.id
                created.append(found)
            ids.append(found)
        if created:
            await audit.record(
                "group.schedule", principal.actor(origin), "group", group_id, {"sessions": created}
            )
    return ScheduledSessions(len(created), [await get_session(principal, i) for i in ids])


async def meetings_on(
    principal: Principal, now: datetime | None = None, groups: list[GroupView] | None = None
) -> list[Meeting]:
    """Each group's meeting today (the program's today), with its session once made:
    what the sessions page puts first."""
    now = now or datetime.now(UTC)
    groups = groups if groups is not None else await list_groups(principal)
    meetings: list[Meeting] = []
    zones: dict[int, ZoneInfo] = {}
    for g in groups:
        if g.program_id not in zones:
            zones[g.program_id] = ZoneInfo((await _program(g.program_id))["time_zone"])
        today = now.astimezone(zones[g.program_id]).date()
        at = _meeting_at(g, today, zones[g.program_id])
        if at is None or list(Weekday)[today.weekday()].value not in g.weekdays:
            continue
        meetings.append(Meeting(g, at, None))
    if meetings:
        made = await TreatmentSession.select(
            TreatmentSession.id, TreatmentSession.treatment_group, TreatmentSession.starts_at
        ).where(
            TreatmentSession.treatment_group.is_in([m.group.id for m in meetings])
            & TreatmentSession.starts_at.is_in([m.starts_at for m in meetings])
            & TreatmentSession.cancelled_at.is_null()
        )
        for m in meetings:
            m.session_id = next(
                (
                    r["id"]
                    for r in made
                    if r["treatment_group"] == m.group.id and r["starts_at"] == m.starts_at
                ),
                None,
            )
    return sorted(meetings, key=lambda m: (m.starts_at, m.group.name))


async def upcoming_sessions(
    principal: Principal, group_id: int, now: datetime | None = None, limit: int = 20
) -> list[SessionView]:
    """The group's sessions of this week (the program's) and after, soonest first: what
    "Create this week's sessions" made shows here, days already past included."""
    group = await _group_row(principal, group_id)
    program = await _program(group["program"])
    tz = ZoneInfo(program["time_zone"])
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    start = datetime.combine(week_of(today, program["week_starts_on"])[0], time(0), tz)
    rows = await (
        TreatmentSession.select(TreatmentSession.id)
        .where(
            (TreatmentSession.treatment_group == group_id)
            & (TreatmentSession.starts_at >= start.astimezone(UTC))
            & TreatmentSession.cancelled_at.is_null()
        )
        .order_by(TreatmentSession.starts_at)
        .limit(limit)
    )
    return [await get_session(principal, r["id"]) for r in rows]


# --- who a session expects ----------------------------------------------------------


async def expected(session: SessionView) -> list[int]:
    """Who the session's roster lists: its group's members (as they were when it
    started) and the clients named for it (an individual session's one client, those
    added to an ad-hoc session)."""
    ids = [
        r["participant"]
        for r in await SessionParticipant.select(SessionParticipant.participant).where(
            SessionParticipant.session == session.id
        )
    ]
    if session.group_id is not None:
        members = await GroupMember.select(GroupMember.participant).where(
            (GroupMember.treatment_group == session.group_id)
            & (GroupMember.removed_at.is_null() | (GroupMember.removed_at > session.starts_at))
        )
        ids += [r["participant"] for r in members]
    return list(dict.fromkeys(ids))


async def add_session_participants(
    principal: Principal, session_id: int, participant_ids: Any, origin: str
) -> list[int]:
    """Clients added to a session's roster (an ad-hoc session, or a guest at a group's
    meeting); returns everyone the roster now lists."""
    session = await get_session(principal, session_id)
    tz = await access.program_tz(session.program_id)
    errors = Errors()
    ids = _ids(participant_ids, errors)
    await _program_people(session.program_id, ids, errors, session.starts_at.astimezone(tz).date())
    errors.raise_if_any()
    async with db.transaction():
        await db.serialize(f"session:{session_id}")
        listed = set(await expected(session))
        new = [pid for pid in ids if pid not in listed]
        if new:
            await SessionParticipant.insert(
                *[
                    SessionParticipant(session=session_id, participant=pid, added_by=principal.id)
                    for pid in new
                ]
            )
        await audit.record(
            "session.participants.add",
            principal.actor(origin),
            "session",
            session_id,
            {"added": len(new)},
        )
    return await expected(session)


__all__ = ["GroupView", "Meeting", "MemberView", "ScheduledSessions"]
