"""Secure links through the JSON API: staff create and revoke them, and e-mail a report's
recipient a link to it; the program's outbox says what was sent."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from compliance.core.settings import Settings
from compliance.core.vocabulary import LinkScope
from compliance.disclosure import delivery, links, outbox
from compliance.disclosure.delivery import SentReport
from compliance.disclosure.links import LinkView, NewLink
from compliance.disclosure.outbox import OutboxView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.principal import origin_of


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


ROUTES = [LinksAPI, DeliveryAPI]
