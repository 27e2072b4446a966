"""Staff pages for the DOT SAP follow-up testing plan: its history, and the form (also on
the participant page) that records the plan or a change, through the same service
function as the API. Errors come back as the page with each field's reason, never JSON."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from compliance.core.vocabulary import FollowUpSubstances, ReferralSource
from compliance.records import followup_plans, mandates, participants
from compliance.records.followup_plans import FollowUpPlanView
from compliance.records.mandates import MandateView
from compliance.records.versioning import StaleVersion
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

FIELDS = (
    "return_to_duty_on",
    "tests_first_year",
    "tests_per_later_year",
    "months",
    "substances",
    "set_by",
    "set_on",
    "notes",
    "change_reason",
    "replaces_version",
)
SUBSTANCE_OPTIONS = [
    (FollowUpSubstances.both.value, "Drugs and alcohol"),
    (FollowUpSubstances.drugs.value, "Drugs"),
    (FollowUpSubstances.alcohol.value, "Alcohol"),
]


def plan_form_values(mandate: MandateView, plan: FollowUpPlanView | None) -> dict[str, str]:
    """What the form shows before anything is typed: the plan in force, so a change
    starts from it; for a first plan, the regulation's minimum and the mandate's SAP."""
    if plan is None:
        return {
            "tests_first_year": str(followup_plans.FIRST_YEAR_MINIMUM),
            "tests_per_later_year": "0",
            "substances": FollowUpSubstances.both.value,
            "set_by": mandate.contact_name,
            "directly_observed": "true",
        }
    return {
        "return_to_duty_on": str(plan.return_to_duty_on or ""),
        "tests_first_year": str(plan.tests_first_year),
        "tests_per_later_year": str(plan.tests_per_later_year),
        "months": str(plan.months),
        "substances": plan.substances,
        "set_by": plan.set_by,
        "set_on": str(plan.set_on),
        "notes": plan.notes,
        "directly_observed": "true" if plan.directly_observed else "false",
        "replaces_version": str(plan.version),
    }


class FollowUpPlanPages(Controller):
    path = "/mandates/{mandate_id:int}/followup-plan"
    include_in_schema = False

    @get()
    async def show(
        self, principal: NamedDependency[Principal], mandate_id: FromPath[int]
    ) -> Template:
        return await self._page(principal, mandate_id, None, {})

    async def _page(
        self,
        principal: Principal,
        mandate_id: int,
        values: dict[str, str] | None,
        errors: dict[str, str],
        status: int = 200,
        problem: str = "",
    ) -> Template:
        mandate = await mandates.get_mandate(principal, mandate_id)
        history = await followup_plans.plan_history(principal, mandate_id)
        plan = history[-1] if history else None
        context = {
            "principal": principal,
            "person": await participants.get_participant(principal, mandate.participant_id),
            "m": mandate,
            "is_dot": mandate.source == ReferralSource.dot_sap.value,
            "plan": plan,
            "history": list(reversed(history)),  # newest first
            "values": values if values is not None else plan_form_values(mandate, plan),
            "errors": errors,
            "problem": problem,
            "substance_options": SUBSTANCE_OPTIONS,
            "zone": await access.participant_zone(mandate.participant_id),
        }
        # Said outright: a handler that may also redirect is labelled JSON by default.
        return Page(
            "pages/followup/plan.html",
            context=context,
            status_code=status,
            media_type=MediaType.HTML,
        )

    @post(status_code=303)
    async def record(
        self, request: Request, principal: NamedDependency[Principal], mandate_id: FromPath[int]
    ) -> Any:
        form = await request.form()
        values = {name: str(form.get(name, "")) for name in FIELDS}
        # An unticked box sends nothing: that is a "no", not "as the regulation says".
        values["directly_observed"] = "true" if form.get("directly_observed") else "false"
        data = {k: v for k, v in values.items() if v != ""}

        async def to_plan(plan: Any) -> Redirect:
            mandate = await mandates.get_mandate(principal, plan.mandate_id)
            return Redirect(
                f"/participants/{mandate.participant_id}#plan-{mandate.id}", status_code=303
            )

        return await submit(
            followup_plans.set_plan(principal, mandate_id, data, origin_of(request)),
            to_plan,
            lambda errors: self._page(principal, mandate_id, values, errors, 422),
            others={
                StaleVersion: lambda exc: self._page(principal, mandate_id, None, {}, 409, str(exc))
            },
        )


async def participant_page_context(principal: Principal, participant_id: int) -> dict[str, Any]:
    """What the participant page's Mandates card shows for each DOT SAP mandate: the plan
    in force and the form's starting values (the page has checked access already)."""
    plans = await followup_plans.participant_plans(principal, participant_id)
    dot = [
        m
        for m in await mandates.participant_mandates(principal, participant_id)
        if m.source == ReferralSource.dot_sap.value
    ]
    return {
        "followup_plans": plans,
        "plan_form_values": {m.id: plan_form_values(m, plans.get(m.id)) for m in dot},
        "substance_options": SUBSTANCE_OPTIONS,
    }


ROUTES = [FollowUpPlanPages]
