"""The caseload page, where a clinician's day starts (who needs attention), and the
review of a violation from a participant's page."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from markupsafe import Markup

from compliance.core import db
from compliance.core.validation import InvalidInput
from compliance.engine import caseload, violations
from compliance.engine.caseload import CaseRow
from compliance.staff.accounts import Principal
from compliance.tables import Program
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of


class CaseloadPages(Controller):
    include_in_schema = False

    @get("/caseload")
    async def page(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        sort: FromQuery[str] = "status",
        show: FromQuery[str] = "all",
        q: FromQuery[str] = "",
    ) -> Template:
        rows, stamp = await caseload.current(principal)
        try:
            caseload.arrange(rows[:0], sort, show, q)
        except InvalidInput:
            sort, show, q = "status", "all", ""
        table = await _table(request, rows, stamp, sort, show, q)
        return Page(
            "pages/caseload.html",
            context={"principal": principal, "sort": sort, "show": show, "q": q} | table,
        )

    @post("/violations/{violation_id:int}/review", status_code=303)
    async def review(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        violation_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        view = await violations.review(
            principal, violation_id, data.get("note", ""), origin_of(request)
        )
        return Redirect(f"/participants/{view.participant_id}#compliance", status_code=303)


# Caseload tables kept (caseload x sort, filter and search; a large one is megabytes of
# HTML): old versions age out.
CACHED_TABLES = 16


async def _table(
    request: Request, rows: list[CaseRow], stamp: tuple, sort: str, show: str, q: str
) -> dict[str, Any]:
    """The caseload page's context but for who is looking: the rows sorted, filtered and
    rendered, the counts and the collection windows. Kept under the caseload's stamp
    (its programs, the records' version, until when it holds), so eight clinicians on
    the same caseload render its rows once, not on each load (issue 18); the page shell
    around them is rendered per request."""
    cache = db.view_cache("caseload_page", CACHED_TABLES)
    key = (stamp, sort, show, q.strip())
    found = cache.get(key)
    if found is not None:
        return found
    shown = caseload.arrange(rows, sort, show, q)
    engine = request.app.template_engine.engine  # type: ignore[union-attr]
    html = engine.get_template("pages/caseload_rows.html").render(
        rows=shown, lead_kind=caseload.lead_kind, why=caseload.why, severity=caseload.SEVERITY
    )
    programs = stamp[0]
    windows = await Program.select(Program.collection_window_hours).where(
        Program.id.is_in(list(programs) or [0])
    )
    found = {
        "rows_html": Markup(html),  # noqa: S704 - rendered with autoescape on
        "shown": len(shown),
        "counts": caseload.counts(rows),
        "sorts": SORT_LABELS,
        "shows": SHOW_LABELS,
        "report_days": caseload.REPORT_INTERVAL_DAYS,
        "window_hours": sorted({w["collection_window_hours"] for w in windows}),
    }
    cache.put(key, found)
    return found


SORT_LABELS = {
    "status": "most serious first",
    "violations": "open violations",
    "last_positive": "most recent positive",
    "name": "last name",
    "client_id": "client id",
}
SHOW_LABELS = {
    "all": "everyone",
    "attention": "needs attention",
    "this_week": "not compliant this week",
    "last_week": "not compliant last week",
    "tests_overdue": "tests overdue",
    "reports_due": "court reports due",
    "violations": "open violations",
    "compliant": "compliant last week",
    "stepdown": "meets step-down criteria",
}


ROUTES = [CaseloadPages]
