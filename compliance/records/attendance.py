"""Sessions, a whole group's roster at once, outside meetings, and corrections.

Pages, the JSON API and the CSV import all record attendance through here, so the
rules on minutes and on who may attend what live in one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.rows import view_of
from compliance.core.validation import (
    MAX_ID,
    Errors,
    FieldError,
    Form,
    InvalidInput,
    is_record_id,
)
from compliance.core.vocabulary import AttendanceStatus, RecordSource, SessionType
from compliance.engine import violations
from compliance.records import versioning
from compliance.records.duplicates import DuplicateRecord
from compliance.records.versioning import add_version, versions
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import (
    Attendance,
    Participant,
    SessionParticipant,
    TreatmentGroup,
    TreatmentSession,
)

ABSENT = (AttendanceStatus.absent_excused, AttendanceStatus.absent_unexcused)
MAX_SESSION_MINUTES = 600
MAX_AHEAD = timedelta(days=366)  # sessions are scheduled at most a year ahead


@dataclass
class SessionView:
    id: int
    program_id: int
    session_type: str
    title: str
    starts_at: datetime
    scheduled_minutes: int
    facilitator_name: str
    location: str
    group_id: int | None = None


@dataclass
class AttendanceView:
    id: int
    record_uid: str
    version: int
    is_current: bool
    corrects: int | None
    participant_id: int
    session_id: int | None
    session_type: str
    occurred_at: datetime
    scheduled_minutes: int
    status: str
    minutes_attended: int
    meeting_name: str
    proof: str
    note: str
    source: str
    recorded_by: str
    recorded_at: datetime
    correction_reason: str


def _session_view(row: dict[str, Any]) -> SessionView:
    return view_of(SessionView, row, group_id=row["treatment_group"])


async def _attendance_views(rows: list[dict[str, Any]]) -> list[AttendanceView]:
    names = await versioning.recorders(rows)
    return [view_of(AttendanceView, r, **versioning.version_fields(r, names)) for r in rows]


# --- minutes: the one rule for pages, API and CSV import --------------------------

ATTENDED, LATE, LEFT_EARLY = "minutes_attended", "minutes_late", "minutes_left_early"
PARTIAL = (AttendanceStatus.late, AttendanceStatus.left_early)


@dataclass(frozen=True)
class Minutes:
    attended: int
    late: int
    left_early: int


def judge_minutes(
    status: AttendanceStatus,
    scheduled: int,
    *,
    attended: int | None = None,
    late: int | None = None,
    left_early: int | None = None,
) -> tuple[Minutes, list[FieldError]]:
    """Minutes attended from what staff know, and what is wrong with it.

    People say "30 minutes late", not "150 minutes attended": given ``late`` or
    ``left_early`` the minutes attended are computed (and ``attended``, if also given,
    must agree). Given ``attended`` alone (older API clients, the CSV format), what was
    missed is read from the status. Present is the whole session and an absence none;
    late and left early must have missed some minutes, and not all of them.
    """
    problems: list[FieldError] = []

    def bad(field: str, reason: str) -> None:
        problems.append(FieldError(field, reason))

    split = late is not None or left_early is not None
    late, left_early = late or 0, left_early or 0
    if status is AttendanceStatus.present:
        if late:
            bad(LATE, "must be 0 for present; choose late for someone who came late")
        if left_early:
            bad(LEFT_EARLY, "must be 0 for present; choose left early for someone who left")
        if attended is not None and attended != scheduled:
            bad(
                ATTENDED,
                f"present means all {scheduled} minutes; use late or left early for fewer",
            )
        return Minutes(scheduled, 0, 0), problems
    if status in ABSENT:
        for field, given in ((LATE, late), (LEFT_EARLY, left_early), (ATTENDED, attended)):
            if given:
                bad(field, "must be 0 for an absence")
        return Minutes(0, 0, 0), problems
    word = "late" if status is AttendanceStatus.late else "left early"
    if not split:
        if attended is None:
            field = LATE if status is AttendanceStatus.late else LEFT_EARLY
            bad(field, f"is required for {word}: how many minutes were missed")
            return Minutes(0, 0, 0), problems
        if attended >= scheduled:
            bad(ATTENDED, f"must be less than {scheduled} for {word}; choose present for all")
        elif attended <= 0:
            bad(ATTENDED, "must be more than 0; choose an absence for none")
        missed = max(scheduled - attended, 0)
        if status is AttendanceStatus.late:
            return Minutes(attended, missed, 0), problems
        return Minutes(attended, 0, missed), problems
    if status is AttendanceStatus.late and late <= 0:
        bad(LATE, "must be more than 0 for late")
    if status is AttendanceStatus.left_early and left_early <= 0:
        bad(LEFT_EARLY, "must be more than 0 for left early")
    computed = scheduled - late - left_early
    if computed <= 0:
        field = LEFT_EARLY if status is AttendanceStatus.left_early else LATE
        bad(
            field,
            f"late and left early together ({late + left_early}) must be less than the "
            f"{scheduled} scheduled minutes; choose an absence if the whole session was missed",
        )
    elif attended is not None and attended != computed:
        bad(
            ATTENDED,
            f"is {attended}, but {scheduled} scheduled minus {late} late and {left_early} "
            f"left early is {computed}",
        )
    return Minutes(max(computed, 0), late, left_early), problems


def minutes_for(form: Form, status: AttendanceStatus | None, scheduled: int | None) -> Minutes:
    """``judge_minutes`` over a form's (or a JSON body's) fields, errors into the form."""
    if status is None or scheduled is None:
        return Minutes(0, 0, 0)
    before = len(form.errors.items)
    attended = form.integer(ATTENDED, required=False, minimum=0, maximum=scheduled)
    late = form.integer(LATE, required=False, minimum=0, maximum=scheduled)
    left_early = form.integer(LEFT_EARLY, required=False, minimum=0, maximum=scheduled)
    if len(form.errors.items) > before:
        return Minutes(0, 0, 0)  # unreadable numbers: judging them would repeat the error
    minutes, problems = judge_minutes(
        status, scheduled, attended=attended, late=late, left_early=left_early
    )
    form.errors.items.extend(problems)
    return minutes


def recorded_minutes(record: AttendanceView) -> Minutes:
    """A stored record as the roster and the correction form show it: what was missed
    is said as minutes late or left early, by the status."""
    missed = record.scheduled_minutes - record.minutes_attended
    if record.status == AttendanceStatus.late:
        return Minutes(record.minutes_attended, missed, 0)
    if record.status == AttendanceStatus.left_early:
        return Minutes(record.minutes_attended, 0, missed)
    return Minutes(record.minutes_attended, 0, 0)


# --- the one way attendance is written, and what makes two records one -------------


@dataclass
class NewAttendance:
    """A checked attendance record (a roster entry, an outside meeting, an import row)
    ready to store as version 1."""

    participant_id: int
    session_id: int | None
    session_type: str
    occurred_at: datetime
    scheduled_minutes: int
    status: str
    minutes_attended: int
    meeting_name: str = ""
    proof: str = ""
    note: str = ""


async def store_attendance(
    records: Sequence[NewAttendance],
    *,
    user_id: int | None,
    source: RecordSource,
    import_batch: int | None = None,
) -> list[int]:
    """Version 1 of each record, in one bulk insert however many there are: the one
    write path for rosters, outside meetings and the CSV import. Ids come back in the
    order given. The caller owns the transaction and has checked the records,
    duplicates included (``attendance_key``)."""
    if not records:
        return []
    uids = [uuid.uuid4() for _ in records]
    await db.insert_many(
        Attendance,
        [
            {
                "record_uid": uid,
                "participant": r.participant_id,
                "session": r.session_id,
                "session_type": r.session_type,
                "occurred_at": r.occurred_at,
                "scheduled_minutes": r.scheduled_minutes,
                "status": r.status,
                "minutes_attended": r.minutes_attended,
                "meeting_name": r.meeting_name,
                "proof": r.proof,
                "note": r.note,
                "source": source.value,
                "import_batch": import_batch,
                "recorded_by": user_id,
            }
            for uid, r in zip(uids, records, strict=True)
        ],
    )
    return await versioning.first_version_ids(Attendance, uids, import_batch)


def attendance_key(participant_id: int, session_type: str, occurred_at: datetime) -> tuple:
    """What makes two attendance records one, on every path (roster, outside meeting,
    CSV): the same client, kind of session and start time."""
    return (participant_id, str(session_type), occurred_at.astimezone(UTC))


async def current_by_key(participant_ids: Sequence[int]) -> dict[tuple, dict[str, Any]]:
    """The current attendance of these participants by ``attendance_key``."""
    rows = await Attendance.select().where(
        Attendance.participant.is_in(list(participant_ids) or [0]) & Attendance.is_current.eq(True)
    )
    found: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        key = attendance_key(row["participant"], row["session_type"], row["occurred_at"])
        found.setdefault(key, row)
    return found


def stored_words(stored: Mapping[str, Any], zone: ZoneInfo) -> str:
    """The stored record a duplicate points at, as staff would find it."""
    kind = stored["session_type"].replace("_", " ")
    named = f" '{stored['meeting_name']}'" if stored["meeting_name"] else ""
    status = stored["status"].replace("_", " ")
    return (
        f"attendance {stored['id']} ({kind}{named}, {spoken(stored['occurred_at'], zone)}, "
        f"{status})"
    )


def duplicate_of(stored: Mapping[str, Any], field: str, zone: ZoneInfo) -> DuplicateRecord:
    url = f"/attendance/{stored['id']}"
    return DuplicateRecord(
        field,
        f"is already recorded for this client: {stored_words(stored, zone)}, at {url}; "
        "open it to correct it rather than recording it again",
        stored["id"],
        url,
    )


async def sessions_for(
    program_id: int, wanted: Sequence[tuple[str, datetime, int, str]]
) -> dict[tuple[str, datetime, int], int]:
    """The program's session for each (type, start, minutes, title) wanted, made when
    there is none yet: an imported row of a session nobody set up still belongs to one,
    so a later roster of it finds the same records. Keys are (type, start in UTC,
    minutes). Caller owns the transaction."""
    found: dict[tuple[str, datetime, int], int] = {}
    for s in await TreatmentSession.select().where(TreatmentSession.program == program_id):
        key = (s["session_type"], s["starts_at"].astimezone(UTC), s["scheduled_minutes"])
        found.setdefault(key, s["id"])
    for session_type, starts_at, minutes, title in wanted:
        key = (session_type, starts_at.astimezone(UTC), minutes)
        if key not in found:
            row = TreatmentSession(
                program=program_id,
                session_type=session_type,
                title=title,
                starts_at=starts_at,
                scheduled_minutes=minutes,
            )
            await row.save()
            found[key] = row.id
    return found


# --- sessions -----------------------------------------------------------------------


def has_started(session: SessionView | Mapping[str, Any], now: datetime | None = None) -> bool:
    """Attendance is taken once a session has begun, never for one still to come."""
    starts = session.starts_at if isinstance(session, SessionView) else session["starts_at"]
    return starts <= (now or datetime.now(UTC))


async def create_session(
    principal: Principal, data: Mapping[str, Any], origin: str, now: datetime | None = None
) -> SessionView:
    """A session, held or still to come (up to a year ahead: tonight's group is set up
    before it starts). A group's meeting takes what the form leaves blank from the group;
    an individual session names its one client (``participant_id``)."""
    form = Form(data)
    program_id = form.integer("program_id")
    if program_id is not None and program_id not in principal.program_ids:
        form.errors.add("program_id", "is not one of your programs")
        form.errors.raise_if_any()
    group = await _group_for(form, program_id)
    if group is not None:
        # A blank field takes the group's value: tonight's meeting is the group's own.
        taken = {
            "session_type": group["session_type"],
            "scheduled_minutes": group["scheduled_minutes"],
            "title": group["name"],
            "facilitator_name": group["facilitator_name"],
            "location": group["location"],
        }
        given = {k: v for k, v in data.items() if v not in (None, "")}
        form = Form({**taken, **given}, form.errors)
    session_type = form.choice("session_type", SessionType)
    if session_type is SessionType.twelve_step:
        form.errors.add("session_type", "outside meetings are recorded per participant")
    tz = await access.program_tz(program_id) if program_id else ZoneInfo("UTC")
    now = now or datetime.now(UTC)
    starts_at = form.local_datetime("starts_at", tz, now=datetime.max.replace(tzinfo=UTC))
    if starts_at is not None and starts_at > now + MAX_AHEAD:
        form.errors.add("starts_at", "is more than a year ahead")
    minutes = form.integer("scheduled_minutes", minimum=1, maximum=MAX_SESSION_MINUTES)
    title = form.text("title", required=False)
    facilitator = form.text("facilitator_name", required=False)
    location = form.text("location", required=False)
    client = await _client_for(form, program_id, starts_at, tz, session_type)
    form.errors.raise_if_any()
    async with db.transaction():
        row = TreatmentSession(
            program=program_id,
            session_type=session_type.value,  # type: ignore[union-attr]
            title=title,
            starts_at=starts_at,
            scheduled_minutes=minutes,
            facilitator=principal.id,
            facilitator_name=facilitator,
            location=location,
            treatment_group=group["id"] if group else None,
        )
        await row.save()
        if client is not None:
            await SessionParticipant(
                session=row.id, participant=client, added_by=principal.id
            ).save()
        await audit.record("session.create", principal.actor(origin), "session", row.id)
    return await get_session(principal, row.id)


async def _group_for(form: Form, program_id: int | None) -> dict[str, Any] | None:
    """The group a session is a meeting of, if the form names one of the program's."""
    group_id = form.integer("group_id", required=False, minimum=1)
    if group_id is None:
        return None
    group = await TreatmentGroup.select().where(TreatmentGroup.id == group_id).first()
    if group is None or group["program"] != program_id:
        form.errors.add("group_id", "is not a group of this program")
        return None
    return group


