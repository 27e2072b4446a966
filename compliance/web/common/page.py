"""``Page``: every HTML page the staff and officers see, labelled HTML whatever the
handler declares.

A form handler is declared for its redirect (303); when the input is refused it
re-renders the form with the fields marked, and Litestar would label that page with the
handler's default media type (JSON): the browser then printed the markup. One class, so
no page can be sent as anything but HTML.
"""

from __future__ import annotations

from typing import Any

from litestar.enums import MediaType
from litestar.response import Template


class Page(Template):
    def __init__(self, template_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("media_type", MediaType.HTML)
        super().__init__(template_name, **kwargs)
