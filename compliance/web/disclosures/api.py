"""The accounting of disclosures (42 CFR §2.24) for staff to give a client, through the
JSON API: every event, and the accounting signed as a report (/verify knows it like any
report)."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from compliance.core.settings import Settings
from compliance.disclosure import accounting
from compliance.disclosure.accounting import Accounting
from compliance.jobs import reports
from compliance.reporting.service import ReportView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.principal import origin_of


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
        return await reports.accounting(principal, settings, participant_id, origin_of(request))


ROUTES = [DisclosuresAPI]