async def _client_for(
    form: Form,
    program_id: int | None,
    starts_at: datetime | None,
    tz: ZoneInfo,
    session_type: SessionType | None,
) -> int | None:
    """The one client of an individual session (optional for other kinds)."""
    pid = form.integer("participant_id", required=session_type is SessionType.individual, minimum=1)
    if pid is None:
        return None
    person = await Participant.select().where(Participant.id == pid).first()
    if person is None or person["program"] != program_id:
        form.errors.add("participant_id", "is not a client of this program")
        return None
    if starts_at is not None and not access.enrolled_on(person, starts_at.astimezone(tz).date()):
        form.errors.add(
            "participant_id",
            f"{person['first_name']} {person['last_name']} is not enrolled on that day",
        )
    return pid


async def _session_row(principal: Principal, session_id: int) -> dict[str, Any]:
    return await access.program_record(principal, TreatmentSession, session_id, "session")


async def get_session(principal: Principal, session_id: int) -> SessionView:
    return _session_view(await _session_row(principal, session_id))


async def list_sessions(
    principal: Principal,
    program_id: int | None = None,
    since: date | None = None,
    before: datetime | None = None,
    before_id: int | None = None,
    limit: int = 500,
) -> list[SessionView]:
    """Newest first. ``before`` and ``before_id`` (a session's start and id) continue a
    page after that session: sessions at one moment are told apart by id, so none is
    skipped or repeated."""
    if before_id is not None and not is_record_id(before_id):
        raise access.NotFound("no such session")  # past any id: nothing to page after
    programs = access.covered_programs(principal, program_id)
    if not programs:
        return []
    query = TreatmentSession.select().where(TreatmentSession.program.is_in(programs))
    if since:
        query = query.where(
            TreatmentSession.starts_at
            >= datetime.combine(since, datetime.min.time(), tzinfo=ZoneInfo("UTC"))
        )
    if before is not None and before_id is not None:
        at = before if before.tzinfo else before.replace(tzinfo=UTC)
        query = query.where(
            (TreatmentSession.starts_at < at)
            | ((TreatmentSession.starts_at == at) & (TreatmentSession.id < before_id))
        )
    rows = await (
        query.order_by(TreatmentSession.starts_at, ascending=False)
        .order_by(TreatmentSession.id, ascending=False)
        .limit(limit)
    )
    return [_session_view(r) for r in rows]


