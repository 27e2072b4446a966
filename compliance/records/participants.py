"""Enrolling, editing and discharging participants. Pages and API both call these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from compliance import audit
from compliance.core import db
from compliance.core.rows import view_of
from compliance.core.validation import Errors, Form, InvalidInput
from compliance.core.vocabulary import DischargeReason, LevelOfCare
from compliance.engine import violations
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Participant, Program

EDITABLE = (
    "client_id",
    "first_name",
    "last_name",
    "date_of_birth",
    "level_of_care",
    "admitted_on",
    "diagnosis",
)


@dataclass
class ParticipantView:
    id: int
    program_id: int
    program_name: str
    client_id: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    level_of_care: str
    admitted_on: date
    discharged_on: date | None
    discharge_reason: str | None
    discharge_note: str
    diagnosis: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def active(self) -> bool:
        return self.discharged_on is None


async def _view(row: dict[str, Any]) -> ParticipantView:
    program = await Program.select(Program.name).where(Program.id == row["program"]).first()
    return to_view(row, program["name"] if program else "")


def to_view(row: dict[str, Any], program_name: str) -> ParticipantView:
    """A participant row (one the caller may show) as the pages and the API show it."""
    return view_of(ParticipantView, row, program_name=program_name)


async def list_participants(
    principal: Principal, program_id: int | None = None, active_only: bool = False
) -> list[ParticipantView]:
    programs = sorted(principal.program_ids)
    if program_id is not None:
        programs = [access.require_program(principal, program_id)]
    if not programs:
        return []
    query = Participant.select().where(Participant.program.is_in(programs))
    if active_only:
        query = query.where(Participant.discharged_on.is_null())
    rows = await query.order_by(Participant.last_name).order_by(Participant.first_name)
    names = {
        p["id"]: p["name"]
        for p in await Program.select(Program.id, Program.name).where(Program.id.is_in(programs))
    }
    return [to_view(r, names[r["program"]]) for r in rows]


async def get_participant(principal: Principal, participant_id: int) -> ParticipantView:
    return await _view(await access.participant_row(principal, participant_id))


def _read_fields(form: Form, partial: bool) -> dict[str, Any]:
    present = (lambda name: name in form.data) if partial else (lambda name: True)
    values: dict[str, Any] = {}
    if present("client_id"):
        values["client_id"] = form.text("client_id", max_length=64)
    if present("first_name"):
        values["first_name"] = form.text("first_name", max_length=100)
    if present("last_name"):
        values["last_name"] = form.text("last_name", max_length=100)
    if present("date_of_birth"):
        values["date_of_birth"] = form.date("date_of_birth", required=False)
    if present("level_of_care"):
        level = form.choice("level_of_care", LevelOfCare)
        values["level_of_care"] = level.value if level else None
    if present("admitted_on"):
        values["admitted_on"] = form.date("admitted_on")
    if present("diagnosis"):
        values["diagnosis"] = form.text("diagnosis", required=False, max_length=2000)
    return values


async def _client_id_free(program_id: int, client_id: str, errors: Errors, exclude: int = 0):
    taken = await Participant.exists().where(
        (Participant.program == program_id)
        & (Participant.client_id == client_id)
        & (Participant.id != exclude)
    )
    if taken:
        errors.add("client_id", f"{client_id!r} is already used in this program")


async def enroll(principal: Principal, data: Mapping[str, Any], origin: str) -> ParticipantView:
    form = Form(data)
    program_id = form.integer("program_id")
    if program_id is not None and program_id not in principal.program_ids:
        form.errors.add("program_id", "is not one of your programs")
    values = _read_fields(form, partial=False)
    form.errors.raise_if_any()
    async with db.transaction():
        await _client_id_free(program_id, values["client_id"], form.errors)  # type: ignore[arg-type]
        form.errors.raise_if_any()
        row = Participant(program=program_id, primary_clinician=principal.id, **values)
        await row.save()
        await audit.record("participant.create", principal.actor(origin), "participant", row.id)
    return await get_participant(principal, row.id)


async def edit(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> ParticipantView:
    current = await access.participant_row(principal, participant_id)
    form = Form(data)
    values = _read_fields(form, partial=True)
    form.errors.raise_if_any()
    changed = {k: v for k, v in values.items() if current[k] != v}
    if not changed:
        return await _view(current)
    async with db.transaction():
        if "client_id" in changed:
            await _client_id_free(
                current["program"], changed["client_id"], form.errors, exclude=participant_id
            )
            form.errors.raise_if_any()
        await Participant.update({**changed, "updated_at": datetime.now(UTC)}).where(
            Participant.id == participant_id
        )
        await audit.record(
            "participant.update",
            principal.actor(origin),
            "participant",
            participant_id,
            {"fields": sorted(changed)},
        )
    return await get_participant(principal, participant_id)


async def discharge(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> ParticipantView:
    current = await access.participant_row(principal, participant_id)
    form = Form(data)
    on = form.date("discharged_on")
    reason = form.choice("reason", DischargeReason)
    note = form.text("note", required=reason is DischargeReason.other, max_length=2000)
    if current["discharged_on"] is not None:
        form.errors.add("discharged_on", f"already discharged on {current['discharged_on']}")
    elif on is not None and on < current["admitted_on"]:
        form.errors.add("discharged_on", f"is before admission on {current['admitted_on']}")
    form.errors.raise_if_any()
    assert reason is not None
    async with db.transaction():
        await Participant.update(
            {
                Participant.discharged_on: on,
                Participant.discharge_reason: reason.value,
                Participant.discharge_note: note,
                Participant.updated_at: datetime.now(UTC),
            }
        ).where(Participant.id == participant_id)
        await violations.refresh([participant_id])  # nothing after the discharge week counts
        await audit.record(
            "participant.discharge",
            principal.actor(origin),
            "participant",
            participant_id,
            {"reason": reason.value},
        )
    return await get_participant(principal, participant_id)


__all__ = [
    "InvalidInput",
    "ParticipantView",
    "discharge",
    "edit",
    "enroll",
    "get_participant",
    "list_participants",
    "to_view",
]
