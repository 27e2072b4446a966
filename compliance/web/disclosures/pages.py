"""The accounting of disclosures (42 CFR §2.24) for staff to give a client: the readable
page, the CSV, and the signed PDF (made anew on each request, so it is current the day
the client gets it; /verify knows it like any report)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from compliance.core.settings import Settings
from compliance.disclosure import accounting
from compliance.jobs import reports
from compliance.reporting import service as report_service
from compliance.staff.access import participant_zone
from compliance.staff.accounts import Principal
from compliance.web.common.downloads import file_download
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.reports.pdf import pdf_download


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
        name = f"disclosures-{account.client_id}.csv"
        return file_download(accounting.to_csv(account), "text/csv; charset=utf-8", name)

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
        made = await reports.accounting(principal, settings, participant_id, origin_of(request))
        view, content = await report_service.report_pdf(principal, settings, made.id)
        return pdf_download(view, content)


ROUTES = [DisclosurePages]
