"""Scheduled reports, through the API and from the participant page: set one up (the
recipient's consent checked now and at every send), list them with their runs, end
one. disclosure/schedules.py does the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Redirect

from compliance.disclosure import schedules
from compliance.disclosure.schedules import ScheduleView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented, error_page
from compliance.web.common.forms import submit
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of


@dataclass
class NewSchedule:
    recipient_id: int
    kind: str  # court_progress, eap_status or sap_followup
    frequency: str  # weekly or monthly
    send_day: int  # weekly: 0 = Monday ... 6 = Sunday; monthly: 1-28


class ReportSchedulesAPI(Controller):
    tags = ["reports"]

    @get(
        "/api/participants/{participant_id:int}/report-schedules",
        operation_id="listReportSchedules",
        responses=documented(401, 404),
        summary="A participant's report schedules, each with its runs (newest first)",
    )
    async def list_schedules(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[ScheduleView]:
        return await schedules.list_schedules(principal, participant_id)

    @post(
        "/api/participants/{participant_id:int}/report-schedules",
        operation_id="createReportSchedule",
        responses=documented(401, 403, 404, 422),
        summary="Send a report on a schedule: weekly on a weekday or monthly on a day",
    )
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[NewSchedule],
    ) -> ScheduleView:
        """The report for the last full period, signed by you and sent through the
        outbox when due. 422 when no valid consent covers the report for the recipient
        today (and at each send, a lapsed consent skips the run and says so)."""
        return await schedules.create_schedule(
            principal, participant_id, plain(data), origin_of(request)
        )

    @post(
        "/api/report-schedules/{schedule_id:int}/end",
        operation_id="endReportSchedule",
        status_code=200,
        responses=documented(401, 403, 404),
        summary="End a schedule (its runs stay)",
    )
    async def end(
        self, request: Request, principal: NamedDependency[Principal], schedule_id: FromPath[int]
    ) -> ScheduleView:
        return await schedules.end_schedule(principal, schedule_id, origin_of(request))

    @post(
        "/api/report-schedules/{schedule_id:int}/take-over",
        operation_id="takeOverReportSchedule",
        responses=documented(401, 403, 404, 422),
        summary="Sign a schedule's reports as yourself from now on (a new schedule; the old ends)",
    )
    async def take_over(
        self, request: Request, principal: NamedDependency[Principal], schedule_id: FromPath[int]
    ) -> ScheduleView:
        """422 when it has ended, is yours already, or no valid consent covers the
        report today."""
        return await schedules.take_over(principal, schedule_id, origin_of(request))


def _not_set_up(principal: Principal, errors: dict[str, str]) -> Any:
    reasons = "; ".join(f"{field.replace('_', ' ')}: {why}" for field, why in errors.items())
    return error_page(422, "The schedule was not set up", reasons, principal=principal)


def _on_the_page(errors: dict[str, str]) -> dict[str, str]:
    """The API's frequency and send day are the page's one "When" choice."""
    return {("when" if f in ("frequency", "send_day") else f): why for f, why in errors.items()}


def _when_split(data: dict[str, str]) -> dict[str, str]:
    """The page offers one choice, "weekly:0" (Mondays) or "monthly:1" (the 1st), read
    as the API's ``frequency`` and ``send_day``; anything else is left for the service
    to refuse by name."""
    frequency, _, day = data.get("when", "").partition(":")
    if not frequency:
        return data
    return {**data, "frequency": frequency, "send_day": day}


class ReportSchedulePages(Controller):
    include_in_schema = False

    @post("/participants/{participant_id:int}/report-schedules", status_code=303)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            schedules.create_schedule(
                principal, participant_id, _when_split(data), origin_of(request)
            ),
            lambda _: Redirect(f"/participants/{participant_id}#schedules", status_code=303),
            lambda errors: _not_set_up(principal, _on_the_page(errors)),
        )

    @post("/report-schedules/{schedule_id:int}/end", status_code=303)
    async def end(
        self, request: Request, principal: NamedDependency[Principal], schedule_id: FromPath[int]
    ) -> Redirect:
        ended = await schedules.end_schedule(principal, schedule_id, origin_of(request))
        return Redirect(f"/participants/{ended.participant_id}#schedules", status_code=303)

    @post("/report-schedules/{schedule_id:int}/take-over", status_code=303)
    async def take_over(
        self, request: Request, principal: NamedDependency[Principal], schedule_id: FromPath[int]
    ) -> Any:
        return await submit(
            schedules.take_over(principal, schedule_id, origin_of(request)),
            lambda made: Redirect(
                f"/participants/{made.participant_id}#schedules", status_code=303
            ),
            lambda errors: _not_set_up(principal, errors),
        )


ROUTES = [ReportSchedulesAPI, ReportSchedulePages]
