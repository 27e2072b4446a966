"""What a form leaves for the one page its redirect leads to (Post/Redirect/Get): a
notice ("Saved: 3 recorded"), or a new link's address that is shown exactly once.

It waits in the staff member's server-side session under the form's own key, with the
id of the page it is for; that page takes it, so a refresh or a second visit finds it
gone and another page never shows it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request


def leave(request: Request, key: str, **values: Any) -> None:
    """Keep ``values`` (with the id of the page they are for) for the next page."""
    request.session[key] = values


def take(request: Request, key: str, **page: Any) -> dict[str, Any] | None:
    """What was left under ``key`` for the page whose ids are ``page``, removed as it
    is read; None when nothing was, or it was left for another page."""
    left = (request.session or {}).get(key)
    if not left or any(left.get(name) != value for name, value in page.items()):
        return None
    request.session.pop(key, None)
    return left
