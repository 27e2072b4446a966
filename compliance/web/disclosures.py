"""The accounting of disclosures (42 CFR §2.24) for staff to give a client: every event
as JSON or CSV, the readable page, and the signed PDF (made anew on each request, so it
is current the day the client gets it; /verify knows it like any report)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from compliance.core.settings import Settings
from compliance.disclosure import accounting
from compliance.disclosure.accounting import Accounting
from compliance.disclosure.accounting_report import sign_accounting
from compliance.reporting import service as report_service
from compliance.reporting.service import ReportView
from compliance.staff.access import participant_zone
from compliance.staff.accounts import Principal
from compliance.web.auth import origin_of
from compliance.web.downloads import attachment
from compliance.web.errors import documented
from compliance.web.page import Page
from compliance.web.reports import PDF_HEADERS


class DisclosuresAPI(Controller):
    path = "/api"
    tags = ["disclosures"]

    @get(
        "/participants/{participant_id:int}/disclosures",
        operation_id="accountingOfDisclosures",
        responses=documented(401, 404),
        summary="Every disclosure of the past 3 years: when, to whom, what, why, on which consent",
    )
    async def disclosures(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Accounting:
        return await accounting.accounting(principal, participant_id, origin_of(request))

    @post(
        "/participants/{participant_id:int}/disclosures/report",
        operation_id="signAccountingOfDisclosures",
        responses=documented(401, 403, 404, 409, 503),
        summary=(
            "Sign the accounting of disclosures as a report for the client (no consent "
            "needed); it supersedes one signed earlier the same day"
        ),
        status_code=201,
    )
    async def sign(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
    ) -> ReportView:
        return await sign_accounting(principal, settings, participant_id, origin_of(request))


class DisclosurePages(Controller):
    include_in_schema = False

    @get("/participants/{participant_id:int}/disclosures")
    async def page(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        account = await accounting.accounting(principal, participant_id, origin_of(request))
        return Page(
            "pages/links/disclosures.html",
            context={
                "principal": principal,
                "a": account,
                "lines": accounting.readable(account),
                "participant_id": participant_id,
                "zone": await participant_zone(participant_id),
            },
            headers={"Cache-Control": "no-store"},
        )

    @get("/participants/{participant_id:int}/disclosures.csv", media_type="text/csv")
    async def csv(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Response[str]:
        account = await accounting.accounting(principal, participant_id, origin_of(request))
        return Response(
            accounting.to_csv(account),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": attachment(f"disclosures-{account.client_id}.csv"),
                "Cache-Control": "no-store",
            },
        )

    @post(
        "/participants/{participant_id:int}/disclosures.pdf",
        status_code=200,
        media_type="application/pdf",
    )
    async def pdf(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
    ) -> Response[bytes]:
        """Signs a new accounting and sends it as stored (read back against its hash): a
        POST, since it makes and stores a report; the page's button is a form."""
        made = await sign_accounting(principal, settings, participant_id, origin_of(request))
        view, content = await report_service.report_pdf(principal, settings, made.id)
        name = f"{view.kind}-{view.public_id}-v{view.version}.pdf"
        return Response(
            content,
            media_type="application/pdf",
            headers={**PDF_HEADERS, "Content-Disposition": attachment(name)},
        )


ROUTES = [DisclosuresAPI, DisclosurePages]
