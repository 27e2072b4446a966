"""Standing groups through the JSON API: schedule, members, and their sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from compliance.core.vocabulary import SessionType, Weekday
from compliance.records import groups
from compliance.records.groups import GroupView, ScheduledSessions
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class GroupFields:
    """What a group is, as changed by PUT; a new group adds its program (``NewGroup``)."""

    name: str
    scheduled_minutes: int
    weekdays: list[Weekday]
    start_time: str = field(metadata={"description": "HH:MM, 24-hour, on the program's clock"})
    session_type: SessionType = SessionType.group
    location: str = ""
    facilitator_name: str = ""


@dataclass
class _InProgram:
    program_id: int


@dataclass
class NewGroup(GroupFields, _InProgram):
    """A group's fields and its program, which it keeps. The fields are GroupFields' so
    that POST and PUT cannot drift apart; ``_InProgram`` is the last base so that
    ``program_id`` comes first, where the schema and the constructor have always had it."""


@dataclass
class Members:
    participant_ids: list[int]


@dataclass
class ScheduleRequest:
    on: date | None = field(
        default=None, metadata={"description": "one meeting on this day (e.g. tonight's)"}
    )
    week_of: date | None = field(
        default=None,
        metadata={"description": "every meeting of the program's week holding this day"},
    )


class GroupsAPI(Controller):
    path = "/api/groups"
    tags = ["attendance"]

    @get(
        operation_id="listGroups",
        responses=documented(401, 404),
        summary="Standing groups of your programs, with their members",
    )
    async def index(
        self, principal: NamedDependency[Principal], program_id: FromQuery[int | None] = None
    ) -> list[GroupView]:
        return await groups.list_groups(principal, program_id)

    @post(
        operation_id="createGroup",
        responses=documented(401, 403, 422),
        summary="A standing group: name, kind, minutes, weekdays and time",
    )
    async def create(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[NewGroup]
    ) -> GroupView:
        return await groups.create_group(principal, plain(data), origin_of(request))

    @get(
        "/{group_id:int}",
        operation_id="getGroup",
        responses=documented(401, 404),
        summary="A group and its members",
    )
    async def one(
        self, principal: NamedDependency[Principal], group_id: FromPath[int]
    ) -> GroupView:
        return await groups.get_group(principal, group_id)

    @put(
        "/{group_id:int}",
        operation_id="updateGroup",
        responses=documented(401, 403, 404, 422),
        summary="Change a group's schedule or place (sessions already made keep theirs)",
    )
    async def update(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: JSONBody[GroupFields],
    ) -> GroupView:
        return await groups.update_group(principal, group_id, plain(data), origin_of(request))

    @post(
        "/{group_id:int}/members",
        operation_id="addGroupMembers",
        responses=documented(401, 403, 404, 422),
        summary="Clients join the group (those already in it stay)",
        status_code=200,
    )
    async def add_members(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: JSONBody[Members],
    ) -> GroupView:
        return await groups.add_members(
            principal, group_id, data.participant_ids, origin_of(request)
        )

    @delete(
        "/{group_id:int}/members/{participant_id:int}",
        operation_id="removeGroupMember",
        responses=documented(401, 403, 404),
        summary="A client leaves the group (meetings before keep them on their roster)",
        status_code=200,
    )
    async def remove_member(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        participant_id: FromPath[int],
    ) -> GroupView:
        return await groups.remove_member(principal, group_id, participant_id, origin_of(request))

    @post(
        "/{group_id:int}/sessions",
        operation_id="scheduleGroupSessions",
        responses=documented(401, 403, 404, 422),
        summary="Make the group's sessions for a day or a week ahead (none twice)",
        description="Without `on` or `week_of`: this week's meetings. Attendance is "
        "recorded once each session has started.",
        status_code=200,
    )
    async def schedule(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        group_id: FromPath[int],
        data: JSONBody[ScheduleRequest],
    ) -> ScheduledSessions:
        return await groups.schedule_sessions(principal, group_id, plain(data), origin_of(request))


ROUTES = [GroupsAPI]
