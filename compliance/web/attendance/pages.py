"""Staff pages for sessions, the roster (one form for everyone the session expects),
attendance records with their history, and outside meetings. Same service functions
as the API.

The roster asks what people know ("30 minutes late"), shows the minutes attended that
makes before saving (a small script; without it the server still computes and checks),
and a save answers with a redirect, so a refresh repeats nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from compliance import PROJECT_ROOT
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.core.vocabulary import AttendanceStatus, SessionType
from compliance.records import attendance, groups, participants
from compliance.records.attendance import (
    ATTENDED,
    LATE,
    LEFT_EARLY,
    judge_minutes,
    recorded_minutes,
)
from compliance.records.participants import ParticipantView
from compliance.staff.access import program_options, program_zone
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.common import once
from compliance.web.common.forms import FieldErrors, posted, reasons, refusal_page, submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

PAGE = 100  # sessions a page; older ones are a link away
SAVED = "roster_saved"  # the session key holding a saved roster's message for one page
# Views kept between loads (issue 18); an old records version is never read again, so
# these only bound how many stale ones wait to age out.
CACHED_LISTS = 32  # sessions pages (programs seen x page)
CACHED_ROSTERS = 64
SCRIPT = (PROJECT_ROOT / "templates" / "pages" / "sessions" / "minutes.js").read_text()

STATUS_OPTIONS = [(s.value, s.value.replace("_", " ")) for s in AttendanceStatus]
TYPE_OPTIONS = [(t.value, t.value) for t in SessionType if t is not SessionType.twelve_step]
FIELD_OF = {"status": "status", LATE: "late", LEFT_EARLY: "left", ATTENDED: "late"}


def _client_options(people: list[ParticipantView]) -> list[tuple[int, str]]:
    return [(p.id, f"{p.last_name}, {p.first_name} ({p.client_id})") for p in people]


class SessionPages(Controller):
    path = "/sessions"
    include_in_schema = False

    @get()
    async def index(
        self,
        principal: NamedDependency[Principal],
        before: FromQuery[datetime | None] = None,
        before_id: FromQuery[int | None] = None,
    ) -> Template:
        now = datetime.now(UTC)
        context = {
            "principal": principal,
            "now": now,
            **await _session_list(principal, before, before_id, now),
        }
        return Page("pages/sessions/index.html", context=context)

    @get("/new")
    async def new(
        self, principal: NamedDependency[Principal], group_id: FromQuery[int | None] = None
    ) -> Template:
        return await self._new(principal, {"group_id": str(group_id or "")}, {})

    async def _new(
        self, principal: Principal, values: dict, errors: dict, status: int = 200
    ) -> Template:
        found = await groups.list_groups(principal)
        programs = await program_options(principal)
        several = len(programs) > 1
        names = dict(programs)
        context = {
            "principal": principal,
            "values": values,
            "errors": errors,
            "programs": programs,
            "type_options": TYPE_OPTIONS,
            "group_options": [
                (g.id, f"{g.name} ({g.schedule})" + (f", {names[g.program_id]}" if several else ""))
                for g in found
            ],
            "client_options": _client_options(
                await participants.list_participants(principal, active_only=True)
            ),
        }
        return Page("pages/sessions/new.html", context=context, status_code=status)

    @post(status_code=303)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            attendance.create_session(principal, data, origin_of(request)),
            lambda view: Redirect(f"/sessions/{view.id}", status_code=303),
            lambda errors: self._new(principal, data, errors, status=422),
        )

    @get("/minutes.js", media_type="text/javascript")
    async def script(self, principal: NamedDependency[Principal]) -> Response[str]:
        """The roster's and the correction form's helper, from our own origin (the pages'
        policy runs no inline script)."""
        return Response(SCRIPT, media_type="text/javascript")

    @get("/{session_id:int}")
    async def roster(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        mark: FromQuery[str] = "",
    ) -> Template:
        saved = (once.take(request, SAVED, session_id=session_id) or {}).get("text", "")
        return await self._roster(request, principal, session_id, None, {}, saved=saved, mark=mark)

    async def _roster(
        self,
        request: Request,
        principal: Principal,
        session_id: int,
        submitted: dict | None,
        errors: dict,
        status: int = 200,
        saved: str = "",
        mark: str = "",
        added_errors: dict | None = None,
    ) -> Template:
        session = await attendance.get_session(principal, session_id)  # access, per request
        kept = await _roster_records(principal, session)
        program, group = kept.program, kept.group
        tz = ZoneInfo(program["time_zone"])
        local = session.starts_at.astimezone(tz)
        # As recorded (or all marked present): the lines and their markup are the same
        # for everyone until the records change, so they are made once; a refused save
        # shows what was submitted and is made each time.
        plain = submitted is None and not errors and mark in ("", "present")
        if plain and mark in kept.lines:
            rows, rows_html = kept.lines[mark]
        else:
            by_person = _errors_by_person(errors)
            rows = [
                _row(
                    p,
                    kept.recorded.get(p.id),
                    session.scheduled_minutes,
                    submitted,
                    mark,
                    by_person,
                )
                for p in kept.people
            ]
            engine = request.app.template_engine.engine  # type: ignore[union-attr]
            lines = engine.get_template("pages/sessions/roster_rows.html").module
            rows_html = lines.roster_rows(rows, session, STATUS_OPTIONS)
            if plain:
                kept.lines[mark] = (rows, rows_html)
        context = {
            "principal": principal,
            "s": session,
            "local": local,
            "starts": spoken(session.starts_at, tz),
            "started": attendance.has_started(session),
            "group": group,
            "program": program,
            "rows": rows,
            "rows_html": rows_html,
            "status_options": STATUS_OPTIONS,
            "errors": errors,
            "other_errors": {
                k: v for k, v in errors.items() if not k.startswith("entries[") and k != "reason"
            },
            "reason": (submitted or {}).get("reason", ""),
            "saved": saved,
            "addable": _client_options(kept.addable),
            "added_errors": added_errors or {},
        }
        return Page("pages/sessions/roster.html", context=context, status_code=status)

    @post("/{session_id:int}/roster", status_code=303)
    async def save_roster(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        session = await attendance.get_session(principal, session_id)
        tz = ZoneInfo(await program_zone(session.program_id))
        people, _ = await _roster_people(
            principal, session, session.starts_at.astimezone(tz).date()
        )
        entries, order = [], []
        for p in people:
            status = data.get(f"status-{p.id}", "")
            if not status:
                continue
            entries.append(
                {
                    "participant_id": p.id,
                    "status": status,
                    LATE: data.get(f"late-{p.id}", ""),
                    LEFT_EARLY: data.get(f"left-{p.id}", ""),
                    "note": data.get(f"note-{p.id}", ""),
                }
            )
            order.append(p.id)

        def saved(result: Any) -> Redirect:
            once.leave(
                request,
                SAVED,
                session_id=session_id,
                text=f"Saved: {result.created} recorded, {result.corrected} corrected, "
                f"{result.unchanged} unchanged.",
            )
            return Redirect(f"/sessions/{session_id}", status_code=303)

        return await submit(
            attendance.record_roster(
                principal, session_id, entries, origin_of(request), reason=data.get("reason", "")
            ),
            saved,
            lambda errors: self._roster(
                request, principal, session_id, data, _by_person(errors, order), status=422
            ),
        )

    @post("/{session_id:int}/participants", status_code=303)
    async def add_participants(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        chosen = [k.removeprefix("add-") for k in data if k.startswith("add-")]
        return await submit(
            groups.add_session_participants(principal, session_id, chosen, origin_of(request)),
            lambda _: Redirect(f"/sessions/{session_id}", status_code=303),
            lambda errors: self._roster(
                request, principal, session_id, None, {}, status=422, added_errors=errors
            ),
        )


def _by_person(errors: dict[str, str], order: list[int]) -> dict[str, str]:
    """Entry errors are numbered by submitted entry; name them by person instead."""
    mapped = {}
    for name, reason in errors.items():
        if name.startswith("entries["):
            n = int(name[8 : name.index("]")])
            name = f"entries[{order[n]}]" + name[name.index("]") + 1 :]
        mapped[name] = reason
    return mapped


async def _session_list(
    principal: Principal, before: datetime | None, before_id: int | None, now: datetime
) -> dict[str, Any]:
    """The sessions page but for who is looking and the clock: a page of sessions (each
    with its local start), the link to older ones, the programs' zones and today's
    group meetings. Kept per programs seen, page and records version (issue 18) until
    the clock changes what it shows: a program's midnight (today's meetings), or a
    listed session or meeting starting ("to come", "Take attendance")."""
    cache = db.view_cache("sessions_page", CACHED_LISTS)
    programs = tuple(sorted(principal.program_ids))
    key = (programs, before, before_id, await db.records_version())
    found = cache.get(key)
    if found is not None and now < found["_until"]:
        return found
    listed = await attendance.list_sessions(
        principal, before=before, before_id=before_id, limit=PAGE + 1
    )
    sessions, more = listed[:PAGE], len(listed) > PAGE
    zones = {
        p["id"]: ZoneInfo(p["time_zone"])
        for p in await Program.select(Program.id, Program.time_zone)
    }
    paged = before is not None and before_id is not None
    today = [] if paged else await groups.meetings_on(principal, now)
    turns = [s.starts_at for s in sessions if s.starts_at > now]
    turns += [m.starts_at for m in today if m.starts_at > now]
    turns += [_next_midnight(zones[p], now) for p in programs if p in zones]
    found = {
        "sessions": [(s, s.starts_at.astimezone(zones[s.program_id])) for s in sessions],
        "older": sessions[-1] if more else None,
        "paged": paged,
        "today": today,
        "zones": zones,
        "_until": min(turns, default=now + timedelta(days=1)),
    }
    cache.put(key, found)
    return found


def _next_midnight(zone: ZoneInfo, now: datetime) -> datetime:
    day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(0), zone).astimezone(UTC)


@dataclass
class _KeptRoster:
    """What the roster shows from the records, for one session at one records version:
    the program, who it lists and who could be added, what is recorded, the group, and
    the lines as recorded (by ``mark``) once made."""

    program: dict[str, Any]
    people: list[ParticipantView]
    addable: list[ParticipantView]
    recorded: dict[int, attendance.AttendanceView]
    group: Any
    lines: dict[str, tuple[list[RosterRow], Any]] = field(default_factory=dict)


async def _roster_records(principal: Principal, session: attendance.SessionView) -> _KeptRoster:
    """The roster's records, kept per session and records version (issue 18);
    ``session`` is one the principal may see (checked by the caller on each request),
    and nothing here depends on who is looking beyond that."""
    cache = db.view_cache("roster_page", CACHED_ROSTERS)
    key = (session.id, await db.records_version())
    found = cache.get(key)
    if found is not None:
        return found
    program = await Program.select().where(Program.id == session.program_id).first()
    local = session.starts_at.astimezone(ZoneInfo(program["time_zone"]))
    people, addable = await _roster_people(principal, session, local.date())
    recorded = {r.participant_id: r for r in await attendance.session_roster(principal, session.id)}
    group = await groups.get_group(principal, session.group_id) if session.group_id else None
    found = _KeptRoster(program, people, addable, recorded, group)
    cache.put(key, found)
    return found


async def _roster_people(
    principal: Principal, session: attendance.SessionView, day: Any
) -> tuple[list[ParticipantView], list[ParticipantView]]:
    """Who the roster lists (the session's expected clients enrolled that day, and
    anyone already recorded), and who else could be added."""
    everyone = await participants.list_participants(principal, session.program_id)
    expected = set(await groups.expected(session))
    recorded = {r.participant_id for r in await attendance.session_roster(principal, session.id)}

    def enrolled(p: ParticipantView) -> bool:
        return p.admitted_on <= day and (p.discharged_on is None or day <= p.discharged_on)

    listed = [p for p in everyone if p.id in recorded or (p.id in expected and enrolled(p))]
    shown = {p.id for p in listed}
    return listed, [p for p in everyone if p.id not in shown and enrolled(p)]


def _errors_by_person(errors: dict[str, str]) -> dict[int, dict[str, str]]:
    """ "entries[<participant id>].minutes_late" -> {pid: {"late": reason}}."""
    out: dict[int, dict[str, str]] = {}
    for name, reason in errors.items():
        if not name.startswith("entries["):
            continue
        pid = int(name[8 : name.index("]")])
        field = name[name.index("]") + 2 :]
        out.setdefault(pid, {}).setdefault(FIELD_OF.get(field, "name"), reason)
    return out


@dataclass(slots=True)
class RowErrors:
    """Why a roster line was refused, by field. Read by attribute: the template asks
    for each on every line, and a dict there costs Jinja two exceptions per absent key
    (a quarter of the roster's time under load)."""

    name: str = ""
    status: str = ""
    late: str = ""
    left: str = ""

    def __bool__(self) -> bool:
        return bool(self.name or self.status or self.late or self.left)


@dataclass(slots=True)
class RosterRow:
    """One roster line as the template reads it (attributes, not dict keys: see
    ``RowErrors``)."""

    p: ParticipantView
    record: attendance.AttendanceView | None
    status: str
    late: str
    left: str
    note: str
    attended: str
    errors: RowErrors


def _row(
    p: ParticipantView,
    record: attendance.AttendanceView | None,
    scheduled: int,
    submitted: dict | None,
    mark: str,
    errors: dict[int, dict[str, str]],
) -> RosterRow:
    """One roster line: what was submitted (a refused save), or what is recorded, or
    "present" for everyone when the page was asked to mark all present."""
    if submitted is not None:
        status = submitted.get(f"status-{p.id}", "")
        late = submitted.get(f"late-{p.id}", "0")
        left = submitted.get(f"left-{p.id}", "0")
        note = submitted.get(f"note-{p.id}", "")
    elif mark == "present":
        status, late, left = "present", "0", "0"
        note = record.note if record else ""
    elif record is not None:
        split = recorded_minutes(record)
        status, late, left, note = (
            record.status,
            str(split.late),
            str(split.left_early),
            record.note,
        )
    else:
        status, late, left, note = "", "0", "0", ""
    return RosterRow(
        p,
        record,
        status,
        late,
        left,
        note,
        _attended(status, scheduled, late, left),
        RowErrors(**errors.get(p.id, {})),
    )


def _attended(status: str, scheduled: int, late: str, left: str) -> str:
    """The minutes attended the row's values make, as the script shows them before
    saving: "" with no status, a dash while the minutes cannot be worked out."""
    try:
        chosen = AttendanceStatus(status)
    except ValueError:
        return ""
    try:
        minutes, problems = judge_minutes(
            chosen, scheduled, late=int(late or 0), left_early=int(left or 0)
        )
    except ValueError:
        return "\u2014"
    return "\u2014" if problems else f"{minutes.attended} of {scheduled}"


class AttendancePages(Controller):
    path = "/attendance"
    include_in_schema = False

    @get("/{attendance_id:int}")
    async def show(
        self, principal: NamedDependency[Principal], attendance_id: FromPath[int]
    ) -> Template:
        return await self._show(principal, attendance_id, {}, {})

    async def _show(
        self,
        principal: Principal,
        attendance_id: int,
        values: dict,
        errors: dict,
        status: int = 200,
    ) -> Template:
        history = await attendance.attendance_history(principal, attendance_id)
        person = await participants.get_participant(principal, history[0].participant_id)
        current = history[-1]
        if not values:
            split = recorded_minutes(current)
            values = {
                "status": current.status,
                LATE: str(split.late),
                LEFT_EARLY: str(split.left_early),
                "note": current.note,
            }
        context = {
            "principal": principal,
            "history": history,
            "current": current,
            "person": person,
            "zone": await program_zone(person.program_id),
            "values": values,
            "errors": errors,
            "status_options": STATUS_OPTIONS,
            "attended": _attended(
                values.get("status", ""),
                current.scheduled_minutes,
                values.get(LATE, "0"),
                values.get(LEFT_EARLY, "0"),
            ),
        }
        return Page("pages/records/attendance.html", context=context, status_code=status)

    @post("/{attendance_id:int}/correct", status_code=303)
    async def correct(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        attendance_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            attendance.correct_attendance(principal, attendance_id, data, origin_of(request)),
            lambda view: Redirect(f"/attendance/{view.id}", status_code=303),
            lambda errors: self._show(principal, attendance_id, data, errors, status=422),
        )


class OutsideMeetingPages(Controller):
    """An outside (12-step) meeting recorded from the participant's page."""

    path = "/participants/{participant_id:int}"
    include_in_schema = False

    @post("/outside-meetings", status_code=303)
    async def outside_meeting(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        values, _ = await posted(request)

        async def refused(errors: FieldErrors) -> Response[Any]:
            person = await participants.get_participant(principal, participant_id)
            message = f"{reasons(errors)}. Go back to {person.name} and try again."
            return refusal_page(principal, "Meeting not recorded", message)

        return await submit(
            attendance.record_outside_meeting(
                principal, participant_id, values, origin_of(request)
            ),
            lambda _: Redirect(f"/participants/{participant_id}", status_code=303),
            refused,
        )


ROUTES = [SessionPages, AttendancePages, OutsideMeetingPages]
