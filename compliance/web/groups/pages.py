"""Staff pages for standing groups: the list, a new group, and one group's page (its
schedule, members and sessions ahead). Every form answers with a redirect, or with its
page again showing what to correct (422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.validation import FieldError, InvalidInput
from compliance.core.vocabulary import SessionType, Weekday
from compliance.records import groups, participants
from compliance.records.groups import DAY_WORDS, GroupView
from compliance.staff.access import program_options, program_zone
from compliance.staff.accounts import Principal
from compliance.web.common import once
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

TYPE_OPTIONS = [(t.value, t.value) for t in SessionType if t is not SessionType.twelve_step]
DAY_OPTIONS = [(d.value, DAY_WORDS[d]) for d in Weekday]
SCHEDULED = "group_scheduled"  # the session key holding "Created 3 sessions" for one page


def _group_data(data: dict[str, str]) -> dict[str, Any]:
    """The form's day checkboxes ("weekday-mon") as the service's list of days."""
    days = [d.value for d in Weekday if data.get(f"weekday-{d.value}")]
    return {**data, "weekdays": days}


def _form_values(group: GroupView) -> dict[str, Any]:
    return {
        "name": group.name,
        "session_type": group.session_type,
        "scheduled_minutes": str(group.scheduled_minutes),
        "start_time": group.start_time,
        "location": group.location,
        "facilitator_name": group.facilitator_name,
        **{f"weekday-{d}": "on" for d in group.weekdays},
    }


class GroupPages(Controller):
    path = "/groups"
    include_in_schema = False

    @get()
    async def index(self, principal: NamedDependency[Principal]) -> Template:
        found = await groups.list_groups(principal)
        return Page("pages/groups/index.html", context={"principal": principal, "groups": found})

    @get("/new")
    async def new(self, principal: NamedDependency[Principal]) -> Template:
        return await self._new(principal, {"session_type": "group"}, {})

    async def _new(
        self, principal: Principal, values: dict, errors: dict, status: int = 200
    ) -> Template:
        context = {
            "principal": principal,
            "values": values,
            "errors": errors,
            "programs": await program_options(principal),
            "type_options": TYPE_OPTIONS,
            "day_options": DAY_OPTIONS,
        }
        return Page("pages/groups/new.html", context=context, status_code=status)

    @post(status_code=303)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            groups.create_group(principal, _group_data(data), origin_of(request)),
            lambda group: Redirect(f"/groups/{group.id}", status_code=303),
            lambda errors: self._new(principal, data, errors, status=422),
        )

    @get("/{group_id:int}")
    async def show(
        self, request: Request, principal: NamedDependency[Principal], group_id: FromPath[int]
    ) -> Template:
        done = (once.take(request, SCHEDULED, group_id=group_id) or {}).get("text", "")
        return await self._show(principal, group_id, done=done)

    async def _show(
        self,
        principal: Principal,
        group_id: int,
        form: str = "",
        values: dict | None = None,
        errors: dict | None = None,
        done: str = "",
    ) -> Template:
        """The group's page; ``form`` names the form being answered with its errors."""
        group = await groups.get_group(principal, group_id)
        zone = ZoneInfo(await program_zone(group.program_id))
        members = {m.participant_id for m in group.members}
        candidates = [
            p
            for p in await participants.list_participants(
                principal, group.program_id, active_only=True
            )
            if p.id not in members
        ]
        context = {
            "principal": principal,
            "group": group,
            "zone": zone,
            "today": datetime.now(UTC).astimezone(zone).date(),
            "upcoming": await groups.upcoming_sessions(principal, group_id),
            "candidates": candidates,
            "form": form,
            "done": done,
            "values": values if form == "edit" and values is not None else _form_values(group),
            "errors": errors or {},
            "type_options": TYPE_OPTIONS,
            "day_options": DAY_OPTIONS,
        }
        return Page("pages/groups/show.html", context=context, status_code=422 if errors else 200)

    @post("/{group_id:int}", status_code=303)
    async def update(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            groups.update_group(principal, group_id, _group_data(data), origin_of(request)),
            lambda _: Redirect(f"/groups/{group_id}", status_code=303),
            lambda errors: self._show(principal, group_id, "edit", data, errors),
        )

    @post("/{group_id:int}/members", status_code=303)
    async def add_members(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        chosen = [k.removeprefix("add-") for k in data if k.startswith("add-")]
        return await submit(
            groups.add_members(principal, group_id, chosen, origin_of(request)),
            lambda _: Redirect(f"/groups/{group_id}#members", status_code=303),
            lambda errors: self._show(principal, group_id, "members", data, errors),
        )

    @post("/{group_id:int}/members/{participant_id:int}/remove", status_code=303)
    async def remove_member(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        participant_id: FromPath[int],
    ) -> Any:
        await groups.remove_member(principal, group_id, participant_id, origin_of(request))
        return Redirect(f"/groups/{group_id}#members", status_code=303)

    @post("/{group_id:int}/sessions", status_code=303)
    async def schedule(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        """One day's meeting opens its roster; a week's go back to the group's list."""
        body = {k: v for k, v in data.items() if k in ("on", "week_of") and v}

        async def scheduled() -> Any:
            if data.get("kind") == "day" and not body.get("on"):
                raise InvalidInput([FieldError("on", "choose the day of the meeting")])
            return await groups.schedule_sessions(principal, group_id, body, origin_of(request))

        def opened(made: Any) -> Redirect:
            if "on" in body and made.sessions:
                return Redirect(f"/sessions/{made.sessions[0].id}", status_code=303)
            there = len(made.sessions) - made.created
            once.leave(
                request,
                SCHEDULED,
                group_id=group_id,
                text=f"Created {made.created} session{'s' if made.created != 1 else ''} this "
                f"week; {there} {'was' if there == 1 else 'were'} there already.",
            )
            return Redirect(f"/groups/{group_id}#sessions", status_code=303)

        return await submit(
            scheduled(),
            opened,
            lambda errors: self._show(principal, group_id, "schedule", data, errors),
        )


ROUTES = [GroupPages]
