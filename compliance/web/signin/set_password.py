"""The page a new staff member opens from their invitation: ``/set-password/{token}``.

The token is the key, as a secure link's is: it is never logged (core/redact.py), never
sent on as a referrer, never cached, and the page is not indexed. It works once.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.staff import accounts
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is only load
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _page(context: dict[str, Any], status: int = 200) -> Template:
    return Page(
        "pages/admin/set_password.html", context=context, status_code=status, headers=HEADERS
    )


def _gone(exc: accounts.InviteGone) -> Template:
    return _page({"gone": str(exc)}, 410 if "not valid" not in str(exc) else 404)


class SetPasswordPages(Controller):
    path = "/set-password"
    include_in_schema = False

    @get("/done")
    async def done(self) -> Template:
        return _page({"done": True})

    @get("/{token:str}")
    async def show(self, token: FromPath[str]) -> Template:
        try:
            holder = await accounts.invite_holder(token)
        except accounts.InviteGone as exc:
            return _gone(exc)
        return _page({"holder": holder, "token": token, "errors": {}})

    @post("/{token:str}", status_code=303)
    async def save(
        self, request: Request, token: FromPath[str], data: URLEncodedBody[dict[str, str]]
    ) -> Template | Redirect:
        try:
            holder = await accounts.invite_holder(token)
        except accounts.InviteGone as exc:
            return _gone(exc)
        password = data.get("password", "")
        errors = {}
        if len(password) < accounts.MIN_PASSWORD_LENGTH:
            errors["password"] = f"must be at least {accounts.MIN_PASSWORD_LENGTH} characters"
        elif len(password) > MAX_PASSWORD:
            errors["password"] = f"must be at most {MAX_PASSWORD} characters"
        elif data.get("confirm", "") != password:
            errors["confirm"] = "is not the same as the password"
        if not errors:
            try:
                await accounts.set_password_with_invite(token, password, origin_of(request))
            except accounts.InviteGone as exc:
                return _gone(exc)
            return Redirect("/set-password/done", status_code=303)
        return _page({"holder": holder, "token": token, "errors": errors}, 422)


ROUTES = [SetPasswordPages]
