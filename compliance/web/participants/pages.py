"""The staff pages for participants: the list, enrolment (the new-client flow's first
step), the first report or link, and a participant's page with its forms."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from dataclasses import astuple
from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from compliance.consent import consents
from compliance.core import db
from compliance.core.validation import InvalidInput
from compliance.core.vocabulary import DischargeReason, LevelOfCare
from compliance.disclosure import links as secure_links
from compliance.disclosure import schedules
from compliance.disclosure.choices import disclosure_choices
from compliance.engine import caseload, violations
from compliance.engine.caseload import compliance_period
from compliance.records import attendance, drug_tests, mandates, participants
from compliance.records.participants import ParticipantView
from compliance.reporting import charts
from compliance.reporting import service as report_service
from compliance.staff import access
from compliance.staff.access import program_options
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.common import flow
from compliance.web.common.errors import field_errors
from compliance.web.common.forms import FieldErrors, submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.followup_plans.pages import participant_page_context

# Where the form token and the links table go in a participant page kept as HTML: made
# up at start-up, so no participant's data (escaped in any case) can contain them.
_TOKEN = f"<!--form-token-{secrets.token_hex(16)}-->"
_LINKS = Markup(f"<!--links-{secrets.token_hex(16)}-->")  # noqa: S704 - a constant comment

LEVEL_OPTIONS = [
    ("1", "1 Outpatient"),
    ("2.1", "2.1 Intensive outpatient"),
    ("2.5", "2.5 Partial hospitalization"),
    ("aftercare", "Aftercare"),
]


class ParticipantPages(Controller):
    path = "/participants"
    include_in_schema = False

    @get()
    async def index(self, principal: NamedDependency[Principal]) -> Template:
        people = await participants.list_participants(principal)
        return Page(
            "pages/participants/index.html",
            context={"principal": principal, "participants": people},
        )

    @get("/new")
    async def new(self, principal: NamedDependency[Principal]) -> Template:
        return await self._enroll_form(principal, {}, {})

    async def _enroll_form(
        self, principal: Principal, values: dict, errors: dict, status: int = 200
    ) -> Template:
        context = {
            "principal": principal,
            "values": values or {"level_of_care": LevelOfCare.intensive_outpatient.value},
            "errors": errors,
            "level_options": LEVEL_OPTIONS,
            "program_options": await program_options(principal),
            "steps": flow.STEPS,
        }
        return Page("pages/participants/new.html", context=context, status_code=status)

    @post("/new", status_code=303)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        return await submit(
            participants.enroll(principal, data, origin_of(request)),
            lambda view: Redirect(flow.mandate_step(view.id), status_code=303),
            lambda errors: self._enroll_form(principal, data, errors, status=422),
        )

    @get("/{participant_id:int}/first-report")
    async def first_report(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        """Step 4 of the new-client flow: the first report or link, to the recipients a
        valid consent covers (optional: the page says how to finish without one)."""
        view = await participants.get_participant(principal, participant_id)
        start, end = await compliance_period(principal, participant_id, None, None)
        context = {
            "principal": principal,
            "p": view,
            "steps": flow.STEPS,
            "disclosure": await disclosure_choices(principal, participant_id),
            "mandates": await mandates.participant_mandates(principal, participant_id),
            "consents": [
                c
                for c in await consents.participant_consents(principal, participant_id)
                if c.state == "active"
            ],
            "period_start": start,
            "period_end": end,
        }
        return Page("pages/participants/first_report.html", context=context)

    @get("/{participant_id:int}")
    async def show(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        start: FromQuery[date | None] = None,
        end: FromQuery[date | None] = None,
    ) -> Response[Any]:
        """``start``, ``end``: the period asked for (either may be None: the last 12 weeks
        of the enrolment up to today); one the page cannot show is named and the default
        shown instead (422)."""
        person = await access.participant_row(principal, participant_id)  # every request
        kept = await _records(request, principal, person, start, end)
        view = participants.to_view(person, kept["program_name"])
        return await self._detail(request, principal, view, {}, {}, kept)

    async def _detail(
        self,
        request: Request,
        principal: Principal,
        view: ParticipantView,
        values: dict,
        errors: dict,
        kept: dict[str, Any] | None = None,
        status: int = 200,
    ) -> Response[Any]:
        """``view``: the participant, who the principal may see; ``kept``: what
        ``_records`` found for the period shown (by default the last 12 weeks)."""
        if kept is None:
            person = await access.participant_row(principal, view.id)
            kept = await _records(request, principal, person, None, None)
        engine = request.app.template_engine.engine  # type: ignore[union-attr]
        token = ScopeState.from_scope(request.scope).csrf_token
        csrf_input = f'<input type="hidden" name="_csrf_token" value="{escape(token or "")}" />'
        # Links are read live: their use is not a change to the records (db.records_version).
        links = await secure_links.participant_links(principal, view.id)
        tables = engine.get_template("pages/participants/records.html").module
        links_html = tables.links_table(links, kept["zone"], csrf_input)
        if kept["period_problem"]:
            status = 422
        context = {
            "principal": principal,
            "p": view,
            "values": values,
            "errors": errors,
            "level_options": LEVEL_OPTIONS,
            "reason_options": [(r.value, r.value.replace("_", " ")) for r in DischargeReason],
            **kept,
        }
        if values or errors:  # a refused form: rendered with what was submitted
            context["links_html"] = links_html
            return Page("pages/participants/show.html", context=context, status_code=status)
        # The page as shown to this principal (the header names them) for these records,
        # rendered once with marks where the form token and the live links table go.
        cache = db.view_cache("participant_html", CACHED_PAGES)
        key = (kept["_key"], astuple(view), principal)
        html = cache.get(key)
        if html is None:
            template = engine.get_template("pages/participants/show.html")
            html = template.render(context | {"csrf_input": _TOKEN, "links_html": _LINKS})
            cache.put(key, html)
        page = html.replace(_TOKEN, csrf_input).replace(_LINKS, str(links_html))
        return Response(page, media_type=MediaType.HTML, status_code=status)

    @post("/{participant_id:int}/edit", status_code=303)
    async def edit(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        fields = {k: v for k, v in data.items() if k in participants.EDITABLE}
        change = participants.edit(principal, participant_id, fields, origin_of(request))
        return await self._change(request, principal, participant_id, data, change)

    @post("/{participant_id:int}/discharge", status_code=303)
    async def discharge(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Any:
        change = participants.discharge(principal, participant_id, data, origin_of(request))
        return await self._change(request, principal, participant_id, data, change)

    async def _change(
        self,
        request: Request,
        principal: Principal,
        participant_id: int,
        values: dict[str, str],
        change: Awaitable[ParticipantView],
    ) -> Response[Any]:
        """A form on the participant's page (edit or discharge): back to the page, or
        the page again with the refused form as sent."""

        async def refused(errors: FieldErrors) -> Response[Any]:
            view = await participants.get_participant(principal, participant_id)
            return await self._detail(request, principal, view, values, errors, status=422)

        return await submit(
            change,
            lambda _: Redirect(f"/participants/{participant_id}", status_code=303),
            refused,
        )


# Participant pages kept (each a few hundred kB: views, evaluation, tables); an old
# records version is never read again and ages out.
CACHED_PAGES = 64


async def _records(
    request: Request,
    principal: Principal,
    person: dict[str, Any],
    start: date | None,
    end: date | None,
) -> dict[str, Any]:
    """What the participant page shows from the records: lists, the period's compliance
    as the engine judges it, the charts, and its longest tables rendered (the weeks,
    attendance, drug tests: pages/participants/records.html). Computed once and kept
    while the records stay as they were (``db.records_version``) and the day is the
    same (the program's, and the server's that consent states are judged on), for
    whoever may see the participant: nothing here depends on who is looking, and the
    caller has checked that this principal may see ``person`` (its row, read on this
    request) (issue 18). Read-only for the caller."""
    cache = db.view_cache("participant_page", CACHED_PAGES)
    pid = person["id"]
    key = (pid, start, end, await db.records_version())
    return await cache.computed_once(
        key,
        lambda: _made(request, principal, person, start, end, key),
        fresh=lambda kept: kept["_days"] == _days(kept["zone"]),
    )


async def _made(
    request: Request,
    principal: Principal,
    person: dict[str, Any],
    start: date | None,
    end: date | None,
    key: tuple,
) -> dict[str, Any]:
    """``_records`` when not kept: made (``computed_once`` keeps it)."""
    pid = person["id"]
    program = (
        await Program.select(Program.name, Program.time_zone)
        .where(Program.id == person["program"])
        .first()
    )
    zone = program["time_zone"]
    days = _days(zone)
    problem = ""
    try:
        start, end = await compliance_period(principal, pid, start, end)
    except InvalidInput as exc:
        start, end = await compliance_period(principal, pid, None, None)
        problem = "; ".join(field_errors(exc).values())
    found = {
        "attendance": (await attendance.participant_attendance(principal, pid))[:50],
        "tests": (await drug_tests.participant_tests(principal, pid))[:50],
        "mandates": await mandates.participant_mandates(principal, pid),
        "consents": await consents.participant_consents(principal, pid),
        "open_violations": await violations.participant_violations(principal, pid),
        "reports": await report_service.participant_reports(principal, pid),
        "disclosure": await disclosure_choices(principal, pid),
        "schedules": await schedules.list_schedules(principal, pid),
        "zone": zone,
        "program_name": program["name"],
        **await participant_page_context(principal, pid),
    }
    evaluation = await caseload.participant_compliance(principal, pid, start, end)
    found.update(
        period_start=start,
        period_end=end,
        period_problem=problem,
        evaluation=evaluation,
        hours_svg=charts.hours_chart(evaluation.weeks),
        timeline_svg=charts.drug_test_timeline(
            evaluation.weeks, max(start, person["admitted_on"]), evaluation.as_of
        ),
        _days=days,
        _key=(*key, days),
    )
    engine = request.app.template_engine.engine  # type: ignore[union-attr]
    tables = engine.get_template("pages/participants/records.html").module
    found.update(
        weeks_html=tables.weeks_rows(evaluation),
        attendance_html=tables.attendance_rows(found["attendance"], zone),
        tests_html=tables.test_rows(found["tests"], zone),
    )
    return found


def _days(zone: str) -> tuple[date, date]:
    """Today in the program's zone and on the server's clock (consent states use it)."""
    return datetime.now(ZoneInfo(zone)).date(), date.today()


ROUTES = [ParticipantPages]
