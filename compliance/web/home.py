"""The landing page: what this service is and where to go next."""

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template

from compliance import __version__
from compliance.accounts import Principal
from compliance.web.page import Page


@get("/", include_in_schema=False)
async def home_page(maybe_principal: NamedDependency[Principal | None]) -> Template:
    context = {"version": __version__, "principal": maybe_principal}
    return Page(template_name="pages/home.html", context=context)