async def session_roster(principal: Principal, session_id: int) -> list[AttendanceView]:
    await _session_row(principal, session_id)
    rows = (
        await Attendance.select()
        .where((Attendance.session == session_id) & Attendance.is_current.eq(True))
        .order_by(Attendance.participant)
    )
    return await _attendance_views(rows)


@dataclass
class RosterResult:
    created: int
    corrected: int
    unchanged: int


async def record_roster(
    principal: Principal,
    session_id: int,
    entries: Sequence[Mapping[str, Any]],
    origin: str,
    reason: str = "",
    now: datetime | None = None,
) -> RosterResult:
    """Record (or correct) a whole session's attendance: every entry is stored, or none.

    Changing an entry already recorded is a correction and needs ``reason``. A session
    still to come has no attendance yet.
    """
    session = await _session_row(principal, session_id)
    tz = await access.program_tz(session["program"])
    errors = Errors()
    if not has_started(session, now):
        errors.add(
            "session",
            f"starts {spoken(session['starts_at'], tz)}; attendance can be "
            "recorded once it has started",
        )
        errors.raise_if_any()
    parsed = await _roster_entries(session, entries, session["starts_at"].astimezone(tz).date())
    result = RosterResult(0, 0, 0)
    async with db.transaction():
        # The same lock as an attendance import of this program: they cannot interleave.
        await db.serialize(f"import:{session['program']}")
        to_insert = await _roster_changes(principal, session, parsed, reason, tz, result)
        await store_attendance(to_insert, user_id=principal.id, source=RecordSource.manual)
        await violations.refresh(e["participant"] for e in parsed)
        await audit.record(
            "attendance.roster",
            principal.actor(origin),
            "session",
            session_id,
            {"created": result.created, "corrected": result.corrected},
        )
    return result


