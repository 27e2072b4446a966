"""The sign-in page and sign-out button, over the same sign-in as the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_401_UNAUTHORIZED

from compliance.staff import accounts
from compliance.web.common.page import Page
from compliance.web.common.principal import safe_next, sign_in, sign_out
from compliance.web.site.home import STAFF_HOME


@dataclass
class SignInForm:
    email: str
    password: str
    next: str = STAFF_HOME  # sign-in lands on the caseload unless a page sent you here


@get("/login", include_in_schema=False)
async def login_page(request: Request, next: FromQuery[str] = STAFF_HOME) -> Template:
    return Page("pages/login.html", context={"next": safe_next(next), "error": ""})


@post("/login", include_in_schema=False, status_code=303)
async def login_form(
    request: Request,
    data: URLEncodedBody[SignInForm],
) -> Response[Any]:
    try:
        await sign_in(request, data.email, data.password)
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
    await sign_out(request)
    return Redirect("/login", status_code=303)


ROUTES = [login_page, login_form, logout_form]
