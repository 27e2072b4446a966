"""Who is asking: the staff member a session was signed in for, from any route.

The session holds the member's id from sign-in (``sign_in``) to sign-out
(``sign_out``); every staff route reads it through the ``principal`` dependency. An
unauthenticated page request is redirected to the sign-in page; an API request gets 401.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.response import Redirect

from compliance import audit
from compliance.staff import accounts
from compliance.staff.accounts import Principal
from compliance.web.common.errors import api_error
from compliance.web.common.sign_in_sessions import ROTATE_KEY, SIGNED_IN_AT, within_lifetime

USER_KEY = "user_id"


def origin_of(connection: ASGIConnection) -> str:
    client = connection.client
    return client.host if client else ""


async def provide_principal(request: Request) -> Principal:
    """Dependency: the signed-in user, or 401 (pages turn that into a redirect)."""
    session = request.session or {}
    user_id = session.get(USER_KEY)
    if user_id is not None and not within_lifetime(session):
        request.clear_session()  # signed in too long ago: the stored session goes too
        raise NotAuthorizedException("the session has ended; sign in again")
    principal = await accounts.load_principal(user_id) if isinstance(user_id, int) else None
    if principal is None:
        if user_id is not None:
            request.clear_session()  # deactivated since signing in
        raise NotAuthorizedException("sign in first")
    return principal


async def provide_optional_principal(request: Request) -> Principal | None:
    try:
        return await provide_principal(request)
    except NotAuthorizedException:
        return None


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a phishing link borrow our name.

    Browsers drop tabs and newlines inside a URL (so "/<tab>/evil.example" becomes
    "//evil.example") and read a backslash as a slash; a target holding any of those,
    or any other control character or space, goes home instead.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(c <= " " or c == "\x7f" for c in target):
        return "/"
    return target


async def sign_in(request: Request, email: str, password: str) -> Principal:
    """The sign-in form and the API call the same ``accounts.authenticate``."""
    principal = await accounts.authenticate(email, password, origin_of(request))
    request.set_session({USER_KEY: principal.id, ROTATE_KEY: True, SIGNED_IN_AT: int(time.time())})
    return principal


async def sign_out(request: Request) -> None:
    user_id = request.session.get(USER_KEY) if request.session else None
    if user_id is not None:
        await audit.record(
            "logout", audit.Actor(f"user:{user_id}", origin_of(request)), "staff_user", user_id
        )
    request.clear_session()


def unauthenticated_handler(request: Request, exc: NotAuthorizedException) -> Response[Any]:
    """Pages go to the sign-in form (and come back after); the API answers 401 JSON."""
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return api_error(401, exc.detail)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target)}", status_code=303)
