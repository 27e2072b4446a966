"""The SAP's follow-up testing plan for a DOT-regulated employee (49 CFR 40.307).

After return to duty the Substance Abuse Professional directs at least 6 unannounced
follow-up tests in the first 12 months, for up to 60 months, each directly observed
(§40.67(b)), for drugs, alcohol or both. The program records the plan so that the SAP's
report can set the tests done against it, and the random draw can read it. A plan is
never edited: a change is the next version, with who recorded it, when and why.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken_day
from compliance.core.rows import view_of
from compliance.core.validation import Form
from compliance.core.vocabulary import FollowUpSubstances, ReferralSource
from compliance.records.versioning import StaleVersion
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import FollowUpPlan, Mandate

FIRST_YEAR_MINIMUM = 6  # §40.307(d)(2)
MAX_TESTS_A_YEAR = 365
MIN_MONTHS, MAX_MONTHS = 12, 60  # §40.307(d)(2): up to 60 months after return to duty
KIND_WORDS = {"court": "a court", "probation": "a probation", "eap": "an EAP"}
SUBSTANCE_WORDS = {
    FollowUpSubstances.drugs: "drugs",
    FollowUpSubstances.alcohol: "alcohol",
    FollowUpSubstances.both: "drugs and alcohol",
}


@dataclass
class FollowUpPlanView:
    id: int
    mandate_id: int
    version: int
    return_to_duty_on: date | None  # None: not yet returned to duty
    tests_first_year: int
    tests_per_later_year: int  # 0: as the SAP directs
    months: int
    directly_observed: bool
    substances: str
    set_by: str
    set_on: date
    notes: str
    change_reason: str  # empty for version 1
    recorded_by: str  # the staff member's name
    recorded_at: datetime

    @property
    def in_words(self) -> str:
        return plan_in_words(self)


@dataclass(frozen=True)
class PlanYear:
    """One year of the plan counted from return to duty; the last may be shorter when the
    plan's months are not a whole number of years."""

    number: int
    start: date
    end: date  # inclusive
    tests_required: int  # year 1: tests_first_year; later: tests_per_later_year (0: as directed)


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months; the 31st (or 29 Feb) falls back to the
    month's last day, as people count "12 months from 29 Feb"."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class PlanTerms(Protocol):
    """What the plan years follow from (a plan's view, or its row as the draw reads it)."""

    @property
    def return_to_duty_on(self) -> date | None: ...
    @property
    def months(self) -> int: ...
    @property
    def tests_first_year(self) -> int: ...
    @property
    def tests_per_later_year(self) -> int: ...


