"""The call-in: a participant asks "do I test today?" with their participant number and
PIN, on a phone-friendly page or through the program's phone line (IVR), and hears
"test today at <site> by <time>" or "no test today", and nothing else: no name, no
result, no reason. Each answered check-in is recorded with its time.

The PIN is six random digits made by staff and shown once (argon2, like staff
passwords). Five wrong PINs in a row lock the participant's call-in for LOCKED_FOR; an
unknown number and a wrong PIN get the same answer, in the same time (a dummy argon2
check), so the page tells nobody which numbers exist. Before the call-in opens on the
program's clock the answer is when it opens: the day's calls are not shown earlier.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.core import db
from compliance.core.local_time import spoken
from compliance.random_testing import draws
from compliance.staff import access, accounts
from compliance.staff.accounts import Principal
from compliance.tables import CallInCheck, CallInPin, Participant, PhoneLineKey, Program

PIN_DIGITS = 6
MAX_FAILURES = 5
LOCKED_FOR = timedelta(minutes=30)
KEY_BYTES = 32


@dataclass(frozen=True)
class Answer:
    """``status``: test, no_test, not_open, refused (number or PIN wrong) or locked."""

    status: str
    message: str
    site: str = ""
    test_by: datetime | None = None


REFUSED = Answer("refused", "That participant number and PIN do not match. Try again.")
LOCKED = Answer(
    "locked",
    "Too many wrong PINs: the call-in is locked for 30 minutes. Call the program if you "
    "have been told to test.",
)


async def set_pin(principal: Principal, participant_id: int, origin: str = "") -> str:
    """A new PIN for the participant, replacing any earlier one and its lock; returned
    once, for staff to give to the participant."""
    await access.participant_row(principal, participant_id)
    pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
    pin_hash = accounts.hash_password(pin)
    async with db.transaction(touching=participant_id):
        await CallInPin.delete().where(CallInPin.participant == participant_id)
        await CallInPin(participant=participant_id, pin_hash=pin_hash, set_by=principal.id).save()
        await audit.record(
            "call_in.pin_set", principal.actor(origin), "participant", participant_id
        )
    return pin


async def check_in(
    program_code: str, number: str, pin: str, channel: str, now: datetime | None = None
) -> Answer:
    """The answer to one check-in. Only a right PIN reads the day's calls."""
    now = now or datetime.now(UTC)
    program = await Program.select().where(Program.code == program_code.strip()).first()
    person = (
        await Participant.select()
        .where((Participant.program == program["id"]) & (Participant.client_id == number.strip()))
        .first()
        if program is not None and number.strip()
        else None
    )
    row = (
        await CallInPin.select().where(CallInPin.participant == person["id"]).first()
        if person is not None
        else None
    )
    if row is None:  # the same time as a real check
        await asyncio.to_thread(accounts.verify_password, _dummy(), pin)
        return REFUSED
    if row["locked_until"] is not None and row["locked_until"] > now:
        return LOCKED
    if not await asyncio.to_thread(accounts.verify_password, row["pin_hash"], pin.strip()):
        return await _failed(row["participant"], now)
    await CallInPin.update({CallInPin.failed_attempts: 0}).where(CallInPin.id == row["id"])
    return await _answer(program, person, channel, now)


@cache
def _dummy() -> str:
    return accounts.dummy_hash()


async def _failed(participant_id: int, now: datetime) -> Answer:
    """Count a wrong PIN; the fifth in a row locks. Counted one at a time, so wrong PINs
    sent at once all count."""
    async with db.transaction(touching=participant_id):
        await db.serialize(f"call_in:{participant_id}")
        row = await CallInPin.select().where(CallInPin.participant == participant_id).first()
        failures = row["failed_attempts"] + 1
        locked = failures >= MAX_FAILURES
        await CallInPin.update(
            {
                CallInPin.failed_attempts: 0 if locked else failures,
                CallInPin.locked_until: now + LOCKED_FOR if locked else None,
            }
        ).where(CallInPin.id == row["id"])
        if locked:
            await audit.record("call_in.locked", audit.SYSTEM, "participant", participant_id)
    return LOCKED if locked else REFUSED


async def _answer(
    program: dict[str, Any], person: dict[str, Any], channel: str, now: datetime
) -> Answer:
    zone = await access.program_tz(program["id"])
    today = now.astimezone(zone).date()
    opens, _ = await draws.window_of(program["id"], today)
    if now < opens:
        return Answer("not_open", f"Today's calls are posted at {_clock(opens, zone, today)}.")
    view, _ = await draws.draw(program["id"], today, audit.SYSTEM, today=today)
    call = next((c for c in view.calls if c.participant_id == person["id"]), None)
    await CallInCheck(
        participant=person["id"], day=today, channel=channel, called=call is not None
    ).save()
    if call is None or not access.enrolled_on(person, today):
        return Answer("no_test", "No test today.")
    site = program["testing_site"] or program["name"]
    by = _clock(call.window_closes_at, zone, today)
    return Answer("test", f"Test today at {site} by {by}.", site, call.window_closes_at)


def _clock(moment: datetime, zone: ZoneInfo, today: date) -> str:
    """ "14:00 CST", or "Sun 7 Dec 2026 02:00 CST" when it falls on another day."""
    local = moment.astimezone(zone)
    if local.date() != today:
        return spoken(local)
    return f"{local:%H:%M %Z}"


# --- the phone line's credential ----------------------------------------------------


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def new_phone_line_key(program_id: int, label: str, actor: audit.Actor) -> str:
    """A key for the program's phone line, returned once; only its hash is kept."""
    key = secrets.token_urlsafe(KEY_BYTES)
    async with db.transaction():
        row = PhoneLineKey(program=program_id, key_hash=key_hash(key), label=label)
        await row.save()
        await audit.record("call_in.phone_key_made", actor, "phone_line_key", row.id)
    return key


async def phone_line_program(key: str) -> dict[str, Any] | None:
    """The program a phone line's key is for (None: unknown or revoked)."""
    row = (
        await PhoneLineKey.select(PhoneLineKey.program.code.as_alias("code"))
        .where((PhoneLineKey.key_hash == key_hash(key)) & PhoneLineKey.revoked_at.is_null())
        .first()
    )
    return row
