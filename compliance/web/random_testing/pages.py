"""Staff pages for random testing: a program's day (who is called, who checked in, who
has tested, who is overdue or missed), its testing groups and its past draws; and a
participant's testing page (their group from a day on, a call for cause, a new call-in
PIN). Forms post to the same service functions as the API, then redirect, or show the
page again with what to correct (422)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.random_testing import call_in, check_ins, draws, groups
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import CallInCheck, MissedCheckIn, Program
from compliance.web.common import once
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

NEW_PIN = "call_in_pin"  # the session key holding a new PIN for its one showing


async def _checked_in(participant_ids: list[int], day: date) -> dict[int, datetime]:
    rows = await CallInCheck.select(CallInCheck.participant, CallInCheck.checked_at).where(
        CallInCheck.participant.is_in(participant_ids or [0]) & (CallInCheck.day == day)
    )
    first: dict[int, datetime] = {}
    for r in rows:
        first[r["participant"]] = min(r["checked_at"], first.get(r["participant"], r["checked_at"]))
    return first


class ProgramTestingPages(Controller):
    path = "/programs/{program_id:int}/testing"
    include_in_schema = False

    @get()
    async def day(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        return await self._page(principal, program_id)

    async def _page(
        self,
        principal: Principal,
        program_id: int,
        errors: dict | None = None,
        values: dict | None = None,
        form: str = "",
    ) -> Template:
        access.require_program(principal, program_id)
        today = await access.program_today(program_id)
        drawn = await draws.draw_of(principal, program_id, today)
        checked = await _checked_in([c.participant_id for c in drawn.calls], today) if drawn else {}
        context = {
            "principal": principal,
            "program_id": program_id,
            "zone": await access.program_zone(program_id),
            "today": today,
            "draw": drawn,
            "checked_in": checked,
            "now": datetime.now(UTC),
            "groups": await groups.list_groups(principal, program_id),
            "history": [
                d for d in await draws.history(principal, program_id, 14) if d.day != today
            ],
            "missed": await check_ins.of_program(
                principal, program_id, today - check_ins.LOOK_BACK
            ),
            "counts_check_ins": await check_ins.counts(program_id),
            "errors": errors or {},
            "values": values or {},
            "form": form,
        }
        return Page("pages/testing/day.html", context=context, status_code=422 if errors else 200)

    @post("/draw", status_code=303)
    async def draw(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Any:
        return await submit(
            draws.draw_for(principal, program_id, {}, origin_of(request)),
            lambda _: Redirect(f"/programs/{program_id}/testing", status_code=303),
            lambda errors: self._page(principal, program_id, errors),
        )

    @post("/groups", status_code=303)
    async def add_group(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            groups.create_group(principal, program_id, data, origin_of(request)),
            lambda _: Redirect(f"/programs/{program_id}/testing#groups", status_code=303),
            lambda errors: self._page(principal, program_id, errors, data),
        )

    @post("/groups/{testing_group_id:int}/retire", status_code=303)
    async def retire(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        testing_group_id: FromPath[int],
    ) -> Any:
        return await _group_changed(
            groups.retire_group, request, principal, program_id, testing_group_id
        )

    @post("/groups/{testing_group_id:int}/reinstate", status_code=303)
    async def reinstate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        testing_group_id: FromPath[int],
    ) -> Any:
        return await _group_changed(
            groups.reinstate_group, request, principal, program_id, testing_group_id
        )

    @post("/calls/{call_id:int}/excuse", status_code=303)
    async def excuse(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        call_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        access.require_program(principal, program_id)
        return await submit(
            draws.excuse_call(principal, call_id, data, origin_of(request), program_id=program_id),
            lambda _: Redirect(f"/programs/{program_id}/testing", status_code=303),
            lambda errors: self._page(principal, program_id, errors),
        )

    @post("/missed-check-ins/{missed_id:int}/excuse", status_code=303)
    async def excuse_check_in(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        missed_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        access.require_program(principal, program_id)
        return await submit(
            check_ins.excuse(principal, missed_id, data, origin_of(request), program_id=program_id),
            lambda _: Redirect(f"/programs/{program_id}/testing#check-ins", status_code=303),
            lambda errors: self._page(principal, program_id, errors, form="check_in"),
        )


class TestingHome(Controller):
    path = "/testing"
    include_in_schema = False

    @get()
    async def home(self, principal: NamedDependency[Principal]) -> Any:
        """One program: its day. Several: the list to choose from."""
        programs = await access.program_options(principal)
        if len(programs) == 1:
            return Redirect(f"/programs/{programs[0][0]}/testing", status_code=303)
        return Page(
            "pages/testing/programs.html", context={"principal": principal, "programs": programs}
        )


class ParticipantTestingPages(Controller):
    path = "/participants/{participant_id:int}/testing"
    include_in_schema = False

    @get()
    async def show(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        pin = (once.take(request, NEW_PIN, participant_id=participant_id) or {}).get("text", "")
        return await self._page(principal, participant_id, pin=pin)

    async def _page(
        self,
        principal: Principal,
        participant_id: int,
        form: str = "",
        errors: dict | None = None,
        values: dict | None = None,
        pin: str = "",
    ) -> Template:
        person = await access.participant_row(principal, participant_id)
        program_id = person["program"]
        code = await Program.select(Program.code).where(Program.id == program_id).first()
        context = {
            "principal": principal,
            "person": {**person, "program_code": code["code"]},
            "zone": await access.program_zone(program_id),
            "today": await access.program_today(program_id),
            "groups": [g for g in await groups.list_groups(principal, program_id) if not g.retired],
            "history": await groups.assignment_history(principal, participant_id),
            "missed": await check_ins.of_participant(principal, participant_id),
            "counts_check_ins": await check_ins.counts(program_id),
            "form": form,
            "errors": errors or {},
            "values": values or {},
            "pin": pin,
        }
        status = 422 if errors else 200
        return Page("pages/testing/participant.html", context=context, status_code=status)

    @post("/group", status_code=303)
    async def assign(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        done = groups.assign(principal, participant_id, data, origin_of(request))
        return await self._answer(principal, participant_id, "group", data, done)

    @post("/call", status_code=303)
    async def call(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        done = draws.call_for_cause(principal, participant_id, data, origin_of(request))
        return await self._answer(principal, participant_id, "call", data, done)

    async def _answer(
        self,
        principal: Principal,
        participant_id: int,
        form: str,
        data: dict[str, str],
        call: Awaitable[Any],
    ) -> Any:
        """Back to the participant's testing page, or the page with ``form``'s errors."""
        return await submit(
            call,
            lambda _: Redirect(f"/participants/{participant_id}/testing", status_code=303),
            lambda errors: self._page(principal, participant_id, form, errors, data),
        )

    @post("/missed-check-ins/{missed_id:int}/excuse", status_code=303)
    async def excuse_check_in(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        missed_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        done = check_ins.excuse(
            principal, missed_id, data, origin_of(request), participant_id=participant_id
        )
        return await self._answer(principal, participant_id, "check_in", data, done)

    @post("/pin", status_code=303)
    async def pin(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Any:
        """The new PIN is shown on the next page once (kept in the session until then)."""
        made = await call_in.set_pin(principal, participant_id, origin_of(request))
        once.leave(request, NEW_PIN, text=made, participant_id=participant_id)
        return Redirect(f"/participants/{participant_id}/testing", status_code=303)


class MissedCheckInPages(Controller):
    """Where a report's or a violation's "record" link for a missed check-in leads."""

    path = "/missed-check-ins/{missed_id:int}"
    include_in_schema = False

    @get()
    async def show(self, principal: NamedDependency[Principal], missed_id: FromPath[int]) -> Any:
        row = await access.participant_record(
            principal, MissedCheckIn, missed_id, "missed check-in"
        )
        return Redirect(f"/participants/{row['participant']}/testing#check-ins", status_code=303)


ROUTES = [TestingHome, ProgramTestingPages, ParticipantTestingPages, MissedCheckInPages]


async def _group_changed(
    change: Callable[..., Awaitable[Any]],
    request: Request,
    principal: Principal,
    program_id: int,
    group_id: int,
) -> Redirect:
    """Retire or reinstate, asked from the program's day page: only that program's group
    (another is 404), then back to the page's groups."""
    access.require_program(principal, program_id)
    await change(principal, group_id, origin_of(request), program_id=program_id)
    return Redirect(f"/programs/{program_id}/testing#groups", status_code=303)
