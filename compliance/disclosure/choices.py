"""Which recipients a participant's valid consents cover, and for which reports: what
the report and link forms offer, so nobody picks a recipient the gate would refuse.

The consent gate (``consent.gate.decide``) stays the authority: each choice here is its
answer for that recipient and kind today, and every form is decided again when it is
posted (a consent may expire or be revoked in between)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from compliance.consent import consents as consent_records
from compliance.consent.gate import decide
from compliance.core.vocabulary import RecipientKind, ReportKind
from compliance.disclosure.links import VIEW_KIND
from compliance.staff import access
from compliance.staff.accounts import Principal
from compliance.tables import Program, Recipient

REPORT_KINDS = (
    ReportKind.court_progress,
    ReportKind.eap_status,
    ReportKind.sap_followup,
    ReportKind.discharge_letter,
)


@dataclass
class Choice:
    recipient_id: int
    label: str  # "Dana Whitfield (Sangamon County Adult Probation)"
    kinds: list[str]  # the reports their consent allows
    link: bool  # a standing secure link to the client's status


@dataclass
class Choices:
    recipients: list[Choice] = field(default_factory=list)
    # Recipients a consent names that it no longer covers, each with why.
    refused: list[str] = field(default_factory=list)

    @property
    def report(self) -> list[Choice]:
        return [c for c in self.recipients if c.kinds]

    @property
    def link(self) -> list[Choice]:
        return [c for c in self.recipients if c.link]

    @property
    def kinds(self) -> list[str]:
        offered = {k for c in self.recipients for k in c.kinds}
        return [k.value for k in REPORT_KINDS if k in offered]

    @property
    def preferred_kind(self) -> str:
        """The first recipient's own kind of report (a SAP's follow-up report, an EAP's
        status report) when their consent allows it."""
        first = self.report[0] if self.report else None
        if first is None:
            return ""
        return first.kinds[0]


def _label(recipient: Mapping[str, Any]) -> str:
    org = recipient["organisation"]
    return recipient["name"] + (f" ({org})" if org else "")


def _offered(kind: str, recipient: Mapping[str, Any], person: Mapping[str, Any]) -> bool:
    """Kinds that need more than a consent: a DOT follow-up report goes only to a SAP
    (49 CFR 40.311), a discharge letter only after the discharge."""
    if kind == ReportKind.sap_followup:
        return recipient["kind"] == RecipientKind.sap
    if kind == ReportKind.discharge_letter:
        return person["discharged_on"] is not None
    return True


def choose(
    person: Mapping[str, Any],
    recipients: Sequence[Mapping[str, Any]],
    consents: Sequence[Mapping[str, Any]],
    today: date,
) -> Choices:
    """Pure: the choices among the program's active ``recipients``."""
    out = Choices()
    named = {c["recipient"] for c in consents}
    for r in recipients:
        own = VIEW_KIND.get(r["kind"], ReportKind.court_progress)
        kinds = [
            k.value
            for k in REPORT_KINDS
            if _offered(k, r, person) and decide(k, r, consents, today).allowed
        ]
        kinds.sort(key=lambda k: k != own)  # their own kind of report first
        view = decide(own, r, consents, today)
        if kinds or view.allowed:
            out.recipients.append(Choice(r["id"], _label(r), kinds, view.allowed))
        elif r["id"] in named:
            out.refused.append(f"{_label(r)}: {'; '.join(view.missing)}")
    return out


async def disclosure_choices(principal: Principal, participant_id: int) -> Choices:
    person = await access.participant_row(principal, participant_id)
    program = await Program.select(Program.time_zone).where(Program.id == person["program"]).first()
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    consents = await consent_records.for_decision(participant_id)
    recipients = (
        await Recipient.select()
        .where((Recipient.program == person["program"]) & Recipient.active.eq(True))
        .order_by(Recipient.name)
    )
    return choose(person, recipients, consents, today)
