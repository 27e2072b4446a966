"""Staff sign-in and sign-out, as pages and as API, and who is asking.

Pages and API call the same ``accounts.authenticate``. An unauthenticated page request
is redirected to the sign-in page; an API request gets 401.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, delete, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.params import FromQuery, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_401_UNAUTHORIZED

from compliance import audit
from compliance.staff import accounts
from compliance.staff.accounts import Principal
from compliance.web.errors import documented
from compliance.web.home import STAFF_HOME
from compliance.web.page import Page
from compliance.web.sign_in_sessions import ROTATE_KEY, SIGNED_IN_AT, within_lifetime

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


@dataclass
class SignInForm:
    email: str
    password: str
    next: str = STAFF_HOME  # sign-in lands on the caseload unless a page sent you here


@dataclass
class Credentials:
    email: str
    password: str


@dataclass
class SignedInUser:
    id: int
    email: str
    full_name: str
    role: str
    program_ids: list[int]


def _user_view(p: Principal) -> SignedInUser:
    return SignedInUser(p.id, p.email, p.full_name, p.role.value, sorted(p.program_ids))


async def _sign_in(request: Request, email: str, password: str) -> Principal:
    principal = await accounts.authenticate(email, password, origin_of(request))
    request.set_session({USER_KEY: principal.id, ROTATE_KEY: True, SIGNED_IN_AT: int(time.time())})
    return principal


@get("/login", include_in_schema=False)
async def login_page(request: Request, next: FromQuery[str] = STAFF_HOME) -> Template:
    return Page("pages/login.html", context={"next": safe_next(next), "error": ""})


@post("/login", include_in_schema=False, status_code=303)
async def login_form(
    request: Request,
    data: URLEncodedBody[SignInForm],
) -> Response[Any]:
    try:
        await _sign_in(request, data.email, data.password)
    except accounts.SignInThrottled as exc:
        context = {"next": safe_next(data.next), "error": str(exc).capitalize() + "."}
        return Page(
            "pages/login.html",
            context=context,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except accounts.SignInRefused:
        context = {"next": safe_next(data.next), "error": "Wrong e-mail or password."}
        return Page("pages/login.html", context=context, status_code=HTTP_401_UNAUTHORIZED)
    return Redirect(safe_next(data.next), status_code=303)


@post("/logout", include_in_schema=False, status_code=303)
async def logout_form(request: Request) -> Redirect:
    await _sign_out(request)
    return Redirect("/login", status_code=303)


async def _sign_out(request: Request) -> None:
    user_id = request.session.get(USER_KEY) if request.session else None
    if user_id is not None:
        await audit.record(
            "logout", audit.Actor(f"user:{user_id}", origin_of(request)), "staff_user", user_id
        )
    request.clear_session()


@post(
    "/api/session",
    tags=["session"],
    operation_id="signIn",
    summary="Sign in",
    status_code=200,
    responses=documented(401, 403, 429),
)
async def api_sign_in(request: Request, data: JSONBody[Credentials]) -> Response[SignedInUser]:
    """Sign in with e-mail and password; the session cookie authenticates later calls.

    Send the ``csrftoken`` cookie's value in an ``X-CSRFToken`` header with every
    state-changing call (get the cookie from any GET first). The token belongs to one
    session: this answer sets a new ``csrftoken`` cookie for the new session, to be used
    from then on. 401 on wrong credentials, 429 with ``Retry-After`` after repeated
    failures.
    """
    try:
        principal = await _sign_in(request, data.email, data.password)
    except accounts.SignInThrottled as exc:
        return Response(
            {"status_code": 429, "detail": str(exc)},
            status_code=429,  # type: ignore[arg-type]
            headers={"Retry-After": str(exc.retry_after)},
        )
    except accounts.SignInRefused as exc:
        raise NotAuthorizedException(str(exc)) from None
    return Response(_user_view(principal))


@get(
    "/api/session",
    tags=["session"],
    operation_id="currentUser",
    summary="Who am I",
    responses=documented(401),
)
async def api_current_user(principal: NamedDependency[Principal]) -> SignedInUser:
    return _user_view(principal)


@delete(
    "/api/session",
    tags=["session"],
    operation_id="signOut",
    summary="Sign out",
    status_code=HTTP_204_NO_CONTENT,
    responses=documented(403),
)
async def api_sign_out(request: Request) -> None:
    await _sign_out(request)


def unauthenticated_handler(request: Request, exc: NotAuthorizedException) -> Response[Any]:
    """Pages go to the sign-in form (and come back after); the API answers 401 JSON."""
    if request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", ""):
        return Response({"status_code": 401, "detail": exc.detail}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target)}", status_code=303)


ROUTES = [login_page, login_form, logout_form, api_sign_in, api_current_user, api_sign_out]
