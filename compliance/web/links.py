"""Secure links: staff create and revoke them (API and forms); officers open them at
``/l/{token}`` with no account. Link responses are never cached, indexed, framed or
referred, and are rate limited per client and per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, MediaType, Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, TooManyRequestsException
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.validation import Form, InvalidInput
from compliance.core.vocabulary import LinkScope
from compliance.core.workers import JobTimedOut, WorkersFailed
from compliance.disclosure import delivery, links, outbox
from compliance.disclosure.delivery import SentReport
from compliance.disclosure.links import LinkView, NewLink
from compliance.disclosure.outbox import OutboxView
from compliance.reporting import service as report_service
from compliance.staff.access import participant_row, participant_zone, program_zone
from compliance.staff.accounts import Principal
from compliance.web.auth import origin_of
from compliance.web.downloads import attachment
from compliance.web.errors import documented
from compliance.web.forms import submit
from compliance.web.page import Page
from compliance.web.ratelimit import link_rate_limit

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


@dataclass
class LinkRequest:
    recipient_id: int
    scope: str = LinkScope.participant.value
    report_id: int | None = None
    days: int = links.DEFAULT_DAYS
    access_code: bool = False


class LinksAPI(Controller):
    path = "/api"
    tags = ["secure links"]

    @post(
        "/participants/{participant_id:int}/links",
        operation_id="createLink",
        responses=documented(401, 403, 404, 422),
        summary="A secure link for a recipient; the URL and access code are shown only now",
        status_code=201,
    )
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
        data: JSONBody[LinkRequest],
    ) -> NewLink:
        return await links.create_link(
            principal,
            settings,
            participant_id,
            data.recipient_id,
            data.scope,
            data.report_id,
            data.days,
            data.access_code,
            origin_of(request),
        )

    @get(
        "/participants/{participant_id:int}/links",
        operation_id="participantLinks",
        responses=documented(401, 404),
        summary="A participant's secure links (never their tokens)",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[LinkView]:
        return await links.participant_links(principal, participant_id)

    @post(
        "/links/{link_id:int}/revoke",
        operation_id="revokeLink",
        responses=documented(401, 403, 404),
        summary="Stop a link at once",
        status_code=200,
    )
    async def revoke(
        self, request: Request, principal: NamedDependency[Principal], link_id: FromPath[int]
    ) -> LinkView:
        return await links.revoke_link(principal, link_id, origin_of(request))


@dataclass
class SendRequest:
    access_code: bool = False


class DeliveryAPI(Controller):
    path = "/api"
    tags = ["secure links"]

    @post(
        "/reports/{report_id:int}/send",
        operation_id="sendReport",
        responses=documented(401, 403, 404, 422),
        summary="E-mail the report's recipient a secure link to it (no health information)",
        status_code=201,
    )
    async def send(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
        data: JSONBody[SendRequest],
    ) -> SentReport:
        return await delivery.send_report(
            principal, settings, report_id, data.access_code, origin_of(request)
        )

    @get(
        "/programs/{program_id:int}/outbox",
        operation_id="programOutbox",
        responses=documented(401, 404),
        summary="The program's outgoing e-mail, newest first, with delivery state",
    )
    async def outbox(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
    ) -> list[OutboxView]:
        return await outbox.program_outbox(principal, settings, program_id)


# What a staff member reads for each field a link form can get wrong.
FIELD_WORDS = {
    "recipient_id": "Recipient",
    "recipient": "Recipient",
    "days": "Days valid",
    "report_id": "Report",
    "scope": "Link",
}


def _html(
    template: str, context: dict[str, Any], status: int = 200, headers: Any = None
) -> Template:
    """An HTML page labelled as one, whatever media type the handler declares."""
    return Page(
        template,
        context=context,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _reasons(exc: InvalidInput) -> list[str]:
    """Each reason once, in words: a consent refusal is already a sentence."""
    out: list[str] = []
    for e in exc.errors:
        text = (
            e.reason if e.field == "consent" else f"{FIELD_WORDS.get(e.field, e.field)}: {e.reason}"
        )
        if text not in out:
            out.append(text)
    return out


async def _refused(
    principal: Principal, participant_id: int, exc: InvalidInput, sending: bool = False
) -> Template:
    """A staff form's refusal as a page (422): the reasons and the way back."""
    person = await participant_row(principal, participant_id)
    return _html(
        "pages/links/created.html",
        {
            "principal": principal,
            "refused": _reasons(exc),
            "consent_refused": isinstance(exc, report_service.ConsentRefused),
            "sending": sending,
            "participant_id": participant_id,
            "participant_name": f"{person['first_name']} {person['last_name']}",
        },
        status=422,
    )


SHOWN_ONCE = "link_shown_once"


