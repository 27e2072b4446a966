"""Mandates (court, probation, EAP, DOT SAP referrals) and their phases' weekly
requirements, which the compliance engine measures attendance and testing against.

Phase 1 starts with the mandate unless told otherwise: the engine judges a week only
against a started phase, so a mandate with no started phase judged nothing. Later
phases start when the client steps down (``start_phase``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from compliance import audit
from compliance.consent import consents
from compliance.core import db
from compliance.core.rows import view_of
from compliance.core.validation import Errors, Form
from compliance.core.vocabulary import RecipientKind, ReferralSource, SessionType
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Mandate, MandatePhase, PhaseSessionRequirement

NEEDS_CASE_NUMBER = (ReferralSource.court, ReferralSource.probation)
# Who the mandate's contact is, as a recipient of reports.
CONTACT_KIND = {
    ReferralSource.court: RecipientKind.probation_officer,
    ReferralSource.probation: RecipientKind.probation_officer,
    ReferralSource.eap: RecipientKind.eap_case_manager,
    ReferralSource.dot_sap: RecipientKind.sap,
    ReferralSource.other: RecipientKind.other,
}


@dataclass
class PhaseView:
    id: int
    sequence: int
    name: str
    required_hours_per_week: Decimal
    required_tests_per_week: int
    sessions_per_week: dict[str, int]
    started_on: date | None
    ended_on: date | None


@dataclass
class MandateView:
    id: int
    participant_id: int
    source: str
    case_number: str
    court_name: str
    referring_agency: str
    contact_name: str
    contact_email: str
    contact_phone: str
    starts_on: date
    ends_on: date | None
    notes: str
    phases: list[PhaseView] = field(default_factory=list)


def _hours(form: Form, name: str, raw: Any) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        form.errors.add(name, "is required")
        return None
    try:
        value = Decimal(str(raw))
    except Exception:
        form.errors.add(name, f"{raw!r} is not a number of hours")
        return None
    if not value.is_finite() or not 0 <= value <= 40:
        form.errors.add(name, "must be between 0 and 40 hours")
        return None
    return value


def _read_phases(form: Form, raw_phases: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_phases, Sequence) or not raw_phases:
        form.errors.add("phases", "list at least one phase")
        return []
    phases = []
    for n, raw in enumerate(raw_phases):
        sub = Form(raw if isinstance(raw, Mapping) else {}, Errors())
        name = sub.text("name", max_length=100)
        hours = _hours(sub, "required_hours_per_week", sub.data.get("required_hours_per_week", 0))
        tests = sub.integer("required_tests_per_week", minimum=0, maximum=14)
        started = sub.date("started_on", required=False)
        sessions: dict[str, int] = {}
        raw_sessions = sub.data.get("sessions_per_week") or {}
        for key, count in raw_sessions.items() if isinstance(raw_sessions, Mapping) else []:
            try:
                kind = SessionType(key)
            except ValueError:
                sub.errors.add(f"sessions_per_week.{key}", "is not a session type")
                continue
            where = f"sessions_per_week.{kind.value}"
            number = Form({where: count}, sub.errors).integer(where, minimum=0, maximum=14)
            if number:
                sessions[kind.value] = number
        form.errors.add_under(f"phases[{n}]", sub.errors)
        phases.append(
            {
                "name": name,
                "hours": hours,
                "tests": tests,
                "sessions": sessions,
                "started_on": started,
            }
        )
    return phases


async def create_mandate(
    principal: Principal, participant_id: int, data: Mapping[str, Any], origin: str
) -> MandateView:
    person = await access.participant_row(principal, participant_id)
    form = Form(data)
    source = form.choice("source", ReferralSource)
    values = {
        "case_number": form.text(
            "case_number", required=source in NEEDS_CASE_NUMBER, max_length=80
        ),
        "court_name": form.text("court_name", required=source is ReferralSource.court),
        "referring_agency": form.text("referring_agency", required=False),
        "contact_name": form.text("contact_name", required=False),
        "contact_email": form.text("contact_email", required=False, max_length=254),
        "contact_phone": form.text("contact_phone", required=False, max_length=40),
        "starts_on": form.date("starts_on", not_future=False),
        "ends_on": form.date("ends_on", required=False, not_future=False),
        "notes": form.text("notes", required=False, max_length=4000),
    }
    if values["ends_on"] and values["starts_on"] and values["ends_on"] < values["starts_on"]:
        form.errors.add("ends_on", "is before the start")
    phases = _read_phases(form, data.get("phases"))
    if phases and phases[0]["started_on"] is None:
        phases[0]["started_on"] = values["starts_on"]
    for n, phase in enumerate(phases):
        if (
            phase["started_on"]
            and values["starts_on"]
            and phase["started_on"] < values["starts_on"]
        ):
            form.errors.add(f"phases[{n}].started_on", "is before the mandate starts")
    contact = _contact_recipient(form, source, values)
    form.errors.raise_if_any()
    assert source is not None
    async with db.transaction():
        mandate = Mandate(
            participant=person["id"], source=source.value, created_by=principal.id, **values
        )
        await mandate.save()
        detail: dict[str, Any] = {"source": source.value, "phases": len(phases)}
        if contact is not None:
            detail["recipient"], detail["recipient_added"] = await consents.add_or_reuse_recipient(
                principal, person["program"], contact, origin
            )
        for seq, phase in enumerate(phases, start=1):
            row = MandatePhase(
                mandate=mandate.id,
                sequence=seq,
                name=phase["name"],
                required_hours_per_week=phase["hours"],
                required_tests_per_week=phase["tests"],
                started_on=phase["started_on"],
            )
            await row.save()
            if phase["sessions"]:
                await PhaseSessionRequirement.insert(
                    *[
                        PhaseSessionRequirement(phase=row.id, session_type=k, sessions_per_week=v)
                        for k, v in phase["sessions"].items()
                    ]
                )
        await audit.record("mandate.create", principal.actor(origin), "mandate", mandate.id, detail)
    return await get_mandate(principal, mandate.id)


def _contact_recipient(
    form: Form, source: ReferralSource | None, values: Mapping[str, Any]
) -> dict[str, str] | None:
    """The contact as a recipient's fields when ``add_contact_as_recipient`` asks for it:
    the officer named on the order is not typed again on the recipients page."""
    if not form.boolean("add_contact_as_recipient") or source is None:
        return None
    name, email, phone = values["contact_name"], values["contact_email"], values["contact_phone"]
    if not name:
        form.errors.add("contact_name", "is required to add the contact as a recipient")
    if email and "@" not in email:
        form.errors.add("contact_email", "is not an e-mail address")
    if not email and not phone:
        form.errors.add(
            "contact_email", "give an e-mail address or a phone number to add them as a recipient"
        )
    return {
        "kind": CONTACT_KIND[source].value,
        "name": name,
        "organisation": values["referring_agency"] or values["court_name"],
        "email": email,
        "phone": phone,
    }


async def contact_recipient(program_id: int, mandate: MandateView) -> dict[str, Any] | None:
    """The recipient who is the mandate's contact, when there is one."""
    return await consents.matching_recipient(
        program_id, mandate.contact_name, mandate.contact_email, mandate.contact_phone
    )


