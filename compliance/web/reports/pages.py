"""Signed reports from staff pages (generate, download, revoke, make a new version of
an outdated one: buttons and forms on the participant page) and public verification
(``/verify``: upload a PDF or follow its QR code)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.validation import Form, InvalidInput
from compliance.jobs import reports
from compliance.reporting import service, store, verification
from compliance.reporting.new_version import remake
from compliance.reporting.service import ReportRequest, ReportView
from compliance.staff.accounts import Principal
from compliance.tables import Report
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.reports.pdf import VerifyUpload, pdf_download, read_upload


def _request_from_form(data: dict[str, Any]) -> ReportRequest:
    form = Form(data)
    kind = form.text("kind", max_length=40)
    recipient = form.integer("recipient_id", minimum=1)
    start = form.date("period_start", required=False, not_future=False)
    end = form.date("period_end", required=False, not_future=False)
    form.errors.raise_if_any()
    assert recipient is not None
    return ReportRequest(
        kind=kind,
        recipient_id=recipient,
        period_start=start,
        period_end=end,
        purpose=(data.get("purpose") or "").strip() or None,
        narrative=(data.get("narrative") or "").strip(),
        fitness_statement=(data.get("fitness_statement") or "").strip(),
    )


def _at_report(view: ReportView) -> Redirect:
    """The participant's page, at the report just made or withdrawn."""
    return Redirect(f"/participants/{view.participant_id}#report-{view.id}", status_code=303)


def _refused(principal: Principal, participant_id: int, exc: InvalidInput) -> Template:
    """Every reason (not one per field), on the page that says nothing was signed."""
    return Page(
        "pages/reports/refused.html",
        context={"principal": principal, "participant_id": participant_id, "errors": exc.errors},
        status_code=422,
    )


class ReportPages(Controller):
    include_in_schema = False

    @post("/participants/{participant_id:int}/reports", status_code=303, media_type=MediaType.HTML)
    async def generate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect | Template:

        async def generated() -> ReportView:
            # The form is read inside the call, so its refusals come back as the service's do.
            report = _request_from_form(data)
            return await reports.generate(
                principal, settings, participant_id, report, origin_of(request)
            )

        return await submit(
            generated(),
            _at_report,
            others={InvalidInput: lambda exc: _refused(principal, participant_id, exc)},
        )

    @get("/reports/{report_id:int}/pdf", media_type="application/pdf")
    async def pdf(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> Response[bytes]:
        view, content = await service.report_pdf(principal, settings, report_id)
        return pdf_download(view, content)

    @post("/reports/{report_id:int}/revoke", status_code=303)
    async def revoke(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        report_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        view = await service.revoke(
            principal, report_id, data.get("reason", ""), origin_of(request)
        )
        return _at_report(view)

    @post("/reports/{report_id:int}/new-version", status_code=303, media_type=MediaType.HTML)
    async def remake(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> Redirect | Template:

        async def refused(exc: InvalidInput) -> Template:
            row = await Report.select(Report.participant).where(Report.id == report_id).first()
            return _refused(principal, row["participant"], exc)

        return await submit(
            remake(principal, settings, report_id, origin_of(request)),
            _at_report,
            others={InvalidInput: refused},
        )


class VerifyPages(Controller):
    path = "/verify"
    include_in_schema = False
    opt = {"exclude_from_csrf": True}

    @get()
    async def form(self) -> Template:
        return Page("pages/verify.html", context={"verdict": None})

    @post(status_code=200)
    async def upload(
        self, settings: NamedDependency[Settings], data: MultipartBody[VerifyUpload]
    ) -> Template:

        async def verified(content: bytes) -> Template:
            verdict = await verification.verify_bytes(content, store.of(settings))
            return Page("pages/verify.html", context={"verdict": verdict})

        return await submit(
            read_upload(data.file),
            verified,
            # An upload has one field and one reason: the file's.
            lambda errors: Page(
                "pages/verify.html",
                context={"verdict": None, "problem": errors["file"]},
                status_code=422,
            ),
        )

    @get("/{public_id:str}")
    async def by_id(self, public_id: FromPath[str]) -> Template:
        verdict = await verification.verify_public_id(public_id)
        return Page("pages/verify.html", context={"verdict": verdict, "by_id": public_id})


ROUTES = [ReportPages, VerifyPages]
