"""Signed reports through the JSON API: generate, list, download, revoke, make a new
version of an outdated one; and public verification (is this PDF ours, and current?)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, MultipartBody

from compliance.core.settings import Settings
from compliance.jobs import reports
from compliance.reporting import service, store, verification
from compliance.reporting.new_version import remake
from compliance.reporting.service import ReportRequest, ReportView
from compliance.reporting.verification import Verdict
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.openapi_types import json_body_named
from compliance.web.common.principal import origin_of
from compliance.web.reports.pdf import VerifyUpload, pdf_download, read_upload


@dataclass
class Revocation:
    reason: str


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
        return await reports.generate(principal, settings, participant_id, data, origin_of(request))

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
        return pdf_download(view, content)

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
        data: Annotated[Revocation, json_body_named("reports_Revocation")],
    ) -> ReportView:
        return await service.revoke(principal, report_id, data.reason, origin_of(request))

    @post(
        "/reports/{report_id:int}/new-version",
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
        content = await read_upload(data.file)
        return await verification.verify_bytes(content, store.of(settings))

    @get("/{public_id:str}", operation_id="verifyReportId", summary="A report's status by its id")
    async def by_id(self, public_id: FromPath[str]) -> Verdict:
        return await verification.verify_public_id(public_id)


ROUTES = [ReportsAPI, VerifyAPI]
