"""The landing page: what this service is, for visitors; staff go straight to work."""

from typing import Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.response import Redirect

from compliance import __version__
from compliance.staff.accounts import Principal
from compliance.web.common.page import Page

# Where a signed-in clinician's day starts: who needs attention (issue 15).
STAFF_HOME = "/caseload"


@get("/", include_in_schema=False)
async def home_page(maybe_principal: NamedDependency[Principal | None]) -> Response[Any]:
    if maybe_principal is not None:
        return Redirect(STAFF_HOME, status_code=303)
    context = {"version": __version__, "principal": None}
    return Page(template_name="pages/home.html", context=context)
