"""Signed reports for staff (generate, list, download, revoke: JSON API and forms) and
public verification (``/verify``: upload a PDF or follow its QR code)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, JSONBody, MultipartBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.validation import FieldError, Form, InvalidInput
from compliance.reporting import service, verification
from compliance.reporting.service import ReportRequest, ReportView
from compliance.reporting.verification import Verdict
from compliance.staff.accounts import Principal
from compliance.web.auth import origin_of
from compliance.web.downloads import attachment
from compliance.web.errors import documented
from compliance.web.forms import submit
from compliance.web.page import Page

MAX_VERIFY_BYTES = 30 * 1024 * 1024
PDF_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Revocation:
    reason: str


def _download(view: ReportView, content: bytes) -> Response[bytes]:
    name = f"{view.kind}-{view.public_id}-v{view.version}.pdf"
    return Response(
        content,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": attachment(name)},
    )


class ReportsAPI(Controller):
    path = "/api"
    tags = ["reports"]

    @post(
        "/participants/{participant_id:int}/reports",
        operation_id="generateReport",
        responses=documented(401, 403, 404, 422, 503),
        summary="Render, sign and store a report; 422 names what the consent lacks",
        status_code=201,
    )
    async def generate(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
        data: JSONBody[ReportRequest],
    ) -> ReportView:
        return await service.generate(principal, settings, participant_id, data, origin_of(request))

    @get(
        "/participants/{participant_id:int}/reports",
        operation_id="participantReports",
        responses=documented(401, 404),
        summary="Every report of a participant, newest first, with its status",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[ReportView]:
        return await service.participant_reports(principal, participant_id)

    @get(
        "/reports/{report_id:int}",
        operation_id="getReport",
        responses=documented(401, 404),
        summary="One report's record",
    )
    async def one(
        self, principal: NamedDependency[Principal], report_id: FromPath[int]
    ) -> ReportView:
        return await service.get_report(principal, report_id)

    @get(
        "/reports/{report_id:int}/pdf",
        operation_id="downloadReport",
        responses=documented(401, 404, 503),
        summary="The signed PDF, exactly as stored",
        media_type="application/pdf",
    )
    async def pdf(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> Response[bytes]:
        view, content = await service.report_pdf(principal, settings, report_id)
        return _download(view, content)

    @post(
        "/reports/{report_id:int}/revoke",
        operation_id="revokeReport",
        responses=documented(401, 403, 404, 422),
        summary="Withdraw a report: it then verifies as revoked",
        status_code=200,
    )
    async def revoke(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        report_id: FromPath[int],
        data: JSONBody[Revocation],
    ) -> ReportView:
        return await service.revoke(principal, report_id, data.reason, origin_of(request))


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
            return await service.generate(
                principal, settings, participant_id, report, origin_of(request)
            )

        def refused(exc: InvalidInput) -> Template:
            """Every reason (not one per field), on the page that says nothing was signed."""
            return Page(
                "pages/reports/refused.html",
                context={
                    "principal": principal,
                    "participant_id": participant_id,
                    "errors": exc.errors,
                },
                status_code=422,
            )

        return await submit(
            generated(),
            lambda report: Redirect(
                f"/participants/{participant_id}#report-{report.id}", status_code=303
            ),
            others={InvalidInput: refused},
        )

    @get("/reports/{report_id:int}/pdf", media_type="application/pdf")
    async def pdf(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
    ) -> Response[bytes]:
        view, content = await service.report_pdf(principal, settings, report_id)
        return _download(view, content)

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
        return Redirect(f"/participants/{view.participant_id}#report-{view.id}", status_code=303)


@dataclass
class VerifyUpload:
    file: UploadFile


async def _read_upload(upload: UploadFile) -> bytes:
    content = await upload.read(MAX_VERIFY_BYTES + 1)
    if len(content) > MAX_VERIFY_BYTES:
        raise InvalidInput([FieldError("file", "larger than any report we issue")])
    if not content:
        raise InvalidInput([FieldError("file", "the upload is empty")])
    return content


class VerifyAPI(Controller):
    """Public: no account needed, and nothing about the client beyond the report's id."""

    path = "/api/verify"
    tags = ["verification"]
    opt = {"exclude_from_csrf": True}  # changes nothing; scripts upload without a session

    @post(
        operation_id="verifyPdf",
        responses=documented(413, 422),
        summary="Is this PDF ours, and current?",
        status_code=200,
    )
    async def upload(
        self, settings: NamedDependency[Settings], data: MultipartBody[VerifyUpload]
    ) -> Verdict:
        content = await _read_upload(data.file)
        return await verification.verify_bytes(content, settings.reports_dir)

    @get("/{public_id:str}", operation_id="verifyReportId", summary="A report's status by its id")
    async def by_id(self, public_id: FromPath[str]) -> Verdict:
        return await verification.verify_public_id(public_id)


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
            verdict = await verification.verify_bytes(content, settings.reports_dir)
            return Page("pages/verify.html", context={"verdict": verdict})

        return await submit(
            _read_upload(data.file),
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


ROUTES = [ReportsAPI, ReportPages, VerifyAPI, VerifyPages]
