"""The call-in, for participants: a page a phone opens (``/call-in/<program code>``) and
the program's phone line (IVR) through ``POST /api/call-in`` with its own key. Both ask
random_testing/call_in.check_in, so both answer alike. Neither needs a staff session;
both are limited per client address (counted across instances with Redis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Template

from compliance.random_testing import call_in
from compliance.web.common.errors import documented
from compliance.web.common.page import Page

PER_CLIENT_PER_MINUTE = 20


async def call_in_rate_limit(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    state = connection.app.state
    if "call_in_limit" not in state:
        state.call_in_limit = state.shared.window("call-in-client", PER_CLIENT_PER_MINUTE, 60)
    client = connection.client.host if connection.client else "?"
    if not await state.call_in_limit.allow(client):
        raise TooManyRequestsException(
            "too many requests; wait a minute", headers={"Retry-After": "60"}
        )


@dataclass
class CallInForm:
    number: str = ""
    pin: str = ""


class CallInPage(Controller):
    path = "/call-in/{program_code:str}"
    include_in_schema = False
    guards = [call_in_rate_limit]

    @get()
    async def form(self, program_code: FromPath[str]) -> Template:
        return Page("pages/call_in.html", context={"program_code": program_code, "answer": None})

    @post(status_code=200)
    async def ask(self, program_code: FromPath[str], data: URLEncodedBody[CallInForm]) -> Template:
        answer = await call_in.check_in(program_code, data.number, data.pin, "web")
        return Page(
            "pages/call_in.html",
            context={"program_code": program_code, "answer": answer, "number": data.number},
            status_code=200,
        )


@dataclass
class PhoneCheckIn:
    participant_number: str
    pin: str


@dataclass
class PhoneAnswer:
    """``status``: test, no_test, not_open, refused or locked; ``message`` is what the
    line reads out."""

    status: str
    message: str
    site: str
    test_by: datetime | None


def _bearer(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthorizedException("the phone line's key is required (Authorization: Bearer)")
    return key.strip()


class PhoneLineAPI(Controller):
    path = "/api/call-in"
    tags = ["random testing"]
    guards = [call_in_rate_limit]
    opt: dict[str, Any] = {"exclude_from_csrf": True}  # a machine's call, with its own key

    @post(
        operation_id="phoneLineCheckIn",
        status_code=200,
        responses=documented(401, 429),
        summary="The program's phone line asks whether a participant tests today",
    )
    async def check_in(self, request: Request, data: JSONBody[PhoneCheckIn]) -> PhoneAnswer:
        """With the program's phone-line key (``compliance testing phone-key``). A wrong
        number or PIN is ``refused`` (the line says so), five in a row ``locked``."""
        program = await call_in.phone_line_program(_bearer(request))
        if program is None:
            raise NotAuthorizedException("unknown or revoked phone-line key")
        answer = await call_in.check_in(program["code"], data.participant_number, data.pin, "phone")
        return PhoneAnswer(answer.status, answer.message, answer.site, answer.test_by)


ROUTES = [CallInPage, PhoneLineAPI]
