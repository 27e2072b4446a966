"""'Make a new version' of a report that corrections have outdated: a button on the
participant page and the same in the API (reporting/new_version.py)."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.validation import InvalidInput
from compliance.reporting.new_version import remake
from compliance.reporting.service import ReportView
from compliance.staff.accounts import Principal
from compliance.tables import Report
from compliance.web.auth import origin_of
from compliance.web.errors import documented
from compliance.web.forms import submit
from compliance.web.page import Page


class ReportVersionsAPI(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @post(
        "/{report_id:int}/new-version",
        operation_id="remakeReport",
        responses=documented(401, 403, 404, 422, 503),
        status_code=201,
        summary="Sign the report again from the records as they are now (same kind, "
        "recipient, period and narrative); the old version is superseded",
        description="For a report whose `outdated` is true: records of its period were "
        "corrected or entered after it was signed (`outdated_by`).",
    )
    async def remake(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> ReportView:
        return await remake(principal, settings, report_id, origin_of(request))


class ReportVersionPages(Controller):
    include_in_schema = False

    @post("/reports/{report_id:int}/new-version", status_code=303, media_type=MediaType.HTML)
    async def remake(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> Redirect | Template:

        async def refused(exc: InvalidInput) -> Template:
            """Every reason (not one per field), on the page that says nothing was signed."""
            row = await Report.select(Report.participant).where(Report.id == report_id).first()
            return Page(
                "pages/reports/refused.html",
                context={
                    "principal": principal,
                    "participant_id": row["participant"],
                    "errors": exc.errors,
                },
                status_code=422,
            )

        return await submit(
            remake(principal, settings, report_id, origin_of(request)),
            lambda made: Redirect(
                f"/participants/{made.participant_id}#report-{made.id}", status_code=303
            ),
            others={InvalidInput: refused},
        )


ROUTES = [ReportVersionsAPI, ReportVersionPages]
