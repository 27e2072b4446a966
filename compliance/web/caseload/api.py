"""Week-by-week compliance, the caseload and violations through the JSON API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from compliance.core.validation import FieldError, InvalidInput, check_year
from compliance.engine import caseload, violations
from compliance.engine.caseload import CaseRow
from compliance.engine.rules import Evaluation
from compliance.engine.violations import ViolationView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.principal import origin_of


@dataclass
class Review:
    note: str


class ComplianceAPI(Controller):
    path = "/api"
    tags = ["compliance"]

    @get(
        "/participants/{participant_id:int}/compliance",
        operation_id="participantCompliance",
        responses=documented(401, 404, 422),
        summary="Week-by-week compliance with reasons, and the period's summary",
    )
    async def participant(
        self,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        start: FromQuery[date | None] = None,
        end: FromQuery[date | None] = None,
    ) -> Evaluation:
        start, end = await caseload.compliance_period(principal, participant_id, start, end)
        return await caseload.participant_compliance(principal, participant_id, start, end)

    @get(
        "/caseload",
        operation_id="caseload",
        responses=documented(401, 404, 422, 503),
        summary="Every active participant: this and last week, the most serious first",
    )
    async def caseload(
        self,
        principal: NamedDependency[Principal],
        program_id: FromQuery[int | None] = None,
        sort: FromQuery[str] = "status",
        show: FromQuery[str] = "all",
        q: FromQuery[str] = "",
    ) -> list[CaseRow]:
        """``sort``: ``status`` (the default: a confirmed positive first, then a missed,
        refused, adulterated or substituted test, a presumptive or dilute positive, an
        unexcused absence, then hours, sessions or tests short; this week before last;
        then last name), ``violations``, ``last_positive``, ``name`` (last name first),
        ``client_id``. ``show``: ``all``, ``attention``, ``this_week`` / ``last_week``
        (not compliant), ``tests_overdue``, ``reports_due``, ``violations``,
        ``compliant``, ``stepdown``. ``kinds_this_week`` / ``kinds_last_week`` give each
        reason's kind; ``tests_overdue`` counts tests called for this or last week whose
        specimen came after the collection window (or not at all, unrecorded);
        ``report_due``: a court or probation client with no court progress report
        signed in the last 7 days."""
        rows = await caseload.caseload(principal, program_id=program_id)
        return caseload.arrange(rows, sort, show, q)

    @get(
        "/participants/{participant_id:int}/violations",
        operation_id="participantViolations",
        responses=documented(401, 404, 422),
        summary="Violations, newest known first; known_since gives only those learnt of since",
    )
    async def violations(
        self,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        known_since: FromQuery[datetime | None] = None,
        include_withdrawn: FromQuery[bool] = False,
    ) -> list[ViolationView]:
        if known_since is not None and known_since.tzinfo is None:
            raise InvalidInput([FieldError("known_since", "give a time zone, e.g. ...Z")])
        check_year("known_since", known_since.date() if known_since else None)
        return await violations.participant_violations(
            principal, participant_id, known_since, include_withdrawn
        )

    @post(
        "/violations/{violation_id:int}/review",
        operation_id="reviewViolation",
        responses=documented(401, 403, 404, 422),
        summary="Record what was done about a violation; it leaves the open count",
    )
    async def review(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        violation_id: FromPath[int],
        data: JSONBody[Review],
    ) -> ViolationView:
        return await violations.review(principal, violation_id, data.note, origin_of(request))


ROUTES = [ComplianceAPI]