def _show_once(request: Request, made: NewLink, sent_to: str | None = None) -> Redirect:
    """Post/Redirect/Get: the new link's address waits in the staff member's server-side
    session for the one page that shows it, so a refresh repeats nothing."""
    request.session[SHOWN_ONCE] = {
        "link_id": made.link.id,
        "url": made.url,
        "access_code": made.access_code,
        "sent_to": sent_to,
    }
    return Redirect(f"/links/{made.link.id}/created", status_code=303)


class LinkPages(Controller):
    include_in_schema = False

    @post("/participants/{participant_id:int}/links", status_code=303, media_type=MediaType.HTML)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        form = Form(data)
        recipient = form.integer("recipient_id", minimum=1)
        days = form.integer("days", required=False, minimum=1, maximum=links.MAX_DAYS)
        report = form.integer("report_id", required=False, minimum=1)

        async def created() -> NewLink:
            form.errors.raise_if_any()  # the form's refusals come back as the service's do
            assert recipient is not None
            return await links.create_link(
                principal,
                settings,
                participant_id,
                recipient,
                LinkScope.report if report else LinkScope.participant,
                report,
                days or links.DEFAULT_DAYS,
                data.get("access_code") == "true",
                origin_of(request),
            )

        return await submit(
            created(),
            lambda made: _show_once(request, made),
            others={InvalidInput: lambda exc: _refused(principal, participant_id, exc)},
        )

    @post("/reports/{report_id:int}/send", status_code=303, media_type=MediaType.HTML)
    async def send(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        report_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:

        async def refused(exc: InvalidInput) -> Template:
            report = await report_service.get_report(principal, report_id)
            return await _refused(principal, report.participant_id, exc, sending=True)

        return await submit(
            delivery.send_report(
                principal,
                settings,
                report_id,
                data.get("access_code") == "true",
                origin_of(request),
            ),
            lambda sent: _show_once(request, sent.link, sent.to),
            others={InvalidInput: refused},
        )

    @get("/links/{link_id:int}/created", media_type=MediaType.HTML)
    async def created(
        self, request: Request, principal: NamedDependency[Principal], link_id: FromPath[int]
    ) -> Template:
        """The new link's address and access code, once: a refresh or a second visit
        finds them gone (and creates nothing)."""
        link = await links.get_link(principal, link_id)
        once = (request.session or {}).get(SHOWN_ONCE) or {}
        shown = once.get("link_id") == link_id
        if shown:
            request.session.pop(SHOWN_ONCE, None)
        return _html(
            "pages/links/created.html",
            {
                "principal": principal,
                "link": link,
                "url": once.get("url") if shown else None,
                "access_code": once.get("access_code") if shown else None,
                "sent_to": once.get("sent_to") if shown else None,
                "participant_id": link.participant_id,
                "zone": await participant_zone(link.participant_id),
            },
        )

    @get("/programs/{program_id:int}/outbox")
    async def outbox(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        program_id: FromPath[int],
    ) -> Template:
        messages = await outbox.program_outbox(principal, settings, program_id)
        return Page(
            "pages/links/outbox.html",
            context={
                "principal": principal,
                "messages": messages,
                "smtp": bool(settings.smtp_host),
                "zone": await program_zone(program_id),
            },
            headers={"Cache-Control": "no-store"},
        )

    @post("/links/{link_id:int}/revoke", status_code=303)
    async def revoke(
        self, request: Request, principal: NamedDependency[Principal], link_id: FromPath[int]
    ) -> Redirect:
        view = await links.revoke_link(principal, link_id, origin_of(request))
        return Redirect(f"/participants/{view.participant_id}#links", status_code=303)


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
        try:
            grant = await links.resolve(token, _unlocked(request, settings, token))
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired as exc:
            return _code_page(token, exc.attempts_left, wrong=False)
        view = await links.officer_view(grant, origin_of(request))
        return Page(
            "pages/links/officer.html",
            context={"v": view, "token": token},
            media_type=MediaType.HTML,
        )

    @post("/{token:str}/code", status_code=303, media_type=MediaType.HTML)
    async def code(
        self,
        request: Request,
        settings: NamedDependency[Settings],
        token: FromPath[str],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template | Redirect:
        try:
            ok = await links.check_code(token, data.get("code", ""), origin_of(request))
            if not ok:
                await links.resolve(token)  # locked now? then 410
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired as exc:
            return _code_page(token, exc.attempts_left, wrong=True)
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
        try:
            grant = await links.resolve(token, _unlocked(request, settings, token))
            report, content = await links.download(grant, settings, report_id, origin_of(request))
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired as exc:
            # The code first; the link's page it leads to holds the download again.
            return _code_page(token, exc.attempts_left, wrong=False)
        name = f"{report['kind']}-{report['public_id']}-v{report['version']}.pdf"
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": attachment(name)},
        )


ROUTES = [LinksAPI, DeliveryAPI, LinkPages, OfficerPages]
