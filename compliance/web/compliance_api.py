"""Week-by-week compliance and the caseload: JSON API and the caseload page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from markupsafe import Markup

from compliance.core import db
from compliance.core.validation import FieldError, InvalidInput, check_year
from compliance.engine import caseload, violations
from compliance.engine.caseload import CaseRow
from compliance.engine.rules import Evaluation
from compliance.engine.violations import ViolationView
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.auth import origin_of
from compliance.web.errors import documented
from compliance.web.page import Page


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


class CaseloadPages(Controller):
    include_in_schema = False

    @get("/caseload")
    async def page(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        sort: FromQuery[str] = "status",
        show: FromQuery[str] = "all",
        q: FromQuery[str] = "",
    ) -> Template:
        rows, stamp = await caseload.current(principal)
        try:
            caseload.arrange(rows[:0], sort, show, q)
        except InvalidInput:
            sort, show, q = "status", "all", ""
        table = await _table(request, rows, stamp, sort, show, q)
        return Page(
            "pages/caseload.html",
            context={"principal": principal, "sort": sort, "show": show, "q": q} | table,
        )

    @post("/violations/{violation_id:int}/review", status_code=303)
    async def review(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        violation_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        view = await violations.review(
            principal, violation_id, data.get("note", ""), origin_of(request)
        )
        return Redirect(f"/participants/{view.participant_id}#compliance", status_code=303)


# Caseload tables kept (caseload x sort, filter and search; a large one is megabytes of
# HTML): old versions age out.
CACHED_TABLES = 16


async def _table(
    request: Request, rows: list[CaseRow], stamp: tuple, sort: str, show: str, q: str
) -> dict[str, Any]:
    """The caseload page's context but for who is looking: the rows sorted, filtered and
    rendered, the counts and the collection windows. Kept under the caseload's stamp
    (its programs, the records' version, until when it holds), so eight clinicians on
    the same caseload render its rows once, not on each load (issue 18); the page shell
    around them is rendered per request."""
    cache = db.view_cache("caseload_page", CACHED_TABLES)
    key = (stamp, sort, show, q.strip())
    found = cache.get(key)
    if found is not None:
        return found
    shown = caseload.arrange(rows, sort, show, q)
    engine = request.app.template_engine.engine  # type: ignore[union-attr]
    html = engine.get_template("pages/caseload_rows.html").render(
        rows=shown, lead_kind=caseload.lead_kind, why=caseload.why, severity=caseload.SEVERITY
    )
    programs = stamp[0]
    windows = await Program.select(Program.collection_window_hours).where(
        Program.id.is_in(list(programs) or [0])
    )
    found = {
        "rows_html": Markup(html),  # noqa: S704 - rendered with autoescape on
        "shown": len(shown),
        "counts": caseload.counts(rows),
        "sorts": SORT_LABELS,
        "shows": SHOW_LABELS,
        "report_days": caseload.REPORT_INTERVAL_DAYS,
        "window_hours": sorted({w["collection_window_hours"] for w in windows}),
    }
    cache.put(key, found)
    return found


SORT_LABELS = {
    "status": "most serious first",
    "violations": "open violations",
    "last_positive": "most recent positive",
    "name": "last name",
    "client_id": "client id",
}
SHOW_LABELS = {
    "all": "everyone",
    "attention": "needs attention",
    "this_week": "not compliant this week",
    "last_week": "not compliant last week",
    "tests_overdue": "tests overdue",
    "reports_due": "court reports due",
    "violations": "open violations",
    "compliant": "compliant last week",
    "stepdown": "meets step-down criteria",
}

ROUTES = [ComplianceAPI, CaseloadPages]
