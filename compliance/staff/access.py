"""Who may see what: every record is reached through a participant or a program, and a
user reaches only those of their own programs. Anything else is "not found", so the
answer never reveals that a record exists in another program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.table import Table

from compliance.staff.accounts import Principal
from compliance.tables import Participant, Program


class NotFound(Exception):
    """No such record among those the user may see."""


def require_program(principal: Principal, program_id: int | None) -> int:
    if program_id is None or program_id not in principal.program_ids:
        raise NotFound("no such program")
    return program_id


def covered_programs(principal: Principal, program_id: int | None) -> list[int]:
    """The programs a listing covers: the one asked for if the principal has it, else
    all of theirs (sorted, so a cache can file what it made under them)."""
    if program_id:
        return [require_program(principal, program_id)]
    return sorted(principal.program_ids)


async def participant_row(principal: Principal, participant_id: int) -> dict[str, Any]:
    row = await Participant.select().where(Participant.id == participant_id).first()
    if row is None or row["program"] not in principal.program_ids:
        raise NotFound("no such participant")
    return row


async def participant_record(
    principal: Principal, table: type[Table], record_id: int, what: str
) -> dict[str, Any]:
    """A row of ``table`` (one with a ``participant`` column) if the principal may see
    its participant; a missing one and another program's alike are "no such ``what``"."""
    row = await table.select().where(table.id == record_id).first()
    if row is None:
        raise NotFound(f"no such {what}")
    await participant_row(principal, row["participant"])
    return row


async def program_record(
    principal: Principal, table: type[Table], record_id: int, what: str
) -> dict[str, Any]:
    """A row of ``table`` (one with a ``program`` column) if it is of the principal's
    programs; a missing one and another program's alike are "no such ``what``"."""
    row = await table.select().where(table.id == record_id).first()
    if row is None or row["program"] not in principal.program_ids:
        raise NotFound(f"no such {what}")
    return row


@dataclass(frozen=True)
class ParticipantAccess:
    """A participant this principal may see, with the row read when that was checked.
    A service checks once (``participant``) and hands this to the readers below it
    (``mandates_of``, ``attendance_of``, ``tests_of``, ``compliance_of``), which then
    neither check nor load the participant again."""

    principal: Principal
    person: dict[str, Any]

    @property
    def id(self) -> int:
        return int(self.person["id"])


async def participant(principal: Principal, participant_id: int) -> ParticipantAccess:
    return ParticipantAccess(principal, await participant_row(principal, participant_id))


def enrolled_on(participant: dict[str, Any], day: date) -> bool:
    """Was the participant enrolled (admitted, not yet discharged) on that day?"""
    return participant["admitted_on"] <= day and (
        participant["discharged_on"] is None or day <= participant["discharged_on"]
    )


async def program_options(principal: Principal) -> list[tuple[int, str]]:
    """The user's programs as (id, name), for a form's program choice."""
    rows = (
        await Program.select(Program.id, Program.name)
        .where(Program.id.is_in(sorted(principal.program_ids) or [0]))
        .order_by(Program.name)
    )
    return [(r["id"], r["name"]) for r in rows]


async def program_tz(program_id: int) -> ZoneInfo:
    """The program's time zone: days, weeks and times are the program's, on every page,
    report and import (UTC for a program that does not exist, so a page still renders)."""
    row = await Program.select(Program.time_zone).where(Program.id == program_id).first()
    return ZoneInfo(row["time_zone"] if row else "UTC")


async def program_today(program_id: int) -> date:
    """Today on the program's clock: the day a draw, a call or an assignment is for."""
    return datetime.now(await program_tz(program_id)).date()


async def program_zone(program_id: int) -> str:
    """``program_tz``'s name, for templates."""
    return (await program_tz(program_id)).key


async def participant_zone(participant_id: int) -> str:
    """The time zone of the participant's program (callers have checked access)."""
    row = (
        await Participant.select(Participant.program.time_zone)
        .where(Participant.id == participant_id)
        .first()
    )
    return row["program.time_zone"] if row else "UTC"
