"""The landing page: what this service is and where to go next."""

from litestar import get
from litestar.response import Template

from compliance import __version__


@get("/", include_in_schema=False, sync_to_thread=False)
def home_page() -> Template:
    return Template(template_name="pages/home.html", context={"version": __version__})
