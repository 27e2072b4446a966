"""Secure links: staff create and revoke them (API and forms); officers open them at
``/l/{token}`` with no account. Link responses are never cached, indexed, framed or
referred, and are rate limited per client and per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.access import participant_zone, program_zone
from compliance.accounts import Principal
from compliance.disclosure import accounting, delivery, links, outbox
from compliance.disclosure.accounting import Accounting
from compliance.disclosure.delivery import SentReport
from compliance.disclosure.links import LinkView, NewLink
from compliance.disclosure.outbox import OutboxView
from compliance.reporting import service as report_service
from compliance.reporting.pdf import render_plain
from compliance.settings import Settings
from compliance.validation import Form
from compliance.vocabulary import LinkScope
from compliance.web.auth import origin_of
from compliance.web.errors import documented
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


def _settings(request: Request) -> Settings:
    return request.app.state.settings


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
        participant_id: FromPath[int],
        data: JSONBody[LinkRequest],
    ) -> NewLink:
        return await links.create_link(
            principal,
            _settings(request),
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
        report_id: FromPath[int],
        data: JSONBody[SendRequest],
    ) -> SentReport:
        return await delivery.send_report(
            principal, _settings(request), report_id, data.access_code, origin_of(request)
        )

    @get(
        "/programs/{program_id:int}/outbox",
        operation_id="programOutbox",
        responses=documented(401, 404),
        summary="The program's outgoing e-mail, newest first, with delivery state",
    )
    async def outbox(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> list[OutboxView]:
        return await outbox.program_outbox(principal, _settings(request), program_id)


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'


class AccountingAPI(Controller):
    path = "/api"
    tags = ["disclosures"]

    @get(
        "/participants/{participant_id:int}/disclosures",
        operation_id="accountingOfDisclosures",
        responses=documented(401, 404),
        summary="Every disclosure of the past 3 years: when, to whom, what, why, on which consent",
    )
    async def disclosures(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Accounting:
        return await accounting.accounting(principal, participant_id, origin_of(request))


class AccountingPages(Controller):
    include_in_schema = False

    @get("/participants/{participant_id:int}/disclosures")
    async def page(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Template:
        account = await accounting.accounting(principal, participant_id, origin_of(request))
        return Template(
            "pages/links/disclosures.html",
            context={
                "principal": principal,
                "a": account,
                "participant_id": participant_id,
                "zone": await participant_zone(participant_id),
            },
        )

    @get("/participants/{participant_id:int}/disclosures.csv", media_type="text/csv")
    async def csv(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Response[str]:
        account = await accounting.accounting(principal, participant_id, origin_of(request))
        return Response(
            accounting.to_csv(account),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": _attachment(f"disclosures-{account.client_id}.csv"),
                "Cache-Control": "no-store",
            },
        )

    @get("/participants/{participant_id:int}/disclosures.pdf", media_type="application/pdf")
    async def pdf(
        self, request: Request, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> Response[bytes]:
        account = await accounting.accounting(principal, participant_id, origin_of(request))
        content = await report_service.pool().run(
            render_plain,
            "disclosure_accounting.html",
            {"a": account},
            time_limit=report_service.RENDER_TIME_LIMIT_S,
        )
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": _attachment(f"disclosures-{account.client_id}.pdf"),
                "Cache-Control": "no-store",
            },
        )


class LinkPages(Controller):
    include_in_schema = False

    @post("/participants/{participant_id:int}/links", status_code=200)
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template:
        form = Form(data)
        recipient = form.integer("recipient_id", minimum=1)
        days = form.integer("days", required=False, minimum=1, maximum=links.MAX_DAYS)
        report = form.integer("report_id", required=False, minimum=1)
        form.errors.raise_if_any()
        assert recipient is not None
        made = await links.create_link(
            principal,
            _settings(request),
            participant_id,
            recipient,
            LinkScope.report if report else LinkScope.participant,
            report,
            days or links.DEFAULT_DAYS,
            data.get("access_code") == "true",
            origin_of(request),
        )
        return Template(
            "pages/links/created.html",
            context={
                "principal": principal,
                "made": made,
                "participant_id": participant_id,
                "zone": await participant_zone(participant_id),
            },
            headers={"Cache-Control": "no-store"},
        )

    @post("/reports/{report_id:int}/send", status_code=200)
    async def send(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        report_id: FromPath[int],
        data: URLEncodedBody[dict[str, str]],
    ) -> Template:
        sent = await delivery.send_report(
            principal,
            _settings(request),
            report_id,
            data.get("access_code") == "true",
            origin_of(request),
        )
        return Template(
            "pages/links/created.html",
            context={
                "principal": principal,
                "made": sent.link,
                "sent_to": sent.to,
                "participant_id": sent.link.link.participant_id,
                "zone": await participant_zone(sent.link.link.participant_id),
            },
            headers={"Cache-Control": "no-store"},
        )

    @get("/programs/{program_id:int}/outbox")
    async def outbox(
        self, request: Request, principal: NamedDependency[Principal], program_id: FromPath[int]
    ) -> Template:
        messages = await outbox.program_outbox(principal, _settings(request), program_id)
        return Template(
            "pages/links/outbox.html",
            context={
                "principal": principal,
                "messages": messages,
                "smtp": bool(_settings(request).smtp_host),
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


def _unlocked(request: Request, token: str) -> bool:
    mark = request.cookies.get(UNLOCK_COOKIE, "")
    secret = _settings(request).secret_key
    return bool(mark) and links.unlocked(secret, links.token_hash(token), mark)


def _mark(request: Request, token: str) -> str:
    return links.unlock_mark(_settings(request).secret_key, links.token_hash(token))


def _gone_page(exc: links.LinkGone) -> Template:
    return Template(
        "pages/links/gone.html",
        context={"gone": exc},
        status_code=410,
    )


def _not_found() -> Template:
    return Template(
        "pages/error.html",
        context={"title": "Not a valid link", "message": "Check the address you were sent."},
        status_code=404,
    )


class OfficerPages(Controller):
    """No account: the token is the key. GET changes nothing a scanner could trigger
    beyond the record of the disclosure itself."""

    path = "/l"
    include_in_schema = False
    guards = [link_rate_limit]
    response_headers = LINK_HEADERS

    @get("/{token:str}")
    async def open(self, request: Request, token: FromPath[str]) -> Template:
        try:
            grant = await links.resolve(token, _unlocked(request, token))
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired as exc:
            return Template(
                "pages/links/code.html",
                context={"token": token, "attempts_left": exc.attempts_left, "wrong": False},
            )
        view = await links.officer_view(grant, origin_of(request))
        return Template("pages/links/officer.html", context={"v": view, "token": token})

    @post("/{token:str}/code", status_code=303)
    async def code(
        self, request: Request, token: FromPath[str], data: URLEncodedBody[dict[str, str]]
    ) -> Any:
        try:
            ok = await links.check_code(token, data.get("code", ""), origin_of(request))
            if not ok:
                await links.resolve(token)  # locked now? then 410
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired as exc:
            return Template(
                "pages/links/code.html",
                context={"token": token, "attempts_left": exc.attempts_left, "wrong": True},
                status_code=401,
            )
        redirect = Redirect(f"/l/{token}", status_code=303)
        redirect.cookies.append(
            Cookie(
                key=UNLOCK_COOKIE,
                value=_mark(request, token),
                path="/l/",
                max_age=links.UNLOCK_SECONDS,
                httponly=True,
                samesite="strict",
                secure=_settings(request).base_url.startswith("https://"),
            )
        )
        return redirect

    @get("/{token:str}/reports/{report_id:int}/pdf", media_type="application/pdf")
    async def pdf(self, request: Request, token: FromPath[str], report_id: FromPath[int]) -> Any:
        try:
            grant = await links.resolve(token, _unlocked(request, token))
            report, content = await links.download(
                grant, _settings(request), report_id, origin_of(request)
            )
        except links.LinkNotFound:
            return _not_found()
        except links.LinkGone as exc:
            return _gone_page(exc)
        except links.CodeRequired:
            return Redirect(f"/l/{token}", status_code=303)
        name = f"{report['kind']}-{report['public_id']}-v{report['version']}.pdf"
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


ROUTES = [LinksAPI, DeliveryAPI, AccountingAPI, AccountingPages, LinkPages, OfficerPages]
