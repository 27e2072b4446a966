"""Staff pages for sessions, the group roster (one form for the whole group) and
attendance records with their history. Same service functions as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from compliance import attendance, participants
from compliance.access import program_options, program_zone
from compliance.accounts import Principal
from compliance.tables import Program
from compliance.validation import InvalidInput
from compliance.vocabulary import AttendanceStatus, SessionType
from compliance.web.auth import origin_of
from compliance.web.errors import field_errors
from compliance.web.page import Page

PAGE = 100  # sessions a page; older ones are a link away

STATUS_OPTIONS = [(s.value, s.value.replace("_", " ")) for s in AttendanceStatus]
TYPE_OPTIONS = [(t.value, t.value) for t in SessionType if t is not SessionType.twelve_step]


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
        return await self._index(principal, {}, {}, before=before, before_id=before_id)

    async def _index(
        self,
        principal: Principal,
        values: dict,
        errors: dict,
        status: int = 200,
        before: datetime | None = None,
        before_id: int | None = None,
    ) -> Template:
        found = await attendance.list_sessions(
            principal, before=before, before_id=before_id, limit=PAGE + 1
        )
        sessions, more = found[:PAGE], len(found) > PAGE
        zones = {
            p["id"]: ZoneInfo(p["time_zone"])
            for p in await Program.select(Program.id, Program.time_zone)
        }
        rows = [(s, s.starts_at.astimezone(zones[s.program_id])) for s in sessions]
        context = {
            "principal": principal,
            "sessions": rows,
            "older": sessions[-1] if more else None,
            "paged": before is not None and before_id is not None,
            "values": values,
            "errors": errors,
            "programs": await program_options(principal),
            "type_options": TYPE_OPTIONS,
        }
        return Page("pages/sessions/index.html", context=context, status_code=status)

    @post(status_code=303)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        try:
            view = await attendance.create_session(principal, data, origin_of(request))
        except InvalidInput as exc:
            return await self._index(principal, data, field_errors(exc), status=422)
        return Redirect(f"/sessions/{view.id}", status_code=303)

    @get("/{session_id:int}")
    async def roster(
        self, principal: NamedDependency[Principal], session_id: FromPath[int]
    ) -> Template:
        return await self._roster(principal, session_id, None, {})

    async def _roster(
        self,
        principal: Principal,
        session_id: int,
        submitted: dict | None,
        errors: dict,
        status: int = 200,
        saved: str = "",
    ) -> Template:
        session = await attendance.get_session(principal, session_id)
        program = await Program.select().where(Program.id == session.program_id).first()
        local = session.starts_at.astimezone(ZoneInfo(program["time_zone"]))
        recorded = {
            r.participant_id: r for r in await attendance.session_roster(principal, session_id)
        }
        people = [
            p
            for p in await participants.list_participants(principal, session.program_id)
            if p.admitted_on <= local.date()
            and (p.discharged_on is None or local.date() <= p.discharged_on)
        ]
        rows = []
        for n, p in enumerate(people):
            current = recorded.get(p.id)

            def value(key: str, default: str, pid: int = p.id) -> str:
                return (submitted or {}).get(f"{key}-{pid}", default)

            rows.append(
                {
                    "p": p,
                    "record": current,
                    "status": value("status", current.status if current else ""),
                    "minutes": value(
                        "minutes",
                        str(current.minutes_attended)
                        if current and current.status in ("late", "left_early")
                        else "",
                    ),
                    "note": value("note", current.note if current else ""),
                    "error": next(
                        (v for k, v in errors.items() if k.startswith(f"entries[{n}].")), ""
                    ),
                }
            )
        context = {
            "principal": principal,
            "s": session,
            "local": local,
            "program": program,
            "rows": rows,
            "status_options": STATUS_OPTIONS,
            "errors": errors,
            "reason": (submitted or {}).get("reason", ""),
            "saved": saved,
        }
        return Page("pages/sessions/roster.html", context=context, status_code=status)

    @post("/{session_id:int}/roster", status_code=200)
    async def save_roster(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        session_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template:
        session = await attendance.get_session(principal, session_id)
        people = await participants.list_participants(principal, session.program_id)
        entries, order = [], []
        for p in people:
            status = data.get(f"status-{p.id}", "")
            if not status:
                continue
            entries.append(
                {
                    "participant_id": p.id,
                    "status": status,
                    "minutes_attended": data.get(f"minutes-{p.id}", ""),
                    "note": data.get(f"note-{p.id}", ""),
                }
            )
            order.append(p.id)
        try:
            result = await attendance.record_roster(
                principal, session_id, entries, origin_of(request), reason=data.get("reason", "")
            )
        except InvalidInput as exc:
            # Entry errors are numbered by submitted entry; map them back to page rows.
            visible = [p.id for p in people]
            mapped = {}
            for field, reason in field_errors(exc).items():
                if field.startswith("entries["):
                    n = int(field[8 : field.index("]")])
                    field = f"entries[{visible.index(order[n])}]" + field[field.index("]") + 1 :]
                mapped[field] = reason
            return await self._roster(principal, session_id, data, mapped, status=422)
        saved = (
            f"Saved: {result.created} recorded, {result.corrected} corrected, "
            f"{result.unchanged} unchanged."
        )
        return await self._roster(principal, session_id, None, {}, saved=saved)


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
        context = {
            "principal": principal,
            "history": history,
            "current": history[-1],
            "person": person,
            "zone": await program_zone(person.program_id),
            "values": values,
            "errors": errors,
            "status_options": STATUS_OPTIONS,
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
        try:
            view = await attendance.correct_attendance(
                principal, attendance_id, data, origin_of(request)
            )
        except InvalidInput as exc:
            return await self._show(principal, attendance_id, data, field_errors(exc), status=422)
        return Redirect(f"/attendance/{view.id}", status_code=303)


ROUTES = [SessionPages, AttendancePages]
