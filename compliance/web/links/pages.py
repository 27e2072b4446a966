"""Secure links from staff pages: create one or e-mail a report's recipient one (the
address shown once, after the redirect), revoke it, and the program's outbox."""

from __future__ import annotations

from typing import Any

from litestar import Controller, MediaType, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template

from compliance.core.settings import Settings
from compliance.core.validation import Form, InvalidInput
from compliance.core.vocabulary import LinkScope
from compliance.disclosure import delivery, links, outbox
from compliance.disclosure.links import NewLink
from compliance.reporting import service as report_service
from compliance.staff.access import participant_row, participant_zone, program_zone
from compliance.staff.accounts import Principal
from compliance.web.common import once
from compliance.web.common.forms import submit
from compliance.web.common.page import Page
from compliance.web.common.principal import origin_of

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
    once.leave(
        request,
        SHOWN_ONCE,
        link_id=made.link.id,
        url=made.url,
        access_code=made.access_code,
        sent_to=sent_to,
    )
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
        shown = once.take(request, SHOWN_ONCE, link_id=link_id) or {}
        return _html(
            "pages/links/created.html",
            {
                "principal": principal,
                "link": link,
                "url": shown.get("url"),
                "access_code": shown.get("access_code"),
                "sent_to": shown.get("sent_to"),
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


ROUTES = [LinkPages]