async def _mandate_row(principal: Principal, mandate_id: int) -> dict[str, Any]:
    return await access.participant_record(principal, Mandate, mandate_id, "mandate")


async def _views(rows: list[dict[str, Any]]) -> list[MandateView]:
    ids = [r["id"] for r in rows] or [0]
    phases = (
        await MandatePhase.select()
        .where(MandatePhase.mandate.is_in(ids))
        .order_by(MandatePhase.sequence)
    )
    reqs = await PhaseSessionRequirement.select().where(
        PhaseSessionRequirement.phase.is_in([p["id"] for p in phases] or [0])
    )
    per_phase: dict[int, dict[str, int]] = {}
    for r in reqs:
        per_phase.setdefault(r["phase"], {})[r["session_type"]] = r["sessions_per_week"]
    by_mandate: dict[int, list[PhaseView]] = {}
    for p in phases:
        by_mandate.setdefault(p["mandate"], []).append(
            view_of(PhaseView, p, sessions_per_week=per_phase.get(p["id"], {}))
        )
    return [view_of(MandateView, r, phases=by_mandate.get(r["id"], [])) for r in rows]


async def get_mandate(principal: Principal, mandate_id: int) -> MandateView:
    return (await _views([await _mandate_row(principal, mandate_id)]))[0]


async def participant_mandates(principal: Principal, participant_id: int) -> list[MandateView]:
    return await mandates_of(await access.participant(principal, participant_id))


async def mandates_of(allowed: access.ParticipantAccess) -> list[MandateView]:
    rows = (
        await Mandate.select().where(Mandate.participant == allowed.id).order_by(Mandate.starts_on)
    )
    return await _views(rows)


async def start_phase(
    principal: Principal, mandate_id: int, sequence: int, data: Mapping[str, Any], origin: str
) -> MandateView:
    """Step the client into phase ``sequence`` on a date; the previous phase ends the day before."""
    mandate = await _mandate_row(principal, mandate_id)
    form = Form(data)
    on = form.date("started_on", not_future=False)
    phases = (
        await MandatePhase.select()
        .where(MandatePhase.mandate == mandate_id)
        .order_by(MandatePhase.sequence)
    )
    target = next((p for p in phases if p["sequence"] == sequence), None)
    if target is None:
        raise access.NotFound("no such phase")
    earlier = [p for p in phases if p["sequence"] < sequence and p["started_on"]]
    if on and on < mandate["starts_on"]:
        form.errors.add("started_on", "is before the mandate starts")
    if on and earlier and on <= earlier[-1]["started_on"]:
        form.errors.add("started_on", f"must be after phase {earlier[-1]['sequence']} started")
    form.errors.raise_if_any()
    async with db.transaction():
        await MandatePhase.update({MandatePhase.started_on: on, MandatePhase.ended_on: None}).where(
            MandatePhase.id == target["id"]
        )
        if earlier:
            await MandatePhase.update({MandatePhase.ended_on: on - timedelta(days=1)}).where(  # type: ignore[operator]
                MandatePhase.id == earlier[-1]["id"]
            )
        await audit.record(
            "mandate.phase_start",
            principal.actor(origin),
            "mandate",
            mandate_id,
            {"sequence": sequence},
        )
    return await get_mandate(principal, mandate_id)
