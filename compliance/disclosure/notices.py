"""Violation notices: when the engine records a new violation and a court recipient's
consent covers it, that recipient gets one e-mail (no health information, a link to
the status page) within the program's notice window; never twice for one violation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from compliance import audit
from compliance.consent import consents as consent_records
from compliance.consent.gate import decide
from compliance.core import db
from compliance.core.settings import Settings
from compliance.core.vocabulary import DisclosureKind, ReportKind
from compliance.disclosure import links
from compliance.engine import violations
from compliance.tables import Participant, Program, Recipient, Violation

COURT_KINDS = ("probation_officer", "court")


def _covers(decision: Any, kind: str) -> bool:
    return decision.allowed and violations.category_of(kind) in decision.categories


async def send_violation_notices(settings: Settings, now: datetime | None = None) -> int:
    """Queue one notice per new violation per covering court recipient; returns how many.

    Only violations learnt of within the program's notice window are sent (so turning
    notices on does not e-mail a program's whole history). Claiming a violation, its
    links, e-mails and disclosure records commit together: a failure leaves it to the
    next run, never marked as notified without a notice."""
    now = now or datetime.now(UTC)
    pending = (
        await Violation.select(
            Violation.all_columns(), Violation.participant.program.notice_window_hours
        )
        .where(Violation.notified_at.is_null() & Violation.withdrawn_at.is_null())
        .order_by(Violation.id)
        .limit(500)
    )
    queued = 0
    for v in pending:
        window = timedelta(hours=v["participant.program.notice_window_hours"])
        if v["known_at"] < now - window:
            continue
        async with db.transaction():
            claimed = (
                await Violation.update({Violation.notified_at: now})
                .where((Violation.id == v["id"]) & Violation.notified_at.is_null())
                .returning(Violation.id)
            )
            if claimed:
                queued += await _notify(settings, v)
    return queued


async def _notify(settings: Settings, v: dict[str, Any]) -> int:
    person = await Participant.select().where(Participant.id == v["participant"]).first()
    program = await Program.select().where(Program.id == person["program"]).first()
    today = datetime.now(ZoneInfo(program["time_zone"])).date()
    consents = await consent_records.for_decision(person["id"])
    recipients = await Recipient.select().where(
        (Recipient.program == program["id"])
        & Recipient.kind.is_in(list(COURT_KINDS))
        & Recipient.active.eq(True)
    )
    sent = 0
    for recipient in recipients:
        decision = decide(ReportKind.court_progress, recipient, consents, today)
        if not recipient["email"] or not _covers(decision, v["kind"]):
            continue

        async def write_email(made: links.NewLink, recipient: dict[str, Any] = recipient) -> None:
            await links.email_link(
                settings,
                made,
                person,
                recipient,
                subject=f"Compliance update from {program['name']}",
                body=(
                    f"{program['name']} has recorded a new compliance event for a client "
                    "you supervise.\n\n"
                    f"See the current status here: {made.url}\n"
                    f"The link works until {made.link.expires_at:%d %b %Y}.\n\n"
                    "This message holds no health information; the page is protected by "
                    "Federal confidentiality rules (42 CFR part 2)."
                ),
                kind=DisclosureKind.notice_sent,
                description=(
                    f"notice of a new compliance event (violation #{v['id']}) e-mailed to "
                    f"{recipient['email']} with secure link #{made.link.id}"
                ),
            )

        await links.issue_link(
            settings,
            person,
            recipient,
            None,
            links.DEFAULT_DAYS,
            False,
            audit.SYSTEM,
            None,
            after=write_email,
        )
        sent += 1
    return sent
