"""Referrals through the JSON API: mandates with their phases, recipients, and consents
(with revocation and the signed document)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from compliance.consent import consents
from compliance.consent.consents import DOCUMENT_TYPES, ConsentView, RecipientView
from compliance.core.settings import Settings
from compliance.core.vocabulary import (
    ConsentPurpose,
    InformationCategory,
    RecipientKind,
    ReferralSource,
)
from compliance.records import mandates
from compliance.records.mandates import MandateView
from compliance.staff.accounts import Principal
from compliance.web.common.downloads import file_download
from compliance.web.common.errors import documented
from compliance.web.common.openapi_types import json_body_named, served_as
from compliance.web.common.plain import plain
from compliance.web.common.principal import origin_of
from compliance.web.common.storage import consent_documents


@dataclass
class NewPhase:
    name: str
    required_hours_per_week: Decimal
    required_tests_per_week: int
    sessions_per_week: dict[str, int] = field(default_factory=dict)  # e.g. {"group": 3}
    started_on: date | None = None


@dataclass
class NewMandate:
    source: ReferralSource
    starts_on: date
    phases: list[NewPhase]
    case_number: str = ""
    court_name: str = ""
    referring_agency: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    ends_on: date | None = None
    notes: str = ""


@dataclass
class PhaseStart:
    started_on: date


@dataclass
class NewRecipient:
    program_id: int
    kind: RecipientKind
    name: str
    title: str = ""
    organisation: str = ""
    email: str = ""
    phone: str = ""


@dataclass
class NewConsent:
    recipient_id: int
    information_categories: list[InformationCategory]
    information_description: str
    purposes: list[ConsentPurpose]
    revocation_instructions: str
    signed_by_name: str
    signed_on: date
    mandate_id: int | None = None
    disclosing_party: str = ""
    purpose_description: str = ""
    is_criminal_justice: bool = False
    for_court_proceedings: bool = False
    expires_on: date | None = None
    expiry_event: str = ""
    revocable_after: date | None = None
    irrevocable_until_event: str = ""
    signer_relationship: str = "self"


@dataclass
class Revocation:
    note: str
    irrevocable_event_has_occurred: bool = False


@dataclass
class ConsentDocument:
    document: UploadFile


class MandatesAPI(Controller):
    path = "/api"
    tags = ["mandates"]

    @get(
        "/participants/{participant_id:int}/mandates",
        operation_id="listMandates",
        responses=documented(401, 404),
        summary="A participant's mandates with their phases",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[MandateView]:
        return await mandates.participant_mandates(principal, participant_id)

    @post(
        "/participants/{participant_id:int}/mandates",
        operation_id="createMandate",
        responses=documented(401, 403, 404, 422),
        summary="Record a court, probation, EAP or DOT SAP mandate and its phases",
    )
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[NewMandate],
    ) -> MandateView:
        return await mandates.create_mandate(
            principal, participant_id, plain(data), origin_of(request)
        )

    @post(
        "/mandates/{mandate_id:int}/phases/{sequence:int}/start",
        operation_id="startPhase",
        responses=documented(401, 403, 404, 422),
        summary="Step the participant into a phase",
        status_code=200,
    )
    async def start_phase(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        mandate_id: FromPath[int],
        sequence: FromPath[int],
        data: JSONBody[PhaseStart],
    ) -> MandateView:
        return await mandates.start_phase(
            principal, mandate_id, sequence, plain(data), origin_of(request)
        )


class RecipientsAPI(Controller):
    path = "/api/recipients"
    tags = ["consents"]

    @get(
        operation_id="listRecipients",
        responses=documented(401, 404),
        summary="People and organisations reports may go to",
    )
    async def index(
        self, principal: NamedDependency[Principal], program_id: FromQuery[int | None] = None
    ) -> list[RecipientView]:
        return await consents.list_recipients(principal, program_id)

    @post(
        operation_id="createRecipient",
        responses=documented(401, 403, 422),
        summary="Add a recipient",
    )
    async def create(
        self, request: Request, principal: NamedDependency[Principal], data: JSONBody[NewRecipient]
    ) -> RecipientView:
        return await consents.create_recipient(principal, plain(data), origin_of(request))


class ConsentsAPI(Controller):
    path = "/api"
    tags = ["consents"]

    @get(
        "/participants/{participant_id:int}/consents",
        operation_id="listConsents",
        responses=documented(401, 404),
        summary="A participant's consents with their state",
    )
    async def for_participant(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> list[ConsentView]:
        return await consents.participant_consents(principal, participant_id)

    @post(
        "/participants/{participant_id:int}/consents",
        operation_id="createConsent",
        responses=documented(401, 403, 404, 422),
        summary="Record a signed 42 CFR §2.31 consent",
    )
    async def create(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[NewConsent],
    ) -> ConsentView:
        return await consents.create_consent(
            principal, participant_id, plain(data), origin_of(request)
        )

    @get(
        "/consents/{consent_id:int}",
        operation_id="getConsent",
        responses=documented(401, 404),
        summary="One consent",
    )
    async def one(
        self, principal: NamedDependency[Principal], consent_id: FromPath[int]
    ) -> ConsentView:
        return await consents.get_consent(principal, consent_id)

    @post(
        "/consents/{consent_id:int}/revoke",
        operation_id="revokeConsent",
        responses=documented(401, 403, 404, 422),
        summary="Revoke (refused for a §2.35 consent before its date or event)",
        status_code=200,
    )
    async def revoke(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        consent_id: FromPath[int],
        data: Annotated[Revocation, json_body_named("mandates_consents_api_Revocation")],
    ) -> ConsentView:
        return await consents.revoke_consent(principal, consent_id, plain(data), origin_of(request))

    @put(
        "/consents/{consent_id:int}/document",
        operation_id="attachConsentDocument",
        responses=documented(401, 403, 404, 413, 422),
        summary="Attach the signed consent (PDF, PNG or JPEG, up to 10 MB)",
    )
    async def attach(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        consent_id: FromPath[int],
        data: MultipartBody[ConsentDocument],
    ) -> ConsentView:
        content = await data.document.read()
        return await consents.attach_document(
            principal,
            consent_id,
            data.document.filename,
            content,
            consent_documents(settings),
            origin_of(request),
        )

    @get(
        "/consents/{consent_id:int}/document",
        operation_id="getConsentDocument",
        responses=documented(401, 404),
        summary="Download the signed consent",
        media_type="application/octet-stream",
        operation_class=served_as(*DOCUMENT_TYPES.values()),  # as it was uploaded
    )
    async def download(
        self,
        principal: NamedDependency[Principal],
        settings: NamedDependency[Settings],
        consent_id: FromPath[int],
    ) -> Response[bytes]:
        content, media_type, filename = await consents.document(
            principal, consent_id, consent_documents(settings)
        )
        return file_download(content, media_type, filename)


ROUTES = [MandatesAPI, RecipientsAPI, ConsentsAPI]