async def _roster_entries(
    session: dict[str, Any], entries: Sequence[Mapping[str, Any]], day: date
) -> list[dict[str, Any]]:
    """Each entry read and checked (a participant of the program, enrolled that day,
    listed once); all the problems at once, named by entry, or the parsed entries."""
    errors = Errors()
    if not entries:
        errors.add("entries", "list at least one participant")
    parsed: list[dict[str, Any]] = []
    seen: set[int] = set()
    ids = [e.get("participant_id") for e in entries]
    people = {
        p["id"]: p
        for p in await Participant.select().where(
            Participant.id.is_in([i for i in ids if isinstance(i, int) and 0 < i <= MAX_ID] or [0])
        )
    }
    for n, entry in enumerate(entries):
        form = Form(entry, Errors())
        pid = form.integer("participant_id")
        status = form.choice("status", AttendanceStatus)
        minutes = minutes_for(form, status, session["scheduled_minutes"])
        note = form.text("note", required=False, max_length=2000)
        person = people.get(pid) if pid is not None else None
        if pid is not None and (person is None or person["program"] != session["program"]):
            form.errors.add("participant_id", f"{pid} is not a participant of this program")
        elif person is not None and not access.enrolled_on(person, day):
            form.errors.add(
                "participant_id",
                f"{person['first_name']} {person['last_name']} was not enrolled on {day}",
            )
        if pid in seen:
            form.errors.add("participant_id", f"{pid} is listed twice")
        seen.add(pid)  # type: ignore[arg-type]
        errors.add_under(f"entries[{n}]", form.errors)
        parsed.append(
            {"participant": pid, "status": status, "minutes": minutes.attended, "note": note}
        )
    errors.raise_if_any()
    return parsed