def plan_years(plan: PlanTerms, today: date) -> list[PlanYear]:
    """The plan years that have started by ``today`` (the program's day), oldest first:
    what the SAP's report counts tests against and the daily draw calls for. None before
    return to duty."""
    start_day = plan.return_to_duty_on
    if start_day is None:
        return []
    years: list[PlanYear] = []
    for n in range((plan.months + 11) // 12):
        start = add_months(start_day, 12 * n)
        if start > today:
            break
        end = add_months(start_day, min(12 * (n + 1), plan.months)) - timedelta(days=1)
        required = plan.tests_first_year if n == 0 else plan.tests_per_later_year
        years.append(PlanYear(n + 1, start, end, required))
    return years


def plan_in_words(plan: FollowUpPlanView) -> str:
    """The plan as one line a person reads on the participant page (US English)."""
    parts = [
        f"Returned to duty {spoken_day(plan.return_to_duty_on)}"
        if plan.return_to_duty_on
        else "Not yet returned to duty",
        f"at least {plan.tests_first_year}{' directly observed' if plan.directly_observed else ''}"
        f" test{'s' if plan.tests_first_year != 1 else ''} in the first 12 months",
    ]
    if plan.months > 12:
        parts.append(
            f"then at least {plan.tests_per_later_year} a year"
            if plan.tests_per_later_year
            else "then as the SAP directs"
        )
    parts += [
        f"plan runs {plan.months} months",
        SUBSTANCE_WORDS.get(FollowUpSubstances(plan.substances), plan.substances),
        f"set by {plan.set_by}, SAP, on {plan.set_on.day} {plan.set_on:%b %Y}",
    ]
    return " · ".join(parts)


# --- reading -------------------------------------------------------------------------


def _select() -> Any:
    return FollowUpPlan.select(
        *FollowUpPlan.all_columns(),
        FollowUpPlan.recorded_by.full_name.as_alias("recorded_by_name"),
    )


def _view(row: dict[str, Any]) -> FollowUpPlanView:
    return view_of(
        FollowUpPlanView,
        row,
        directly_observed=bool(row["directly_observed"]),
        recorded_by=row["recorded_by_name"] or "",
    )


async def _newest_row(mandate_id: int) -> dict[str, Any] | None:
    return (
        await FollowUpPlan.select(FollowUpPlan.id, FollowUpPlan.version)
        .where(FollowUpPlan.mandate == mandate_id)
        .order_by(FollowUpPlan.version, ascending=False)
        .first()
    )


async def _mandate_row(principal: Principal, mandate_id: int) -> dict[str, Any]:
    return await access.participant_record(principal, Mandate, mandate_id, "mandate")


async def current_plan(mandate_id: int) -> FollowUpPlanView | None:
    """The plan in force (its newest version), or None. No access check: callers (the
    report service, the API after ``_mandate_row``) have authorised the mandate."""
    row = (
        await _select()
        .where(FollowUpPlan.mandate == mandate_id)
        .order_by(FollowUpPlan.version, ascending=False)
        .first()
    )
    return _view(row) if row else None


async def plan_in_force(principal: Principal, mandate_id: int) -> FollowUpPlanView | None:
    """``current_plan`` for a user: another program's mandate is "not found"."""
    await _mandate_row(principal, mandate_id)
    return await current_plan(mandate_id)


async def plan_history(principal: Principal, mandate_id: int) -> list[FollowUpPlanView]:
    """Every version, oldest first: what the SAP set, and each change with who and why."""
    await _mandate_row(principal, mandate_id)
    rows = await _select().where(FollowUpPlan.mandate == mandate_id).order_by(FollowUpPlan.version)
    return [_view(r) for r in rows]


async def participant_plans(
    principal: Principal, participant_id: int
) -> dict[int, FollowUpPlanView]:
    """The plan in force for each of a participant's mandates that has one, by mandate id."""
    await access.participant_row(principal, participant_id)
    mandate_ids = await Mandate.select(Mandate.id).where(Mandate.participant == participant_id)
    rows = (
        await _select()
        .where(FollowUpPlan.mandate.is_in([m["id"] for m in mandate_ids] or [0]))
        .order_by(FollowUpPlan.version)
    )
    return {r["mandate"]: _view(r) for r in rows}  # the newest version wins


# --- writing -------------------------------------------------------------------------


def _read(form: Form, mandate: dict[str, Any], today: date, changing: bool) -> dict[str, Any]:
    """The plan's values from raw input; every problem goes to ``form.errors``."""
    returned = form.date("return_to_duty_on", required=False, today=today)
    if returned and returned < mandate["starts_on"]:
        form.errors.add(
            "return_to_duty_on",
            f"is before the mandate starts ({spoken_day(mandate['starts_on'])})",
        )
    first_year = form.integer("tests_first_year", maximum=MAX_TESTS_A_YEAR)
    if first_year is not None and first_year < FIRST_YEAR_MINIMUM:
        form.errors.add(
            "tests_first_year",
            f"is {first_year}: 49 CFR 40.307(d) requires at least {FIRST_YEAR_MINIMUM} "
            "in the first 12 months",
        )
    later = form.integer(
        "tests_per_later_year", required=False, minimum=0, maximum=MAX_TESTS_A_YEAR
    )
    months = form.integer("months")
    if months is not None and not MIN_MONTHS <= months <= MAX_MONTHS:
        form.errors.add(
            "months",
            f"is {months}: a follow-up plan runs from {MIN_MONTHS} to {MAX_MONTHS} months "
            "after return to duty (49 CFR 40.307(d))",
        )
    substances = form.choice("substances", FollowUpSubstances)
    # Absent means observed: §40.67(b) makes it the rule, so an API client need not say it.
    observed = form.boolean("directly_observed") if "directly_observed" in form.data else True
    if not observed and substances in (FollowUpSubstances.drugs, FollowUpSubstances.both):
        form.errors.add(
            "directly_observed",
            "must be yes: 49 CFR 40.67(b) requires every follow-up drug test to be "
            "collected under direct observation",
        )
    reason = form.text("change_reason", required=False, max_length=2000)
    if changing and not reason:
        form.errors.add("change_reason", "is required: say why the plan changes")
    if not changing and reason:
        form.errors.add("change_reason", "must be empty: this mandate has no plan yet to change")
    return {
        "return_to_duty_on": returned,
        "tests_first_year": first_year,
        "tests_per_later_year": later or 0,
        "months": months,
        "directly_observed": observed,
        "substances": substances.value if substances else None,
        "set_by": form.text("set_by", max_length=200),
        "set_on": form.date("set_on", today=today),
        "notes": form.text("notes", required=False, max_length=4000),
        "change_reason": reason,
    }


async def set_plan(
    principal: Principal, mandate_id: int, data: Mapping[str, Any], origin: str
) -> FollowUpPlanView:
    """Record the plan the SAP set, or a change to it (the next version).

    ``replaces_version`` (optional) is the version the user was looking at: if someone
    changed the plan since, nothing is stored (StaleVersion, 409) rather than silently
    overriding their change. Nothing is stored on any error.
    """
    mandate = await _mandate_row(principal, mandate_id)
    form = Form(data)
    if mandate["source"] != ReferralSource.dot_sap.value:
        form.errors.add(
            "mandate",
            f"is {KIND_WORDS.get(mandate['source'], 'another kind of')} mandate: a follow-up "
            "testing plan belongs to a DOT SAP mandate (49 CFR 40.307)",
        )
    zone = await access.participant_zone(mandate["participant"])
    today = datetime.now(ZoneInfo(zone)).date()  # "in the future" on the program's clock
    seen = await _newest_row(mandate_id)
    replaces = form.integer("replaces_version", required=False, minimum=1)
    values = _read(form, mandate, today, changing=seen is not None)
    form.errors.raise_if_any()
    if replaces is not None and replaces != (seen["version"] if seen else None):
        raise StaleVersion(_stale(seen))
    async with db.transaction():
        await db.serialize(f"followup_plan:{mandate_id}")
        newest = await _newest_row(mandate_id)
        if newest != seen:
            raise StaleVersion(_stale(newest))
        row = FollowUpPlan(
            mandate=mandate_id,
            version=seen["version"] + 1 if seen else 1,
            supersedes=seen["id"] if seen else None,
            recorded_by=principal.id,
            recorded_at=datetime.now(UTC),
            **values,
        )
        await row.save()
        await audit.record(
            "followup_plan.set",
            principal.actor(origin),
            "followup_plan",
            row.id,
            {"mandate": mandate_id, "version": row.version},
        )
    return _view(await _select().where(FollowUpPlan.id == row.id).first())


def _stale(newest: dict[str, Any] | None) -> str:
    if newest is None:
        return "this mandate has no follow-up plan yet; reload the page"
    return (
        f"the follow-up plan was changed since you opened it (it is now version "
        f"{newest['version']}); reload it"
    )
