"""The pages officers open at ``/l/{token}`` with no account: the token is the key.
Link responses are never cached, indexed, framed or referred, and are rate limited per
client and per token (ratelimit.py)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.workers import JobTimedOut, WorkersFailed
from compliance.disclosure import links
from compliance.reporting import service as report_service
from compliance.web.common.downloads import file_download
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of
from compliance.web.links.ratelimit import link_rate_limit
from compliance.web.reports.pdf import pdf_name

LINK_HEADERS = [
    ResponseHeader(name="Cache-Control", value="no-store"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
    ResponseHeader(name="X-Robots-Tag", value="noindex, nofollow"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(
        name="Content-Security-Policy",
        value=(
            "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
]
UNLOCK_COOKIE = "link_unlocked"


def _unlocked(request: Request, settings: Settings, token: str) -> bool:
    """Has this browser entered the link's access code (its signed cookie)?"""
    mark = request.cookies.get(UNLOCK_COOKIE, "")
    return bool(mark) and links.unlocked(settings.secret_key, links.token_hash(token), mark)


def _mark(settings: Settings, token: str) -> str:
    return links.unlock_mark(settings.secret_key, links.token_hash(token))


def _link_page(
    title: str,
    message: str,
    status: int,
    gone: links.LinkGone | None = None,
    headers: dict[str, str] | None = None,
) -> Template:
    """Every refusal on /l/ is this one phone-sized page, labelled HTML."""
    return Page(
        "pages/links/gone.html",
        context={"title": title, "message": message, "gone": gone},
        status_code=status,
        media_type=MediaType.HTML,
        headers=headers,
    )


def _gone_page(exc: links.LinkGone) -> Template:
    return _link_page(
        "This link no longer gives access",
        f"{exc.reason} Nothing about the client is shown.",
        410,
        exc,
    )


def _not_found() -> Template:
    return _link_page(
        "Not a valid link",
        "No link has this address. Check that you copied the whole address you were sent.",
        404,
    )


def _code_page(token: str, attempts_left: int, wrong: bool) -> Template:
    return Page(
        "pages/links/code.html",
        context={"token": token, "attempts_left": attempts_left, "wrong": wrong},
        status_code=401 if wrong else 200,
        media_type=MediaType.HTML,
    )


def _refusals(token: str, *, wrong: bool = False) -> dict[type[Exception], Any]:
    """The page for each reason a link cannot be used just now, as ``submit`` reads
    them: no such link (404), withdrawn or expired (410), or its access code first
    (``wrong``: the code just entered was not it). The code prompt leads to the link's
    page, which holds the download again."""
    return {
        links.LinkNotFound: lambda _: _not_found(),
        links.LinkGone: _gone_page,
        links.CodeRequired: lambda exc: _code_page(token, exc.attempts_left, wrong=wrong),
    }


# Litestar's own refusals on /l/ (rate limit, a bad form, an absurd id) as pages: its
# default labels them with the route's media type, which the phone then shows raw.
LINK_ERRORS = {
    400: ("Not understood", "The page sent something it could not read. Go back and try again."),
    403: ("Refused", "This form has expired. Open the link again and retry."),
    404: ("Not a valid link", "No such page. Check the address you were sent."),
    405: ("Not a valid link", "No such page. Check the address you were sent."),
    429: (
        "Too many requests",
        "This link was opened too often in a short time. Wait a minute and try again.",
    ),
}


def _link_error(request: Request, exc: Exception) -> Response[Any]:
    headers = {h.name: h.value for h in LINK_HEADERS if h.value}
    if isinstance(exc, HTTPException):
        title, message = LINK_ERRORS.get(
            exc.status_code, ("Something went wrong", "Try again in a minute.")
        )
        return _link_page(title, message, exc.status_code, None, {**headers, **(exc.headers or {})})
    # A stored PDF unreadable, a worker down: the operator acts, the officer retries.
    return _link_page(
        "Not available just now",
        "The program's system cannot answer just now. Try again later, or call the program.",
        503,
        None,
        headers,
    )


class OfficerPages(Controller):
    """No account: the token is the key. GET changes nothing a scanner could trigger
    beyond the record of the disclosure itself. Every answer is labelled for what it
    is: a page is text/html, a redirect a redirect, application/pdf only a PDF."""

    path = "/l"
    include_in_schema = False
    guards = [link_rate_limit]
    response_headers = LINK_HEADERS
    exception_handlers = {
        HTTPException: _link_error,
        TooManyRequestsException: _link_error,
        NotFoundException: _link_error,
        report_service.StoreDamaged: _link_error,
        JobTimedOut: _link_error,
        WorkersFailed: _link_error,
    }

    @get("/{token:str}", media_type=MediaType.HTML)
    async def open(
        self, request: Request, settings: NamedDependency[Settings], token: FromPath[str]
    ) -> Template:
        async def shown(grant: links.LinkAccess) -> Template:
            view = await links.officer_view(grant, origin_of(request))
            return Page(
                "pages/links/officer.html",
                context={"v": view, "token": token},
                media_type=MediaType.HTML,
            )

        return await submit(
            links.resolve(token, _unlocked(request, settings, token)),
            shown,
            others=_refusals(token),
        )

    @post("/{token:str}/code", status_code=303, media_type=MediaType.HTML)
    async def code(
        self,
        request: Request,
        settings: NamedDependency[Settings],
        token: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        async def checked() -> None:
            ok = await links.check_code(token, data.get("code", ""), origin_of(request))
            if not ok:
                await links.resolve(token)  # locked now? then 410

        def unlocked(_: None) -> Redirect:
            redirect = Redirect(f"/l/{token}", status_code=303, media_type=MediaType.HTML)
            redirect.cookies.append(
                Cookie(
                    key=UNLOCK_COOKIE,
                    value=_mark(settings, token),
                    path="/l/",
                    max_age=links.UNLOCK_SECONDS,
                    httponly=True,
                    samesite="strict",
                    secure=settings.base_url.startswith("https://"),
                )
            )
            return redirect

        return await submit(checked(), unlocked, others=_refusals(token, wrong=True))

    @get("/{token:str}/reports/{report_id:int}/pdf", media_type=MediaType.HTML)
    async def pdf(
        self,
        request: Request,
        settings: NamedDependency[Settings],
        token: FromPath[str],
        report_id: FromPath[int],
    ) -> Template | Response[bytes]:
        """The PDF, or the page the officer needs instead (the code prompt, the
        withdrawn page, not found), each labelled for what it is: a phone shows an HTML
        page sent as application/pdf as garbage, and a redirect here once failed."""

        async def fetched() -> tuple[dict[str, Any], bytes]:
            grant = await links.resolve(token, _unlocked(request, settings, token))
            return await links.download(grant, settings, report_id, origin_of(request))

        def saved(found: tuple[dict[str, Any], bytes]) -> Response[bytes]:
            report, content = found
            name = pdf_name(report["kind"], report["public_id"], report["version"])
            return file_download(content, "application/pdf", name)

        return await submit(fetched(), saved, others=_refusals(token))


ROUTES = [OfficerPages]