async def _roster_changes(
    principal: Principal,
    session: dict[str, Any],
    parsed: list[dict[str, Any]],
    reason: str,
    tz: ZoneInfo,
    result: RosterResult,
) -> list[NewAttendance]:
    """Inside the roster's transaction: corrections made (each a new version, with the
    reason), and the new records to store; refused whole if an entry duplicates another
    session's record or changes one without a reason. Counts go into ``result``."""
    session_id = session["id"]
    errors = Errors()
    existing = {
        r["participant"]: r
        for r in await Attendance.select().where(
            (Attendance.session == session_id) & Attendance.is_current.eq(True)
        )
    }
    # The same client at the same time in another session (an import's): not twice.
    elsewhere = await current_by_key([e["participant"] for e in parsed])
    to_insert = []
    for n, e in enumerate(parsed):
        values = {
            "status": e["status"].value,
            "minutes_attended": e["minutes"],
            "note": e["note"],
        }
        current = existing.get(e["participant"])
        key = attendance_key(e["participant"], session["session_type"], session["starts_at"])
        if current is None and key in elsewhere:
            duplicate = duplicate_of(elsewhere[key], "participant_id", tz)
            errors.add(f"entries[{n}].participant_id", duplicate.errors[0].reason)
        elif current is None:
            to_insert.append(
                NewAttendance(
                    participant_id=e["participant"],
                    session_id=session_id,
                    session_type=session["session_type"],
                    occurred_at=session["starts_at"],
                    scheduled_minutes=session["scheduled_minutes"],
                    status=values["status"],
                    minutes_attended=values["minutes_attended"],
                    note=values["note"],
                )
            )
            result.created += 1
        elif all(current[k] == v for k, v in values.items()):
            result.unchanged += 1
        elif not reason.strip():
            errors.add(f"entries[{n}].status", "is already recorded; give a reason to correct it")
        else:
            await add_version(
                Attendance, current, values, user_id=principal.id, reason=reason.strip()
            )
            result.corrected += 1
    errors.raise_if_any()
    return to_insert


