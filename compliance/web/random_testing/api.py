"""Random testing through the JSON API: testing groups, a participant's group, the daily
draw and calls for cause. The draw is the scheduler's; asking for a day's draw here
makes it only if it has not been made (201), else answers the stored one (200)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance.random_testing import call_in, check_ins, draws, groups
from compliance.random_testing.check_ins import MissedCheckInView
from compliance.random_testing.draws import CallView, DrawView
from compliance.random_testing.groups import AssignmentView, TestingGroupView
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented, response_spec
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class NewTestingGroup:
    name: str
    tests_per_week: int  # 1..7: the group is called each day with probability n/7


@dataclass
class Assignment:
    """``group_id`` empty: in no group (out of the group draw)."""

    group_id: int | None = None
    effective_on: date | None = None  # default: today, on the program's clock
    reason: str = ""


@dataclass
class DrawRequest:
    date: date | None = None  # default: today; tomorrow at the latest


@dataclass
class CallForCause:
    note: str
    date: date | None = None  # default: today


MADE = {201: response_spec(DrawView, "The day's draw, made now")}


class TestingGroupsAPI(Controller):
    tags = ["random testing"]

    @get(
        "/api/programs/{program_id:int}/testing-groups",
        operation_id="listTestingGroups",
        responses=documented(401, 404),
        summary="The program's testing groups, with their members today",
    )
    async def list_groups(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> list[TestingGroupView]:
        return await groups.list_groups(principal, program_id)

    @post(
        "/api/programs/{program_id:int}/testing-groups",
        operation_id="createTestingGroup",
        responses=documented(401, 403, 404, 422),
        summary="Add a testing group (a colour or number) and its tests a week",
    )
    async def create_group(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[NewTestingGroup],
    ) -> TestingGroupView:
        return await groups.create_group(principal, program_id, plain(data), origin_of(request))

    @post(
        "/api/testing-groups/{testing_group_id:int}/retire",
        operation_id="retireTestingGroup",
        status_code=200,
        responses=documented(401, 403, 404),
        summary="Stop drawing a group (its members stay in it until moved)",
    )
    async def retire(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        testing_group_id: FromPath[int],
    ) -> TestingGroupView:
        return await groups.retire_group(principal, testing_group_id, origin_of(request))

    @post(
        "/api/testing-groups/{testing_group_id:int}/reinstate",
        operation_id="reinstateTestingGroup",
        status_code=200,
        responses=documented(401, 403, 404),
        summary="Draw a retired group again, from the next draw on",
    )
    async def reinstate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        testing_group_id: FromPath[int],
    ) -> TestingGroupView:
        return await groups.reinstate_group(principal, testing_group_id, origin_of(request))

    @put(
        "/api/participants/{participant_id:int}/testing-group",
        operation_id="assignTestingGroup",
        status_code=200,
        responses=documented(401, 403, 404, 422),
        summary="Put a participant in a testing group (or none) from a day on",
    )
    async def assign(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[Assignment],
    ) -> AssignmentView:
        """A new assignment; earlier ones stay (the draw of each past day used its own)."""
        return await groups.assign(principal, participant_id, plain(data), origin_of(request))

    @get(
        "/api/participants/{participant_id:int}/testing-group",
        operation_id="getTestingGroupHistory",
        responses=documented(401, 404),
        summary="Every testing-group assignment of a participant, oldest first",
    )
    async def assignments(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[AssignmentView]:
        return await groups.assignment_history(principal, participant_id)


@dataclass
class Excuse:
    reason: str


@dataclass
class NewPin:
    pin: str  # six digits, shown this once: give it to the participant


class CallInAPI(Controller):
    tags = ["random testing"]

    @post(
        "/api/participants/{participant_id:int}/call-in-pin",
        operation_id="setCallInPin",
        responses=documented(401, 403, 404),
        summary="Make a new call-in PIN for a participant (replaces the old one, unlocks)",
    )
    async def set_pin(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
    ) -> NewPin:
        """The PIN is in this answer only; the service keeps its argon2 hash."""
        return NewPin(await call_in.set_pin(principal, participant_id, origin_of(request)))


class DrawsAPI(Controller):
    tags = ["random testing"]

    @post(
        "/api/programs/{program_id:int}/draws",
        operation_id="drawTestingDay",
        status_code=200,
        responses={**documented(401, 403, 404, 422), **MADE},
        summary="The day's draw: made now if it has not been (201), else as stored (200)",
    )
    async def draw(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        program_id: FromPath[int],
        data: JSONBody[DrawRequest],
    ) -> Response[DrawView]:
        """Today or tomorrow on the program's clock; any other day is 422 and draws
        nothing."""
        view, made = await draws.draw_for(principal, program_id, plain(data), origin_of(request))
        return Response(view, status_code=201 if made else 200)

    @get(
        "/api/programs/{program_id:int}/draws",
        operation_id="listDraws",
        responses=documented(401, 404),
        summary="The program's draws, newest first (the last 60 days drawn)",
    )
    async def history(
        self, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> list[DrawView]:
        return await draws.history(principal, program_id)

    @get(
        "/api/programs/{program_id:int}/draws/{day:date}",
        operation_id="getDraw",
        responses=documented(401, 404),
        summary="One day's draw as stored (404 when that day has not been drawn)",
    )
    async def one(
        self, principal: NamedDependency[Principal], program_id: FromPath[int], day: FromPath[date]
    ) -> DrawView:
        view = await draws.draw_of(principal, program_id, day)
        if view is None:
            raise access.NotFound(f"{day.isoformat()} has not been drawn")
        return view

    @post(
        "/api/participants/{participant_id:int}/testing-calls",
        operation_id="callForCause",
        responses=documented(401, 403, 404, 422),
        summary="Call a participant to test for cause, on today's draw (or tomorrow's)",
    )
    async def call_for_cause(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[CallForCause],
    ) -> CallView:
        return await draws.call_for_cause(
            principal, participant_id, plain(data), origin_of(request)
        )

    @post(
        "/api/testing-calls/{call_id:int}/excuse",
        operation_id="excuseTestingCall",
        status_code=200,
        responses=documented(401, 403, 404, 422),
        summary="Excuse a call before its window closes (a record beside the draw)",
    )
    async def excuse(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        call_id: FromPath[int],
        data: JSONBody[Excuse],
    ) -> CallView:
        """422 once a missed test is recorded for the call (correct that test instead),
        or a specimen has answered it."""
        return await draws.excuse_call(principal, call_id, plain(data), origin_of(request))


class MissedCheckInsAPI(Controller):
    tags = ["random testing"]

    @get(
        "/api/participants/{participant_id:int}/missed-check-ins",
        operation_id="listMissedCheckIns",
        responses=documented(401, 404),
        summary="Days a participant had to check in and did not, newest first",
    )
    async def of_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[MissedCheckInView]:
        """``counts``: the program's policy counts it against the week (a violation)."""
        return await check_ins.of_participant(principal, participant_id)

    @post(
        "/api/missed-check-ins/{missed_id:int}/excuse",
        operation_id="excuseMissedCheckIn",
        status_code=200,
        responses=documented(401, 403, 404, 422),
        summary="Excuse a missed check-in (a record beside it; its violation is withdrawn)",
    )
    async def excuse(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        missed_id: FromPath[int],
        data: JSONBody[Excuse],
    ) -> MissedCheckInView:
        """422 when it is excused already."""
        return await check_ins.excuse(principal, missed_id, plain(data), origin_of(request))


ROUTES = [TestingGroupsAPI, DrawsAPI, CallInAPI, MissedCheckInsAPI]
