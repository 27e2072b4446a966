"""Sessions, rosters, outside meetings and attendance corrections: the JSON API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from compliance.core.vocabulary import AttendanceStatus, SessionType
from compliance.records import attendance, groups
from compliance.records.attendance import AttendanceView, RosterResult, SessionView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import ALREADY_RECORDED, documented
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class NewSession:
    program_id: int
    starts_at: str = field(
        metadata={"description": "local time, YYYY-MM-DDTHH:MM; up to a year ahead"}
    )
    session_type: SessionType | None = field(
        default=None, metadata={"description": "required unless group_id gives it"}
    )
    scheduled_minutes: int | None = field(
        default=None, metadata={"description": "required unless group_id gives it"}
    )
    group_id: int | None = field(
        default=None,
        metadata={
            "description": "a meeting of this group: its members are the roster, and "
            "fields left out are the group's"
        },
    )
    participant_id: int | None = field(
        default=None,
        metadata={"description": "the client of an individual session (required for one)"},
    )
    title: str = ""
    facilitator_name: str = ""
    location: str = ""


MINUTES_HELP = (
    "Give minutes_late and/or minutes_left_early (minutes attended are computed), or "
    "minutes_attended; present is the whole session and an absence none."
)


@dataclass
class RosterEntry:
    participant_id: int
    status: AttendanceStatus
    minutes_late: int | None = field(default=None, metadata={"description": MINUTES_HELP})
    minutes_left_early: int | None = None
    minutes_attended: int | None = None
    note: str = ""


@dataclass
class Roster:
    entries: list[RosterEntry]
    reason: str = ""  # required when an entry changes what was recorded before


@dataclass
class SessionWithRoster:
    session: SessionView
    roster: list[AttendanceView]
    listed: list[int] = field(
        default_factory=list,
        metadata={
            "description": "participant ids the roster lists: the group's members and "
            "the clients named for the session"
        },
    )


@dataclass
class SessionParticipants:
    participant_ids: list[int]


@dataclass
class OutsideMeeting:
    occurred_at: str
    scheduled_minutes: int
    meeting_name: str
    proof: str
    note: str = ""


@dataclass
class AttendanceCorrection:
    status: AttendanceStatus
    reason: str
    minutes_late: int | None = field(
        default=None,
        metadata={"description": MINUTES_HELP + " A new status resets what the old one had."},
    )
    minutes_left_early: int | None = None
    minutes_attended: int | None = None
    note: str = ""


async def _with_roster(principal: Principal, session_id: int) -> SessionWithRoster:
    session = await attendance.get_session(principal, session_id)
    return SessionWithRoster(
        session,
        await attendance.session_roster(principal, session_id),
        await groups.expected(session),
    )


class SessionsAPI(Controller):
    path = "/api/sessions"
    tags = ["attendance"]

    @get(
        operation_id="listSessions",
        responses=documented(401, 404),
        summary="Sessions of your programs, newest first (500 at most)",
        description="For older ones, pass the last session's `starts_at` and `id` as "
        "`before` and `before_id`.",
    )
    async def index(
        self,
        principal: NamedDependency[Principal],
        program_id: FromQuery[int | None] = None,
        since: FromQuery[date | None] = None,
        before: FromQuery[datetime | None] = None,
        before_id: FromQuery[int | None] = None,
    ) -> list[SessionView]:
        return await attendance.list_sessions(principal, program_id, since, before, before_id)

    @post(
        operation_id="createSession",
        responses=documented(401, 403, 422),
        summary="Schedule or record a session",
        description="A session can be made ahead (up to a year); attendance is recorded "
        "once it has started.",
    )
    async def create(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[NewSession]
    ) -> SessionView:
        return await attendance.create_session(principal, plain(data), origin_of(request))

    @get(
        "/{session_id:int}",
        operation_id="getSession",
        responses=documented(401, 404),
        summary="A session and its roster",
    )
    async def one(
        self, principal: NamedDependency[Principal], session_id: FromPath[int]
    ) -> SessionWithRoster:
        return await _with_roster(principal, session_id)

    @post(
        "/{session_id:int}/participants",
        operation_id="addSessionParticipants",
        responses=documented(401, 403, 404, 422),
        summary="Add clients to a session's roster (an ad-hoc session, or a guest)",
        status_code=200,
    )
    async def add_participants(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        data: JSONBody[SessionParticipants],
    ) -> SessionWithRoster:
        await groups.add_session_participants(
            principal, session_id, data.participant_ids, origin_of(request)
        )
        return await _with_roster(principal, session_id)

    @put(
        "/{session_id:int}/roster",
        operation_id="recordRoster",
        responses=documented(401, 403, 404, 409, 422),
        summary="Record a whole session's attendance at once (all or nothing)",
        description="Only once the session has started. " + MINUTES_HELP,
    )
    async def roster(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        data: JSONBody[Roster],
    ) -> RosterResult:
        entries = [plain(e) for e in data.entries]
        return await attendance.record_roster(
            principal, session_id, entries, origin_of(request), reason=data.reason
        )


class AttendanceAPI(Controller):
    path = "/api"
    tags = ["attendance"]

    @get(
        "/participants/{participant_id:int}/attendance",
        operation_id="listAttendance",
        responses=documented(401, 404),
        summary="Current attendance records of a participant",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[AttendanceView]:
        return await attendance.participant_attendance(principal, participant_id)

    @post(
        "/participants/{participant_id:int}/outside-meetings",
        operation_id="recordMeeting",
        responses={**documented(401, 403, 404, 422), 409: ALREADY_RECORDED},
        summary="Record an outside (12-step) meeting with proof",
        description="The same meeting twice (same client and start time) is refused: 409, "
        "pointing at the stored record.",
    )
    async def outside_meeting(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[OutsideMeeting],
    ) -> AttendanceView:
        return await attendance.record_outside_meeting(
            principal, participant_id, plain(data), origin_of(request)
        )

    @post(
        "/attendance/{attendance_id:int}/corrections",
        operation_id="correctAttendance",
        responses=documented(401, 403, 404, 409, 422),
        summary="Correct an attendance record (adds a version; the original stays)",
    )
    async def correct(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        attendance_id: FromPath[int],
        data: JSONBody[AttendanceCorrection],
    ) -> AttendanceView:
        return await attendance.correct_attendance(
            principal, attendance_id, plain(data), origin_of(request)
        )

    @get(
        "/attendance/{attendance_id:int}/history",
        operation_id="attendanceHistory",
        responses=documented(401, 404),
        summary="Every version of an attendance record, oldest first",
    )
    async def history(
        self, principal: NamedDependency[Principal], attendance_id: FromPath[int]
    ) -> list[AttendanceView]:
        return await attendance.attendance_history(principal, attendance_id)


ROUTES = [SessionsAPI, AttendanceAPI]