async def record_outside_meeting(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> AttendanceView:
    """A 12-step or similar meeting outside the program; proof is required."""
    person = await access.participant_row(principal, participant_id)
    tz = await access.program_tz(person["program"])
    form = Form(data)
    occurred_at = form.local_datetime("occurred_at", tz)
    minutes = form.integer("scheduled_minutes", minimum=1, maximum=MAX_SESSION_MINUTES)
    name = form.text("meeting_name")
    proof = form.text("proof", max_length=2000)
    note = form.text("note", required=False, max_length=2000)
    if occurred_at and not access.enrolled_on(person, occurred_at.astimezone(tz).date()):
        form.errors.add("occurred_at", "is outside the participant's enrolment")
    form.errors.raise_if_any()
    assert occurred_at is not None and minutes is not None
    async with db.transaction():
        # The lock a roster or an import of this program takes: posted twice, stored once.
        await db.serialize(f"import:{person['program']}")
        key = attendance_key(participant_id, SessionType.twelve_step.value, occurred_at)
        stored = (await current_by_key([participant_id])).get(key)
        if stored is not None:
            raise duplicate_of(stored, "occurred_at", tz)
        [new_id] = await store_attendance(
            [
                NewAttendance(
                    participant_id=participant_id,
                    session_id=None,
                    session_type=SessionType.twelve_step.value,
                    occurred_at=occurred_at,
                    scheduled_minutes=minutes,
                    status=AttendanceStatus.present.value,
                    minutes_attended=minutes,
                    meeting_name=name,
                    proof=proof,
                    note=note,
                )
            ],
            user_id=principal.id,
            source=RecordSource.manual,
        )
        await violations.refresh([participant_id])
        await audit.record("attendance.create", principal.actor(origin), "attendance", new_id)
    return (
        await _attendance_views([await Attendance.select().where(Attendance.id == new_id).first()])
    )[0]


async def _attendance_row(principal: Principal, attendance_id: int) -> dict[str, Any]:
    return await access.participant_record(
        principal, Attendance, attendance_id, "attendance record"
    )


async def correct_attendance(
    principal: Principal, attendance_id: int, data: Mapping[str, Any], origin: str
) -> AttendanceView:
    """A new version of one attendance record; ``reason`` is required.

    A new status brings its own minutes: present is the whole session and an absence
    none, whatever the form still held for the old status (absent to present used to
    keep "0 minutes" and fail); late and left early need their minutes said.
    """
    current = await _attendance_row(principal, attendance_id)
    form = Form(data)
    status = form.choice("status", AttendanceStatus)
    if status is not None and status.value != current["status"] and status not in PARTIAL:
        form = Form(
            {k: v for k, v in data.items() if k not in (ATTENDED, LATE, LEFT_EARLY)}, form.errors
        )
    minutes = minutes_for(form, status, current["scheduled_minutes"])
    note = form.text("note", required=False, max_length=2000)
    reason = form.text("reason", max_length=2000)
    if not current["is_current"]:
        form.errors.add("attendance_id", "a newer version exists; correct that one")
    form.errors.raise_if_any()
    assert status is not None
    async with db.transaction():
        new_id = await add_version(
            Attendance,
            current,
            {"status": status.value, "minutes_attended": minutes.attended, "note": note},
            user_id=principal.id,
            reason=reason,
        )
        await violations.refresh([current["participant"]])
        await audit.record(
            "attendance.correct",
            principal.actor(origin),
            "attendance",
            new_id,
            {"corrects": attendance_id},
        )
    return (await attendance_history(principal, new_id))[-1]


async def attendance_history(principal: Principal, attendance_id: int) -> list[AttendanceView]:
    row = await _attendance_row(principal, attendance_id)
    return await _attendance_views(await versions(Attendance, row["record_uid"]))


async def earlier_versions(
    participant_id: int, records: list[AttendanceView]
) -> dict[int, list[AttendanceView]]:
    """Earlier versions of the corrected ones among ``records``: an absence corrected to
    present must not simply vanish from a report."""
    return await versioning.earlier_versions(Attendance, participant_id, records, _attendance_views)


async def participant_attendance(principal: Principal, participant_id: int) -> list[AttendanceView]:
    return await attendance_of(await access.participant(principal, participant_id))


async def attendance_of(allowed: access.ParticipantAccess) -> list[AttendanceView]:
    rows = (
        await Attendance.select()
        .where((Attendance.participant == allowed.id) & Attendance.is_current.eq(True))
        .order_by(Attendance.occurred_at, ascending=False)
    )
    return await _attendance_views(rows)


__all__ = [
    "AttendanceView",
    "InvalidInput",
    "Minutes",
    "RosterResult",
    "SessionView",
    "judge_minutes",
]
