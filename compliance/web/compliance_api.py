"""Week-by-week compliance and the caseload: JSON API and the caseload page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from compliance import access, caseload
from compliance.accounts import Principal
from compliance.caseload import CaseRow
from compliance.rules import Evaluation
from compliance.tables import Program
from compliance.validation import FieldError, InvalidInput

DEFAULT_WEEKS = 8


async def _period(
    principal: Principal, participant_id: int, start: date | None, end: date | None
) -> tuple[date, date]:
    person = await access.participant_row(principal, participant_id)
    program = await Program.select(Program.time_zone).where(Program.id == person["program"]).first()
    end = end or datetime.now(ZoneInfo(program["time_zone"])).date()
    start = start or max(person["admitted_on"], end - timedelta(weeks=DEFAULT_WEEKS))
    if start > end or (end - start).days > 3 * 366:
        raise InvalidInput([FieldError("start", "must be before the end and within 3 years of it")])
    return start, end


class ComplianceAPI(Controller):
    path = "/api"
    tags = ["compliance"]

    @get(
        "/participants/{participant_id:int}/compliance",
        operation_id="participantCompliance",
        summary="Week-by-week compliance with reasons, and the period's summary",
    )
    async def participant(
        self,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        start: FromQuery[date | None] = None,
        end: FromQuery[date | None] = None,
    ) -> Evaluation:
        start, end = await _period(principal, participant_id, start, end)
        return await caseload.participant_compliance(principal, participant_id, start, end)

    @get(
        "/caseload",
        operation_id="caseload",
        summary="Every active participant: this and last week, out of compliance first",
    )
    async def caseload(
        self, principal: NamedDependency[Principal], program_id: FromQuery[int | None] = None
    ) -> list[CaseRow]:
        return await caseload.caseload(principal, program_id=program_id)


class CaseloadPage(Controller):
    path = "/caseload"
    include_in_schema = False

    @get()
    async def page(self, principal: NamedDependency[Principal]) -> Template:
        rows = await caseload.caseload(principal)
        return Template("pages/caseload.html", context={"principal": principal, "rows": rows})


ROUTES = [ComplianceAPI, CaseloadPage]
