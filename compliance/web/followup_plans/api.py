"""The DOT SAP follow-up testing plan of a mandate (49 CFR 40.307): the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance.core.vocabulary import FollowUpSubstances
from compliance.records import followup_plans
from compliance.records.followup_plans import FollowUpPlanView
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented, response_spec
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class PlanInput:
    """What the SAP set. A change (when the mandate has a plan) needs ``change_reason``;
    ``replaces_version`` guards against overriding a change made meanwhile (409)."""

    tests_first_year: int
    months: int
    substances: FollowUpSubstances
    set_by: str
    set_on: date
    return_to_duty_on: date | None = None  # None: not yet returned to duty
    tests_per_later_year: int = 0  # 0: as the SAP directs
    directly_observed: bool = True
    notes: str = ""
    change_reason: str = ""
    replaces_version: int | None = None


# Setting the first plan creates it; a change answers 200 with the new version.
CREATED = {201: response_spec(FollowUpPlanView, "The mandate's first plan (version 1)")}


class FollowUpPlansAPI(Controller):
    path = "/api/mandates/{mandate_id:int}/followup-plan"
    tags = ["mandates"]

    @put(
        operation_id="setFollowUpPlan",
        status_code=200,
        responses={**documented(401, 403, 404, 409, 422), **CREATED},
        summary="Record the SAP's follow-up testing plan, or a change to it (a new version)",
    )
    async def set_plan(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        mandate_id: FromPath[int],
        data: JSONBody[PlanInput],
    ) -> Response[FollowUpPlanView]:
        """Only for a DOT SAP mandate. 422 names every wrong field (at least 6 tests in
        the first 12 months, 12 to 60 months, no date in the future, ...)."""
        view = await followup_plans.set_plan(principal, mandate_id, plain(data), origin_of(request))
        return Response(view, status_code=201 if view.version == 1 else 200)

    @get(
        operation_id="getFollowUpPlan",
        responses=documented(401, 404),
        summary="The follow-up testing plan in force (404 when none is recorded)",
    )
    async def current(
        self, principal: NamedDependency[Principal], mandate_id: FromPath[int]
    ) -> FollowUpPlanView:
        plan = await followup_plans.plan_in_force(principal, mandate_id)
        if plan is None:
            raise access.NotFound("this mandate has no follow-up plan")
        return plan

    @get(
        "/history",
        operation_id="getFollowUpPlanHistory",
        responses=documented(401, 404),
        summary="Every version of the plan, oldest first, with who recorded each, when and why",
    )
    async def history(
        self, principal: NamedDependency[Principal], mandate_id: FromPath[int]
    ) -> list[FollowUpPlanView]:
        return await followup_plans.plan_history(principal, mandate_id)


ROUTES = [FollowUpPlansAPI]
