"""Participants through the JSON API: enrol, read, change details, discharge."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypedDict

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from compliance.core.vocabulary import DischargeReason, LevelOfCare
from compliance.records import participants
from compliance.records.participants import ParticipantView
from compliance.staff.accounts import Principal
from compliance.web.common.errors import documented
from compliance.web.common.principal import origin_of


@dataclass
class NewParticipant:
    program_id: int
    client_id: str
    first_name: str
    last_name: str
    admitted_on: date
    level_of_care: LevelOfCare = LevelOfCare.intensive_outpatient
    date_of_birth: date | None = None
    diagnosis: str = ""


class ParticipantChanges(TypedDict, total=False):
    client_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    level_of_care: LevelOfCare
    admitted_on: date
    diagnosis: str


@dataclass
class Discharge:
    discharged_on: date
    reason: DischargeReason
    note: str = ""


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enums as their values, and a ``None`` kept (not ``common.plain``): in a change,
    null clears a field, such as the date of birth."""
    return {
        k: (v.value if isinstance(v, LevelOfCare | DischargeReason) else v)
        for k, v in values.items()
    }


class ParticipantsAPI(Controller):
    path = "/api/participants"
    tags = ["participants"]

    @get(
        operation_id="listParticipants",
        responses=documented(401, 404),
        summary="Participants of your programs",
    )
    async def index(
        self,
        principal: NamedDependency[Principal],
        program_id: FromQuery[int | None] = None,
        active_only: FromQuery[bool] = False,
    ) -> list[ParticipantView]:
        return await participants.list_participants(principal, program_id, active_only)

    @post(
        operation_id="enrollParticipant",
        responses=documented(401, 403, 422),
        summary="Enroll a participant",
    )
    async def enroll(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        data: JSONBody[NewParticipant],
    ) -> ParticipantView:
        return await participants.enroll(principal, _plain(asdict(data)), origin_of(request))

    @get(
        "/{participant_id:int}",
        operation_id="getParticipant",
        responses=documented(401, 404),
        summary="One participant",
    )
    async def one(
        self, principal: NamedDependency[Principal], participant_id: FromPath[int]
    ) -> ParticipantView:
        return await participants.get_participant(principal, participant_id)

    @patch(
        "/{participant_id:int}",
        operation_id="editParticipant",
        responses=documented(401, 403, 404, 422),
        summary="Change details",
    )
    async def edit(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[ParticipantChanges],
    ) -> ParticipantView:
        return await participants.edit(
            principal, participant_id, _plain(dict(data)), origin_of(request)
        )

    @post(
        "/{participant_id:int}/discharge",
        operation_id="dischargeParticipant",
        responses=documented(401, 403, 404, 422),
        summary="Discharge with a reason",
        status_code=200,
    )
    async def discharge(
        self,
        request: Request,
        principal: NamedDependency[Principal],
        participant_id: FromPath[int],
        data: JSONBody[Discharge],
    ) -> ParticipantView:
        return await participants.discharge(
            principal, participant_id, _plain(asdict(data)), origin_of(request)
        )


ROUTES = [ParticipantsAPI]
